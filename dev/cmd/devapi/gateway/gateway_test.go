package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/dev/apispec"
	"clerk-lambda/dev/cmd/devapi/gateway/gatewaytest"
)

// fakeInvoker runs Go functions in place of Lambda functions and counts calls.
type fakeInvoker struct {
	mu    sync.Mutex
	calls map[string]int
	fns   map[string]func(ctx context.Context, payload []byte) ([]byte, error)
}

func (f *fakeInvoker) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	f.mu.Lock()
	f.calls[name]++
	fn := f.fns[name]
	f.mu.Unlock()
	return fn(ctx, payload)
}

func (f *fakeInvoker) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

// clock is a settable time source.
type clock struct{ now atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *clock) advance(d time.Duration) { c.now.Add(int64(d)) }

type fixture struct {
	server  *httptest.Server
	invoker *fakeInvoker
	clock   *clock
	logs    chan Entry
}

func newFixture(t *testing.T, ttl time.Duration) *fixture {
	t.Helper()
	auth := &apispec.Authorizer{Name: "Clerk", Function: "Auth", IdentitySources: []string{"$request.header.Authorization"}, TTL: ttl, SimpleResponses: true}
	api := &apispec.API{
		Routes: []apispec.Route{
			{Method: "GET", Path: "/public", Function: "Echo"},
			{Method: "GET", Path: "/private", Function: "Echo", Authorizer: auth},
			{Method: "GET", Path: "/admin/users/{id}", Function: "Echo", Authorizer: auth},
			{Method: "GET", Path: "/fail", Function: "Fail"},
			{Method: "GET", Path: "/slow", Function: "Slow"},
			{Method: "GET", Path: "/garbage", Function: "Garbage"},
		},
		CORS: &apispec.CORS{
			AllowOrigins: []string{"http://localhost:5173"}, AllowMethods: []string{"GET", "OPTIONS"},
			AllowHeaders: []string{"Authorization"}, ExposeHeaders: []string{"Apigw-Requestid"}, MaxAge: 300,
		},
	}
	inv := &fakeInvoker{calls: map[string]int{}, fns: map[string]func(context.Context, []byte) ([]byte, error){
		"Echo": func(_ context.Context, p []byte) ([]byte, error) {
			return json.Marshal(map[string]any{"statusCode": 200, "body": string(p),
				"headers": map[string]string{"Access-Control-Allow-Origin": "*", "Content-Type": "application/json"}})
		},
		"Fail": func(context.Context, []byte) ([]byte, error) { return nil, errors.New("function error: boom") },
		"Slow": func(ctx context.Context, _ []byte) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
		"Garbage": func(context.Context, []byte) ([]byte, error) { return []byte(`{"statusCode":"x"}`), nil },
		"Auth": func(_ context.Context, p []byte) ([]byte, error) {
			var ev events.APIGatewayV2CustomAuthorizerV2Request
			if err := json.Unmarshal(p, &ev); err != nil {
				return nil, err
			}
			switch ev.IdentitySource[0] {
			case "Bearer good", "Bearer other":
				return []byte(`{"isAuthorized":true,"context":{"userId":"user_1","exp":1700000000}}`), nil
			case "Bearer bad":
				return []byte(`{"isAuthorized":false}`), nil
			case "Bearer junk":
				return []byte(`{"allowed":true}`), nil
			}
			return nil, errors.New("function error: crashed")
		},
	}}
	f := &fixture{invoker: inv, clock: &clock{}, logs: make(chan Entry, 100)}
	f.clock.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	gw := New(Config{API: api, Invoker: inv, IntegrationTimeout: 50 * time.Millisecond, Now: f.clock.Now,
		Log: func(e Entry) { f.logs <- e }})
	f.server = httptest.NewServer(gw)
	t.Cleanup(f.server.Close)
	return f
}

