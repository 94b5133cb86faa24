// Package apispec reads the HTTP API that template.yaml describes: its routes,
// its Lambda authorizer, its CORS configuration and the settings of each
// function (environment, timeout, memory).
//
// The template is the only list of routes: the local API serves exactly what
// `sam deploy` would create. Intrinsic functions are resolved the way a
// deployment without parameter overrides would see them: Ref to a parameter
// gives its default (a CommaDelimitedList becomes a list), Ref to a resource
// gives its logical id, and Fn::GetAtt gives "LogicalId.Attribute", so that an
// authorizer's FunctionArn names the function that implements it. A FunctionArn
// may also be an Fn::Sub ARN ending in :function:NAME, naming the function
// whose FunctionName is the same Fn::Sub of NAME (pseudo parameters resolve to
// goformation's placeholder values on both sides).
package apispec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/global"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"

	"clerk-lambda/internal/functions"
)

// Lambda's own defaults, used when neither the function nor Globals.Function
// sets a value.
const (
	defaultTimeout  = 3 * time.Second
	defaultMemoryMB = 128
)

// API is the HTTP API of one template.
type API struct {
	// Routes in template order; the router decides precedence.
	Routes []Route
	// CORS is nil when the API has no CorsConfiguration.
	CORS *CORS
	// Functions by logical id: every AWS::Serverless::Function, routed or not.
	Functions map[string]*Function
}

// Route is one route of the API and what serves it.
type Route struct {
	// Method is upper case, or "ANY"; empty for the $default route.
	Method string
	// Path is the route's resource path, such as /admin/users/{id}, or
	// "$default".
	Path string
	// Function is the logical id of the integration's function.
	Function string
	// Authorizer guards the route; nil means none (Auth: Authorizer: NONE, or
	// no default authorizer).
	Authorizer *Authorizer
}

// Key is the route key as API Gateway reports it: "GET /public" or "$default".
func (r Route) Key() string {
	if r.Path == DefaultRoute {
		return DefaultRoute
	}
	return r.Method + " " + r.Path
}

// DefaultRoute is the path and key of the catch-all route.
const DefaultRoute = "$default"

// Authorizer is a Lambda authorizer of the API.
type Authorizer struct {
	Name string
	// Function is the logical id of the authorizer's function.
	Function string
	// IdentitySources are selection expressions such as
	// $request.header.Authorization, in template order.
	IdentitySources []string
	// TTL is how long a result is cached per identity; 0 disables caching.
	TTL time.Duration
	// SimpleResponses is EnableSimpleResponses: the function answers
	// {"isAuthorized": bool, "context": {...}} instead of an IAM policy.
	SimpleResponses bool
}

// CORS is the API's CorsConfiguration.
type CORS struct {
	AllowOrigins     []string
	AllowMethods     []string
	AllowHeaders     []string
	ExposeHeaders    []string
	AllowCredentials bool
	// MaxAge in seconds; negative when not configured.
	MaxAge int
}

// Function is one Lambda function with Globals.Function merged in.
type Function struct {
	// Name is the logical id, such as PublicFunction.
	Name string
	// LambdaName is the resolved FunctionName, empty when the template leaves
	// the name to CloudFormation.
	LambdaName string
	// Dir is the Go package that builds the function, relative to the
	// template's folder, such as functions/public: its Metadata.Package
	// (see internal/functions).
	Dir string
	// Env is Globals.Function.Environment merged with the function's own.
	Env      map[string]string
	Timeout  time.Duration
	MemoryMB int
}

// Load reads and resolves the template at file.
func Load(file string) (*API, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	api, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return api, nil
}

