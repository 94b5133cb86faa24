package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/dev/apispec"
	"clerk-lambda/dev/cmd/devapi/gateway/gatewaytest"
	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/lambdaevents"
	"clerk-lambda/internal/lockedio"
)

// TestEndToEnd serves the project's own template.yaml with the real
// functions, the emulator and the Clerk stand-in, and calls it over HTTP
// as a browser or curl would.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	s, log := startProject(t)
	// Only the functions whose template environment declares the secret
	// key get one, the stand-in's included, as in AWS.
	for name, f := range s.fns {
		_, declared := f.spec.Env["CLERK_SECRET_KEY"]
		if got, ok := f.env["CLERK_SECRET_KEY"]; ok != declared || declared && got != s.standIn.fake.SecretKey() {
			t.Errorf("%s: CLERK_SECRET_KEY set %v, declared in the template %v", name, ok, declared)
		}
	}
	user, _, err := s.standIn.mint(userID, false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := s.standIn.mint(adminID, true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A token from another Clerk instance: well formed, wrongly signed.
	other, err := clerkfake.New(clerkfake.Config{Issuer: s.standIn.fake.Issuer()})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.MintToken(clerkfake.TokenParams{UserID: userID, AuthorizedParty: devOrigin})
	if err != nil {
		t.Fatal(err)
	}
	const origin = devOrigin
	tests := []struct {
		name, path, token string
		status            int
		body              string
	}{
		{"public", "/public", "", 200, ""},
		{"private", "/private", user, 200, `"userId":"` + userID + `"`},
		{"me", "/me", user, 200, `"id":"` + userID + `"`},
		{"admin list", "/admin/users", admin, 200, `"data":[`},
		{"admin one", "/admin/users/" + userID, admin, 200, `"id":"` + userID + `"`},
		{"no token", "/private", "", 401, `{"message":"Unauthorized"}`},
		{"no token on an admin route", "/admin/users", "", 401, `{"message":"Unauthorized"}`},
		{"forged token", "/me", forged, 403, `{"message":"Forbidden"}`},
		{"garbage token", "/private", "not-a-jwt", 403, `{"message":"Forbidden"}`},
		{"non-admin on an admin route", "/admin/users", user, 403, `"code":"forbidden"`},
		{"unknown route", "/nowhere", user, 404, `{"message":"Not Found"}`},
	}
	for _, tc := range tests {
		header := map[string]string{"Origin": origin}
		if tc.token != "" {
			header["Authorization"] = "Bearer " + tc.token
		}
		resp, body := gatewaytest.Call(t, "GET", s.URL()+tc.path, header)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s: GET %s = %d %.300s, want %d with %s", tc.name, tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want %q on every answer to an allowed origin", tc.name, got, origin)
		}
	}

	// Preflight: answered by the gateway, from an allowed origin only.
	pre := map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
	resp, _ := gatewaytest.Call(t, "OPTIONS", s.URL()+"/private", pre)
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("preflight from %s: %d %v", origin, resp.StatusCode, resp.Header)
	}
	pre["Origin"] = "https://evil.example"
	resp, _ = gatewaytest.Call(t, "OPTIONS", s.URL()+"/private", pre)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("preflight from a disallowed origin got CORS headers: %v", resp.Header)
	}

	// The authorizer cache: the same token again within the TTL is not
	// sent to the authorizer.
	fresh, _, _ := s.standIn.mint(userID, false, time.Hour)
	for range 2 {
		gatewaytest.Call(t, "GET", s.URL()+"/private", map[string]string{"Authorization": "Bearer " + fresh})
	}
	lines := log.linesFor("/private 200")
	if len(lines) < 2 || !strings.Contains(lines[len(lines)-2], "auth=allow ") && !strings.HasSuffix(lines[len(lines)-2], "auth=allow") ||
		!strings.Contains(lines[len(lines)-1], "auth=allow(cached)") {
		t.Errorf("request log for a token used twice:\n%s\nwant the authorizer called the first time only", strings.Join(lines, "\n"))
	}
	for _, l := range log.all() {
		if strings.Contains(l, fresh) {
			t.Errorf("a token reached the log: %s", l)
		}
	}
}

