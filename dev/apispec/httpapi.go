package apispec

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
)

// httpAPI is the one HTTP API the local server emulates, with
// Globals.HttpApi merged in.
type httpAPI struct {
	// name is the logical id; empty for SAM's implicit API.
	name string
	auth *serverless.HttpApi_HttpApiAuth
	cors *serverless.HttpApi_CorsConfiguration
}

// selectHTTPAPI picks the template's AWS::Serverless::HttpApi. A template
// without one uses SAM's implicit API, configured by Globals.HttpApi alone.
func selectHTTPAPI(tmpl *cloudformation.Template) (httpAPI, error) {
	var api httpAPI
	apis := tmpl.GetAllServerlessHttpApiResources()
	switch len(apis) {
	case 0:
	case 1:
		for name, a := range apis {
			api = httpAPI{name: name, auth: a.Auth, cors: a.CorsConfiguration}
		}
	default:
		return api, fmt.Errorf("the template has %d AWS::Serverless::HttpApi resources; the local API serves one", len(apis))
	}
	if g, err := tmpl.GetServerlessGlobalHttpApi(); err == nil {
		if api.auth == nil {
			api.auth = g.Auth
		}
		if api.cors == nil {
			api.cors = g.CorsConfiguration
		}
	}
	return api, nil
}

// authorizerSpec is the part of a SAM HttpApi Lambda authorizer that the
// local API honours.
type authorizerSpec struct {
	FunctionArn                    any
	AuthorizerPayloadFormatVersion any
	EnableSimpleResponses          any
	JwtConfiguration               any
	Identity                       *struct {
		Headers          []string
		QueryStrings     []string
		Context          []string
		StageVariables   []string
		ReauthorizeEvery any
	}
}

// defaultAuthorizerTTL is API Gateway's authorizerResultTtlInSeconds when
// an authorizer with an identity source does not set one.
const defaultAuthorizerTTL = 300

// readAuth reads the API's Lambda authorizers and its default one.
func readAuth(auth *serverless.HttpApi_HttpApiAuth, fns map[string]*Function) (map[string]*Authorizer, *Authorizer, error) {
	out := map[string]*Authorizer{}
	if auth == nil {
		return out, nil, nil
	}
	raw, err := json.Marshal(auth.Authorizers)
	if err != nil {
		return nil, nil, err
	}
	var specs map[string]authorizerSpec
	if err := json.Unmarshal(raw, &specs); err != nil {
		return nil, nil, fmt.Errorf("HttpApi Auth.Authorizers: %w", err)
	}
	for name, spec := range specs {
		a, err := newAuthorizer(name, spec, fns)
		if err != nil {
			return nil, nil, fmt.Errorf("authorizer %s: %w", name, err)
		}
		out[name] = a
	}
	var def *Authorizer
	if auth.DefaultAuthorizer != nil && *auth.DefaultAuthorizer != "" {
		if def = out[*auth.DefaultAuthorizer]; def == nil {
			return nil, nil, fmt.Errorf("DefaultAuthorizer %s is not among the API's Lambda authorizers", *auth.DefaultAuthorizer)
		}
	}
	return out, def, nil
}

// authorizerFunction is the logical id of the function of fns that arn
// names ("LogicalId.Arn", or an ARN ending in :function:NAME where NAME is
// the function's FunctionName), or "" when it names none.
func authorizerFunction(arn string, fns map[string]*Function) string {
	if id, attr, ok := strings.Cut(arn, "."); ok && attr == "Arn" && fns[id] != nil {
		return id
	}
	_, name, ok := strings.Cut(arn, ":function:")
	if !ok || name == "" {
		return ""
	}
	for id, f := range fns {
		if f.LambdaName == name {
			return id
		}
	}
	return ""
}

func newAuthorizer(name string, spec authorizerSpec, fns map[string]*Function) (*Authorizer, error) {
	if spec.JwtConfiguration != nil {
		return nil, fmt.Errorf("JWT authorizers are not emulated; only Lambda authorizers are")
	}
	arn, _ := spec.FunctionArn.(string)
	fn := authorizerFunction(arn, fns)
	if fn == "" {
		return nil, fmt.Errorf("FunctionArn must be !GetAtt <a function of this template>.Arn, or the ARN of a function of this template by its FunctionName")
	}
	if v := scalar(spec.AuthorizerPayloadFormatVersion); v != "2.0" && v != "2" {
		return nil, fmt.Errorf("AuthorizerPayloadFormatVersion %q is not emulated; use \"2.0\"", v)
	}
	simple, err := parseBool(spec.EnableSimpleResponses)
	if err != nil {
		return nil, fmt.Errorf("EnableSimpleResponses: %w", err)
	}
	a := &Authorizer{Name: name, Function: fn, SimpleResponses: simple}
	if id := spec.Identity; id != nil {
		for _, h := range id.Headers {
			a.IdentitySources = append(a.IdentitySources, "$request.header."+h)
		}
		for _, q := range id.QueryStrings {
			a.IdentitySources = append(a.IdentitySources, "$request.querystring."+q)
		}
		for _, c := range id.Context {
			a.IdentitySources = append(a.IdentitySources, "$context."+c)
		}
		for _, s := range id.StageVariables {
			a.IdentitySources = append(a.IdentitySources, "$stageVariables."+s)
		}
		// Without ReauthorizeEvery SAM sets no TTL, and API Gateway's
		// authorizerResultTtlInSeconds then takes its default, 300; an
		// explicit 0 turns caching off.
		ttl, err := parseInt(id.ReauthorizeEvery, defaultAuthorizerTTL)
		if err != nil || ttl < 0 || ttl > 3600 {
			return nil, fmt.Errorf("Identity.ReauthorizeEvery must be a number of seconds from 0 to 3600")
		}
		a.TTL = time.Duration(ttl) * time.Second
	}
	return a, nil
}