// Parse resolves a template given as YAML (or JSON, which is YAML).
func Parse(data []byte) (*API, error) {
	tmpl, err := parseTemplate(data)
	if err != nil {
		return nil, err
	}
	packages, err := functions.Parse(data)
	if err != nil {
		return nil, err
	}
	api := &API{Functions: map[string]*Function{}}
	globalFn, _ := tmpl.GetServerlessGlobalFunction()
	fns := tmpl.GetAllServerlessFunctionResources()
	for _, name := range sortedKeys(fns) {
		pkg, _ := functions.Find(packages, name)
		api.Functions[name] = newFunction(name, pkg.Dir(), fns[name], globalFn)
	}
	httpAPI, err := selectHTTPAPI(tmpl)
	if err != nil {
		return nil, err
	}
	authorizers, defaultAuth, err := readAuth(httpAPI.auth, api.Functions)
	if err != nil {
		return nil, err
	}
	if api.CORS, err = readCORS(httpAPI.cors); err != nil {
		return nil, err
	}
	for _, name := range sortedKeys(fns) {
		routes, err := readRoutes(name, fns[name], httpAPI.name, authorizers, defaultAuth)
		if err != nil {
			return nil, err
		}
		api.Routes = append(api.Routes, routes...)
	}
	if err := checkDuplicates(api.Routes); err != nil {
		return nil, err
	}
	return api, nil
}

// parseTemplate resolves intrinsics with the handlers described in the
// package comment, keeps only what the local API reads (see prepare), and
// lets goformation decode the result.
func parseTemplate(data []byte) (*cloudformation.Template, error) {
	processing.Lock()
	resolved, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{
		EvaluateConditions: true,
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref":        resolveRef,
			"Fn::GetAtt": resolveGetAtt,
			"Fn::Sub":    resolveSub,
		},
	})
	processing.Unlock()
	if err != nil {
		return nil, fmt.Errorf("not a valid template: %w", err)
	}
	prepared, err := prepare(resolved)
	if err != nil {
		return nil, err
	}
	tmpl, err := goformation.ParseJSONWithOptions(prepared, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("not a valid template: %w", err)
	}
	return tmpl, nil
}

// processing serialises intrinsics.ProcessYAML, which registers its YAML
// tag handlers in a package-level map on every call.
var processing sync.Mutex

// resolveRef gives a parameter's default, a resource's logical id, or one of
// goformation's pseudo-parameter values.
func resolveRef(name string, input any, template any) any {
	id, ok := input.(string)
	if !ok {
		return nil
	}
	root, _ := template.(map[string]any)
	if params, ok := root["Parameters"].(map[string]any); ok {
		if p, ok := params[id].(map[string]any); ok {
			return parameterDefault(p)
		}
	}
	if resources, ok := root["Resources"].(map[string]any); ok {
		if _, ok := resources[id]; ok {
			return id
		}
	}
	return intrinsics.Ref(name, input, template)
}

// parameterDefault is a parameter's Default, split into a list for the list
// types as CloudFormation does.
func parameterDefault(p map[string]any) any {
	def, ok := p["Default"]
	if !ok {
		return nil
	}
	typ, _ := p["Type"].(string)
	s, isString := def.(string)
	if !isString || (typ != "CommaDelimitedList" && !strings.HasPrefix(typ, "List<")) {
		return def
	}
	var list []any
	for _, item := range strings.Split(s, ",") {
		list = append(list, strings.TrimSpace(item))
	}
	return list
}

// resolveGetAtt gives "LogicalId.Attribute" for both the list and the dotted
// forms of Fn::GetAtt.
func resolveGetAtt(_ string, input any, _ any) any {
	switch v := input.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, p := range v {
			s, ok := p.(string)
			if !ok {
				return nil
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ".")
	}
	return nil
}

// resolveSub resolves an Fn::Sub as goformation does, except that one
// naming a resource's attribute (${LogicalId.Attribute}, known only once the
// stack is deployed) resolves to nothing rather than to the string without
// it: locally, "https://${SiteDistribution.DomainName}" is no origin at all,
// not "https://".
func resolveSub(name string, input any, template any) any {
	if s, ok := input.(string); ok && attributeVariable.MatchString(s) {
		return nil
	}
	return intrinsics.FnSub(name, input, template)
}