// TestFunctionsWithSampleEvents invokes each built function directly under
// the emulator with aws-lambda-go's sample events, adapted to its route.
func TestFunctionsWithSampleEvents(t *testing.T) {
	t.Parallel()
	s, _ := startProject(t)
	ctx := context.Background()
	token, _, _ := s.standIn.mint(adminID, true, time.Hour)

	var authEvent events.APIGatewayV2CustomAuthorizerV2Request
	readSample(t, "apigw-v2-custom-authorizer-v2-request.json", &authEvent)
	authEvent.IdentitySource = []string{"Bearer " + token}
	authEvent.Headers = map[string]string{"authorization": "Bearer " + token}
	authEvent.RouteKey, authEvent.RawPath = "GET /private", "/private"
	answer := invoke(t, s, ctx, "AuthorizerFunction", authEvent)
	var decision struct {
		IsAuthorized bool           `json:"isAuthorized"`
		Context      map[string]any `json:"context"`
	}
	if err := json.Unmarshal(answer, &decision); err != nil || !decision.IsAuthorized || decision.Context["userId"] != adminID {
		t.Fatalf("authorizer answered %s, want isAuthorized with the admin's context", answer)
	}

	for _, c := range []struct {
		function, routeKey, path string
		params                   map[string]string
		want                     string
	}{
		{"PublicFunction", "GET /public", "/public", nil, "public"},
		{"PrivateFunction", "GET /private", "/private", nil, adminID},
		{"MeFunction", "GET /me", "/me", nil, adminID},
		{"AdminUsersFunction", "GET /admin/users", "/admin/users", nil, `"data"`},
		{"AdminUsersFunction", "GET /admin/users/{id}", "/admin/users/" + userID, map[string]string{"id": userID}, userID},
	} {
		var ev events.APIGatewayV2HTTPRequest
		readSample(t, "apigw-v2-request-lambda-authorizer.json", &ev)
		ev.RouteKey, ev.RequestContext.RouteKey = c.routeKey, c.routeKey
		ev.RawPath, ev.RequestContext.HTTP.Path, ev.RequestContext.HTTP.Method = c.path, c.path, "GET"
		ev.RawQueryString, ev.QueryStringParameters, ev.Body = "", nil, ""
		ev.PathParameters = c.params
		ev.RequestContext.Authorizer.Lambda = decision.Context
		answer := invoke(t, s, ctx, c.function, ev)
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(answer, &resp); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, c.want) {
			t.Errorf("%s with the sample event for %s: %.300s, want 200 with %s", c.function, c.routeKey, answer, c.want)
		}
	}
}

// startProject starts the local API on the project's template in stand-in
// mode, once per test, and returns it with its log.
func startProject(t *testing.T) (*devServer, *logBuffer) {
	t.Helper()
	return startProjectEnv(t, nil)
}

// startProjectEnv is startProject with a process environment of env alone.
func startProjectEnv(t *testing.T, env map[string]string) (*devServer, *logBuffer) {
	t.Helper()
	rieBin(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	template := filepath.Join(root, "template.yaml")
	api, err := apispec.Load(template)
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no template.yaml yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range api.Functions {
		if _, err := os.Stat(filepath.Join(root, fn.Dir)); err != nil && fn.Name != "ExportUsersFunction" {
			t.Skipf("%s is not written yet", fn.Dir)
		}
	}
	return startLocal(t, template, env)
}

// startLocal starts the local API in-process on free ports, for the API and
// the site, with template and a process environment of env alone, and
// stops it when the test ends.
func startLocal(t *testing.T, template string, env map[string]string) (*devServer, *logBuffer) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if template, err = filepath.Abs(template); err != nil {
		t.Fatal(err)
	}
	log := &logBuffer{}
	s, err := start(context.Background(), serveConfig{
		Root:               root,
		Addr:               "127.0.0.1:0",
		SiteAddr:           "127.0.0.1:0",
		SiteDir:            filepath.Join(root, "web"),
		SiteCrossOrigin:    env["DEV_SITE_CROSS_ORIGIN"] == "1",
		Template:           template,
		RIE:                rieBin(t),
		VersityGW:          os.Getenv("VERSITYGW_BIN"), // none: no local S3, no exports
		EnvFile:            filepath.Join(t.TempDir(), ".env"),
		CacheDir:           t.TempDir(),
		IntegrationTimeout: 30 * time.Second,
		Getenv:             func(name string) (string, bool) { v, ok := env[name]; return v, ok },
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, log
}

// readSample decodes aws-lambda-go's sample event name into v.
func readSample(t *testing.T, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(lambdaevents.Sample(t, name), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func invoke(t *testing.T, s *devServer, ctx context.Context, function string, event any) []byte {
	t.Helper()
	payload, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := s.runner.Invoke(ctx, function, payload)
	if err != nil {
		t.Fatalf("%s: %v", function, err)
	}
	return answer
}

// logBuffer keeps what the local API prints, line by line.
type logBuffer struct{ lockedio.Buffer }

func (b *logBuffer) all() []string {
	return strings.Split(b.String(), "\n")
}

func (b *logBuffer) linesFor(s string) []string {
	var out []string
	for _, l := range b.all() {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}