// readCORS reads CorsConfiguration; true allows every origin, as in SAM.
func readCORS(c *serverless.HttpApi_CorsConfiguration) (*CORS, error) {
	if c == nil {
		return nil, nil
	}
	if c.Boolean != nil {
		if !*c.Boolean {
			return nil, nil
		}
		return &CORS{AllowOrigins: []string{"*"}, MaxAge: -1}, nil
	}
	o := c.CorsConfigurationObject
	if o == nil {
		return nil, fmt.Errorf("CorsConfiguration must be true or an object")
	}
	cors := &CORS{
		AllowOrigins:  o.AllowOrigins,
		AllowMethods:  o.AllowMethods,
		AllowHeaders:  o.AllowHeaders,
		ExposeHeaders: o.ExposeHeaders,
		MaxAge:        -1,
	}
	if o.AllowCredentials != nil {
		cors.AllowCredentials = *o.AllowCredentials
	}
	if o.MaxAge != nil {
		cors.MaxAge = *o.MaxAge
	}
	for _, origin := range cors.AllowOrigins {
		if origin == "*" && cors.AllowCredentials {
			// API Gateway refuses this combination when the API is deployed.
			return nil, fmt.Errorf("CorsConfiguration: AllowCredentials cannot be used with AllowOrigins \"*\"")
		}
	}
	return cors, nil
}

// pathPattern is a route path: segments that are literal or {name}, with an
// optional greedy {name+} at the end.
var pathPattern = regexp.MustCompile(`^(/([^/{}]+|\{[A-Za-z0-9._-]+\}))*(/\{[A-Za-z0-9._-]+\+\})?/?$`)

// readRoutes lists the HttpApi events of one function that belong to the API.
func readRoutes(name string, fn *serverless.Function, apiName string, authorizers map[string]*Authorizer, def *Authorizer) ([]Route, error) {
	var routes []Route
	for _, event := range sortedKeys(fn.Events) {
		src := fn.Events[event]
		if src.Type != "HttpApi" {
			continue
		}
		ev := &serverless.Function_HttpApiEvent{}
		if src.Properties != nil && src.Properties.HttpApiEvent != nil {
			ev = src.Properties.HttpApiEvent
		}
		if ev.ApiId != nil && *ev.ApiId != apiName {
			return nil, fmt.Errorf("%s event %s: ApiId %q is not the template's HttpApi", name, event, *ev.ApiId)
		}
		if ev.PayloadFormatVersion != nil && *ev.PayloadFormatVersion != "2.0" {
			return nil, fmt.Errorf("%s event %s: PayloadFormatVersion %q is not emulated; use \"2.0\"", name, event, *ev.PayloadFormatVersion)
		}
		r := Route{Function: name, Authorizer: def}
		switch {
		case ev.Path == nil && ev.Method == nil:
			r.Path = DefaultRoute
		case ev.Path == nil || ev.Method == nil:
			return nil, fmt.Errorf("%s event %s: an HttpApi event needs both Path and Method, or neither for $default", name, event)
		default:
			r.Method = strings.ToUpper(*ev.Method)
			r.Path = *ev.Path
			if r.Method == "X-AMAZON-APIGATEWAY-ANY-METHOD" || r.Method == "*" {
				r.Method = "ANY"
			}
			if r.Path != DefaultRoute && !pathPattern.MatchString(r.Path) {
				return nil, fmt.Errorf("%s event %s: %q is not a route path (segments are literal, {name}, or a final {name+})", name, event, r.Path)
			}
		}
		if ev.Auth != nil && ev.Auth.Authorizer != nil {
			switch a := *ev.Auth.Authorizer; a {
			case "NONE":
				r.Authorizer = nil
			default:
				if r.Authorizer = authorizers[a]; r.Authorizer == nil {
					return nil, fmt.Errorf("%s event %s: authorizer %s is not defined on the API", name, event, a)
				}
			}
		}
		routes = append(routes, r)
	}
	return routes, nil
}

// checkDuplicates refuses two integrations for one route key, as API Gateway
// does.
func checkDuplicates(routes []Route) error {
	seen := map[string]string{}
	for _, r := range routes {
		if other, ok := seen[r.Key()]; ok {
			return fmt.Errorf("route %s is defined by both %s and %s", r.Key(), other, r.Function)
		}
		seen[r.Key()] = r.Function
	}
	return nil
}

// scalar renders a resolved YAML scalar as text.
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func parseBool(v any) (bool, error) {
	if v == nil {
		return false, nil
	}
	return strconv.ParseBool(scalar(v))
}

func parseInt(v any, def int) (int, error) {
	if v == nil {
		return def, nil
	}
	return strconv.Atoi(scalar(v))
}