// attributeVariable matches a ${LogicalId.Attribute} of Fn::Sub.
var attributeVariable = regexp.MustCompile(`\$\{[0-9A-Za-z]+\.[.0-9A-Za-z]+\}`)

// known lists the properties goformation decodes for the types the local
// API reads. goformation refuses properties it does not know, and SAM keeps
// adding some (LoggingConfig, for one) that the local API has no use for.
var known = map[string]map[string]bool{
	"AWS::Serverless::Function": jsonFields(serverless.Function{}),
	"AWS::Serverless::HttpApi":  jsonFields(serverless.HttpApi{}),
	"Function":                  jsonFields(global.Function{}),
	"HttpApi":                   jsonFields(global.HttpApi{}),
}

// prepare keeps the functions and HTTP APIs of a resolved template, and
// their globals, without the properties goformation does not know, and
// turns environment values into strings (CloudFormation accepts numbers and
// booleans there; goformation's types do not). A variable that resolved to
// nothing (an intrinsic that cannot be resolved locally) is dropped.
func prepare(resolved []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(resolved))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("not a valid template: %w", err)
	}
	var kept []map[string]any
	if resources, ok := root["Resources"].(map[string]any); ok {
		for name, r := range resources {
			res, _ := r.(map[string]any)
			typ, _ := res["Type"].(string)
			if known[typ] == nil {
				delete(resources, name)
				continue
			}
			props, _ := res["Properties"].(map[string]any)
			kept = append(kept, prune(props, known[typ]))
		}
	}
	if globals, ok := root["Globals"].(map[string]any); ok {
		for name, g := range globals {
			props, _ := g.(map[string]any)
			if known[name] == nil || props == nil {
				delete(globals, name)
				continue
			}
			kept = append(kept, prune(props, known[name]))
		}
	}
	for _, props := range kept {
		env, _ := props["Environment"].(map[string]any)
		if vars, ok := env["Variables"].(map[string]any); ok {
			stringifyValues(vars)
		}
	}
	return json.Marshal(root)
}

func prune(props map[string]any, fields map[string]bool) map[string]any {
	for k := range props {
		if !fields[k] {
			delete(props, k)
		}
	}
	return props
}

func stringifyValues(vars map[string]any) {
	for k, v := range vars {
		switch val := v.(type) {
		case string:
		case json.Number:
			vars[k] = val.String()
		case bool:
			vars[k] = strconv.FormatBool(val)
		default:
			delete(vars, k)
		}
	}
}

// jsonFields lists the JSON names of a struct's fields.
func jsonFields(v any) map[string]bool {
	fields := map[string]bool{}
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = true
		}
	}
	return fields
}

func newFunction(name, dir string, fn *serverless.Function, globals *global.Function) *Function {
	f := &Function{
		Name:     name,
		Dir:      dir,
		Env:      map[string]string{},
		Timeout:  defaultTimeout,
		MemoryMB: defaultMemoryMB,
	}
	if fn.FunctionName != nil {
		f.LambdaName = *fn.FunctionName
	}
	if globals != nil {
		if globals.Environment != nil {
			for k, v := range globals.Environment.Variables {
				f.Env[k] = v
			}
		}
		if globals.Timeout != nil {
			f.Timeout = time.Duration(*globals.Timeout) * time.Second
		}
		if globals.MemorySize != nil {
			f.MemoryMB = *globals.MemorySize
		}
	}
	if fn.Environment != nil {
		for k, v := range fn.Environment.Variables {
			f.Env[k] = v
		}
	}
	if fn.Timeout != nil {
		f.Timeout = time.Duration(*fn.Timeout) * time.Second
	}
	if fn.MemorySize != nil {
		f.MemoryMB = *fn.MemorySize
	}
	return f
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