// do calls the gateway under test at path.
func (f *fixture) do(t *testing.T, method, path string, header map[string]string) (*http.Response, string) {
	t.Helper()
	return gatewaytest.Call(t, method, f.server.URL+path, header)
}

func TestGatewayAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	tests := []struct {
		name, path, auth string
		status           int
		body             string
		authCalls        int
	}{
		{"public", "/public", "", 200, `"routeKey":"GET /public"`, 0},
		{"no token", "/private", "", 401, `{"message":"Unauthorized"}`, 0},
		{"denied", "/private", "Bearer bad", 403, `{"message":"Forbidden"}`, 1},
		{"authorizer error", "/private", "Bearer crash", 500, `{"message":"Internal Server Error"}`, 1},
		{"authorizer malformed answer", "/private", "Bearer junk", 500, `{"message":"Internal Server Error"}`, 1},
		{"allowed", "/admin/users/user_9", "Bearer good", 200, `"pathParameters":{"id":"user_9"}`, 1},
		{"function error", "/fail", "", 500, `{"message":"Internal Server Error"}`, 0},
		{"malformed answer", "/garbage", "", 500, `{"message":"Internal Server Error"}`, 0},
		{"integration timeout", "/slow", "", 503, `{"message":"Service Unavailable"}`, 0},
		{"no route", "/nowhere", "", 404, `{"message":"Not Found"}`, 0},
	}
	for _, tc := range tests {
		before := f.invoker.count("Auth")
		header := map[string]string{}
		if tc.auth != "" {
			header["Authorization"] = tc.auth
		}
		resp, body := f.do(t, "GET", tc.path, header)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %s, want %d containing %s", tc.name, resp.StatusCode, body, tc.status, tc.body)
		}
		if got := f.invoker.count("Auth") - before; got != tc.authCalls {
			t.Errorf("%s: authorizer called %d times, want %d", tc.name, got, tc.authCalls)
		}
		if resp.Header.Get("Apigw-Requestid") == "" {
			t.Errorf("%s: no Apigw-Requestid header", tc.name)
		}
		e := <-f.logs
		if e.Status != tc.status || strings.Contains(e.String(), "Bearer") {
			t.Errorf("%s: log line %q", tc.name, e)
		}
	}
}

func TestAuthorizerContextReachesFunction(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	_, body := f.do(t, "GET", "/private", map[string]string{"Authorization": "Bearer good"})
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.Lambda["userId"] != "user_1" {
		t.Errorf("requestContext.authorizer = %+v, want the authorizer's context under lambda", ev.RequestContext.Authorizer)
	}
}

func TestAuthorizerCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t, time.Minute)
	get := func(token string) int {
		resp, _ := f.do(t, "GET", "/private", map[string]string{"Authorization": token})
		<-f.logs
		return resp.StatusCode
	}
	steps := []struct {
		token    string
		advance  time.Duration
		status   int
		calls    int
		cacheLog string
	}{
		{"Bearer good", 0, 200, 1, "allow"},
		{"Bearer good", 30 * time.Second, 200, 1, "allow (cached)"}, // within the TTL: not called again
		{"Bearer other", 0, 200, 2, "allow"},                        // another identity: its own entry
		{"Bearer bad", 0, 403, 3, "deny"},
		{"Bearer bad", 0, 403, 3, "deny (cached)"},         // denials are cached too
		{"Bearer good", 31 * time.Second, 200, 4, "allow"}, // past the TTL: called again
	}
	for i, s := range steps {
		f.clock.advance(s.advance)
		if got := get(s.token); got != s.status {
			t.Errorf("step %d: status %d, want %d", i, got, s.status)
		}
		if got := f.invoker.count("Auth"); got != s.calls {
			t.Errorf("step %d: authorizer called %d times in all, want %d", i, got, s.calls)
		}
	}
}

func TestAuthorizerWithoutCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	for range 3 {
		f.do(t, "GET", "/private", map[string]string{"Authorization": "Bearer good"})
		<-f.logs
	}
	if got := f.invoker.count("Auth"); got != 3 {
		t.Errorf("authorizer called %d times, want 3 with a TTL of 0", got)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	const origin = "http://localhost:5173"
	preflight := map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
	resp, _ := f.do(t, "OPTIONS", "/private", preflight)
	<-f.logs
	want := map[string]string{
		"Access-Control-Allow-Origin":  origin,
		"Access-Control-Allow-Methods": "GET,OPTIONS",
		"Access-Control-Allow-Headers": "authorization",
		"Access-Control-Max-Age":       "300",
		"Vary":                         "Origin",
	}
	if resp.StatusCode != 204 {
		t.Errorf("preflight status %d, want 204", resp.StatusCode)
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}
	if n := f.invoker.count("Auth") + f.invoker.count("Echo"); n != 0 {
		t.Errorf("preflight called %d functions, want none", n)
	}

	preflight["Origin"] = "https://evil.example"
	resp, _ = f.do(t, "OPTIONS", "/private", preflight)
	<-f.logs
	for k := range resp.Header {
		if isCORSHeader(k) {
			t.Errorf("preflight from a disallowed origin has %s", k)
		}
	}

	for _, c := range []struct {
		path, auth string
		status     int
	}{{"/private", "", 401}, {"/private", "Bearer bad", 403}, {"/public", "", 200}} {
		h := map[string]string{"Origin": origin}
		if c.auth != "" {
			h["Authorization"] = c.auth
		}
		resp, _ := f.do(t, "GET", c.path, h)
		<-f.logs
		if resp.StatusCode != c.status || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
			resp.Header.Get("Access-Control-Expose-Headers") != "apigw-requestid" || resp.Header.Get("Vary") != "Origin" {
			t.Errorf("GET %s (%d) headers %v, want the API's CORS headers", c.path, resp.StatusCode, resp.Header)
		}
	}

	// The function's own CORS header is replaced, and nothing is sent to an
	// origin that is not allowed.
	resp, _ = f.do(t, "GET", "/public", map[string]string{"Origin": "https://evil.example"})
	<-f.logs
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("disallowed origin got Access-Control-Allow-Origin %q", v)
	}
}

func TestAllowOriginPatterns(t *testing.T) {
	t.Parallel()
	c := newCORS(&apispec.CORS{AllowOrigins: []string{"https://app.example.com", "https://*.preview.example.com"}})
	for origin, want := range map[string]bool{
		"https://app.example.com":          true,
		"https://APP.example.com":          true,
		"https://pr-1.preview.example.com": true,
		"https://preview.example.com":      false,
		"http://app.example.com":           false,
		"https://app.example.com.evil.io":  false,
	} {
		if _, ok := c.allowOrigin(origin); ok != want {
			t.Errorf("allowOrigin(%q) = %v, want %v", origin, ok, want)
		}
	}
	if v, _ := newCORS(&apispec.CORS{AllowOrigins: []string{"*"}}).allowOrigin("https://x.io"); v != "*" {
		t.Errorf("AllowOrigins * gives %q, want *", v)
	}
}

