package gateway

import (
	"encoding/base64"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Identifiers the local API reports in request contexts, shaped like AWS's.
const (
	AccountID = "123456789012"
	APIID     = "devapi"
	Region    = "us-east-1"
	stage     = "$default"
)

// requestTimeLayout is the format of requestContext.time.
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// NewHTTPEvent builds the payload format 2.0 event for a request that
// matched m. body is the request body, already read.
func NewHTTPEvent(r *http.Request, body []byte, m Match, requestID string, now time.Time) events.APIGatewayV2HTTPRequest {
	routeKey := m.Route.Key()
	headers, cookies := eventHeaders(r)
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: queryParameters(r.URL.RawQuery),
		PathParameters:        m.Params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    AccountID,
			Stage:        stage,
			RequestID:    requestID,
			APIID:        APIID,
			DomainName:   hostOnly(r.Host),
			DomainPrefix: strings.SplitN(hostOnly(r.Host), ".", 2)[0],
			Time:         now.UTC().Format(requestTimeLayout),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP(r),
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type")) && utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// NewAuthorizerEvent builds the payload format 2.0 authorizer event for a
// route event: the request without its body, plus the identity source values
// and the route's ARN.
func NewAuthorizerEvent(ev events.APIGatewayV2HTTPRequest, identity []string) events.APIGatewayV2CustomAuthorizerV2Request {
	return events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               "2.0",
		Type:                  "REQUEST",
		RouteArn:              RouteARN(ev),
		IdentitySource:        identity,
		RouteKey:              ev.RouteKey,
		RawPath:               ev.RawPath,
		RawQueryString:        ev.RawQueryString,
		Cookies:               ev.Cookies,
		Headers:               ev.Headers,
		QueryStringParameters: ev.QueryStringParameters,
		RequestContext:        ev.RequestContext,
		PathParameters:        ev.PathParameters,
		StageVariables:        ev.StageVariables,
	}
}

// RouteARN is the execute-api ARN of the request:
// arn:aws:execute-api:region:account:api/stage/METHOD/path.
func RouteARN(ev events.APIGatewayV2HTTPRequest) string {
	return "arn:aws:execute-api:" + Region + ":" + AccountID + ":" + APIID + "/" + stage + "/" +
		ev.RequestContext.HTTP.Method + ev.RawPath
}

// eventHeaders lower-cases header names and joins repeated headers with
// commas; Cookie headers become the cookies list instead, as in format 2.0.
// Host, which Go keeps apart, is put back, and the X-Forwarded-* headers that
// API Gateway adds are set.
func eventHeaders(r *http.Request) (map[string]string, []string) {
	headers := map[string]string{}
	var cookies []string
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if lower == "cookie" {
			for _, v := range values {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lower] = strings.Join(values, ",")
	}
	headers["host"] = r.Host
	headers["x-forwarded-for"] = sourceIP(r)
	headers["x-forwarded-proto"] = "http"
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		headers["x-forwarded-port"] = port
	} else {
		headers["x-forwarded-port"] = "80"
	}
	return headers, cookies
}

// queryParameters decodes the query string, joining repeated names with
// commas; nil when there are none. Pairs that do not decode are skipped.
func queryParameters(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	params := map[string][]string{}
	var order []string
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			continue
		}
		if _, seen := params[key]; !seen {
			order = append(order, key)
		}
		params[key] = append(params[key], value)
	}
	if len(order) == 0 {
		return nil
	}
	out := make(map[string]string, len(order))
	for _, k := range order {
		out[k] = strings.Join(params[k], ",")
	}
	return out
}

// isText reports whether a body of this content type travels as text. AWS
// does not document the list for HTTP APIs; in practice text/*, JSON, XML and
// JavaScript bodies arrive as text and everything else base64-encoded.
func isText(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	if strings.HasPrefix(mediaType, "text/") {
		return true
	}
	for _, suffix := range []string{"/json", "+json", "/xml", "+xml", "/javascript"} {
		if strings.HasSuffix(mediaType, suffix) {
			return true
		}
	}
	return false
}

func sourceIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func hostOnly(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return hostport
}

// authorizerContext delivers a Lambda authorizer's context to the route, as
// requestContext.authorizer.lambda.
func authorizerContext(ctx map[string]any) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
	return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: ctx}
}