func TestIAMPolicyDecision(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:execute-api:us-east-1:123456789012:devapi/$default/GET/private"
	tests := []struct {
		policy string
		allow  bool
	}{
		{`{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"` + arn + `"}]}`, true},
		{`{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":["arn:aws:execute-api:*:*:devapi/*"]}]}`, true},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"*"}]}`, false},
		{`{"Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:devapi/$default/POST/*"}]}`, false},
	}
	for _, tc := range tests {
		d, err := parseDecision([]byte(`{"principalId":"u","policyDocument":`+tc.policy+`}`), false, arn)
		if err != nil || d.allow != tc.allow {
			t.Errorf("policy %s: allow=%v err=%v, want %v", tc.policy, d.allow, err, tc.allow)
		}
	}
}

// TestMultiValueHeadersWarnOnce checks that a function answering
// multiValueHeaders gets them ignored, as in AWS, and one warning that
// names it however often it answers so.
func TestMultiValueHeadersWarnOnce(t *testing.T) {
	t.Parallel()
	answer := []byte(`{"statusCode":200,"multiValueHeaders":{"X-M":["1","2"]},"body":"ok"}`)
	inv := &fakeInvoker{calls: map[string]int{}, fns: map[string]func(context.Context, []byte) ([]byte, error){
		"Multi": func(context.Context, []byte) ([]byte, error) { return answer, nil },
	}}
	var mu sync.Mutex
	var warnings []string
	gw := New(Config{
		API:     &apispec.API{Routes: []apispec.Route{{Method: "GET", Path: "/multi", Function: "Multi"}}},
		Invoker: inv,
		Warn:    func(s string) { mu.Lock(); warnings = append(warnings, s); mu.Unlock() },
	})
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	for range 3 {
		resp, body := gatewaytest.Call(t, "GET", srv.URL+"/multi", nil)
		if resp.StatusCode != 200 || body != "ok" || resp.Header.Values("X-M") != nil {
			t.Errorf("got %d %q with X-M %q, want 200 ok without X-M", resp.StatusCode, body, resp.Header.Values("X-M"))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Multi answered multiValueHeaders") {
		t.Errorf("warnings %q, want one naming the function", warnings)
	}
}

// TestVaryOrigin checks that every answer of an API with CORS says that it
// varies by Origin, whether the origin is allowed, refused or absent, and
// that an API without CORS adds nothing.
func TestVaryOrigin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	tests := []struct {
		name, method, path string
		header             map[string]string
	}{
		{"allowed origin", "GET", "/public", map[string]string{"Origin": "http://localhost:5173"}},
		{"refused origin", "GET", "/public", map[string]string{"Origin": "https://evil.example"}},
		{"no origin", "GET", "/public", nil},
		{"no route", "GET", "/nowhere", map[string]string{"Origin": "https://evil.example"}},
		{"no token", "GET", "/private", nil},
		{"preflight from a refused origin", "OPTIONS", "/private", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}},
		{"preflight from the allowed origin", "OPTIONS", "/private", map[string]string{"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"}},
	}
	for _, tc := range tests {
		resp, _ := f.do(t, tc.method, tc.path, tc.header)
		<-f.logs
		if got := resp.Header.Values("Vary"); len(got) != 1 || got[0] != "Origin" {
			t.Errorf("%s: Vary %q, want Origin once", tc.name, got)
		}
	}

	plain := httptest.NewServer(New(Config{
		API:     &apispec.API{Routes: []apispec.Route{{Method: "GET", Path: "/public", Function: "Echo"}}},
		Invoker: f.invoker,
	}))
	t.Cleanup(plain.Close)
	resp, _ := gatewaytest.Call(t, "GET", plain.URL+"/public", map[string]string{"Origin": "https://evil.example"})
	if got := resp.Header.Values("Vary"); got != nil {
		t.Errorf("an API without CORS answered with Vary %q, want none", got)
	}
}

// TestVaryByOriginKeepsOthers checks that Origin joins the Vary values a
// function set, once.
func TestVaryByOriginKeepsOthers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ have, want []string }{
		{nil, []string{"Origin"}},
		{[]string{"Accept-Encoding"}, []string{"Accept-Encoding", "Origin"}},
		{[]string{"Accept-Encoding, origin"}, []string{"Accept-Encoding, origin"}},
		{[]string{"*"}, []string{"*"}},
	} {
		h := http.Header{}
		for _, v := range tc.have {
			h.Add("Vary", v)
		}
		varyByOrigin(h)
		if got := h.Values("Vary"); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("Vary %q becomes %q, want %q", tc.have, got, tc.want)
		}
	}
}
