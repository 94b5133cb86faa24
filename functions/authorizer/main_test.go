package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/internal/lambdaevents"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/settings"
)

const origin = "https://app.example.com"

// setup starts the Clerk stand-in and an authorizer that fetches its JWKS
// through the Backend API, as in AWS without CLERK_JWT_KEY.
func setup(t *testing.T) (*clerkfake.Server, *authorizer, *bytes.Buffer) {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with more settings, such as CLERK_ACCEPTED_TOKENS.
func setupWith(t *testing.T, more map[string]string) (*clerkfake.Server, *authorizer, *bytes.Buffer) {
	t.Helper()
	clerk := clerkfaketest.Start(t, clerkfake.Config{})
	env := map[string]string{
		"CLERK_API_URL":            clerk.URL(),
		"CLERK_SECRET_KEY":         clerk.SecretKey(),
		"CLERK_PUBLISHABLE_KEY":    clerk.PublishableKey(),
		"CLERK_AUTHORIZED_PARTIES": origin,
	}
	maps.Copy(env, more)
	var logs bytes.Buffer
	a, err := newAuthorizer(settings.Map(env), logging.New(&logs, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	return clerk, a, &logs
}

func mint(t *testing.T, clerk *clerkfake.Server, p clerkfake.TokenParams) string {
	t.Helper()
	tok, err := clerk.MintToken(p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// fixture reads one of the authorizer events in testdata/ and lets edit put
// a token into it.
func fixture(t *testing.T, name string, edit func(map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var event map[string]any
	if err := json.Unmarshal(raw, &event); err != nil {
		t.Fatal(err)
	}
	edit(event)
	b, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The authorizer events in testdata/, one per shape API Gateway sends.
const (
	httpAPIEvent = "http-api-authorizer-request.json"
	restToken    = "rest-token-authorizer.json"
	restRequest  = "rest-request-authorizer.json"
)

// TestFixturesMatchAWSSamples checks each event in testdata/ fills the same
// fields as aws-lambda-go's own sample of its shape.
func TestFixturesMatchAWSSamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture, sample string
		same            func(testing.TB, []byte, string)
	}{
		{httpAPIEvent, "apigw-v2-custom-authorizer-v2-request.json", lambdaevents.SameFields[events.APIGatewayV2CustomAuthorizerV2Request]},
		{restToken, "apigw-custom-auth-request.json", lambdaevents.SameFields[events.APIGatewayCustomAuthorizerRequest]},
		{restRequest, "apigw-custom-auth-request-type-request.json", lambdaevents.SameFields[events.APIGatewayCustomAuthorizerRequestTypeRequest]},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join("testdata", tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			tt.same(t, raw, tt.sample)
		})
	}
}

// invoke runs the handler the way the Lambda runtime does: JSON in, JSON out.
func invoke(t *testing.T, a *authorizer, event []byte) ([]byte, error) {
	t.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	return lambda.NewHandler(a.handle).Invoke(ctx, event)
}

// withHeaders replaces the event's headers, and its multi-value headers
// where the shape has them, with headers.
func withHeaders(headers map[string]any) func(map[string]any) {
	return func(e map[string]any) {
		e["headers"] = headers
		if _, ok := e["multiValueHeaders"]; ok {
			multi := make(map[string]any, len(headers))
			for k, v := range headers {
				multi[k] = []any{v}
			}
			e["multiValueHeaders"] = multi
		}
	}
}

func TestHTTPAPIEvent(t *testing.T) {
	t.Parallel()
	clerk, a, logs := setup(t)
	good := mint(t, clerk, clerkfake.TokenParams{UserID: "user_1", AuthorizedParty: origin, OrgID: "org_1", OrgSlug: "acme", OrgRole: "admin"})
	wrongParty := mint(t, clerk, clerkfake.TokenParams{UserID: "user_1", AuthorizedParty: "https://evil.example.com"})

	tests := []struct {
		name    string
		headers map[string]any
		allowed bool
		reason  string
	}{
		{name: "valid token", headers: map[string]any{"authorization": "Bearer " + good}, allowed: true},
		{name: "no token", headers: map[string]any{"header1": "value1"}, reason: "token-missing"},
		{name: "not a bearer token", headers: map[string]any{"authorization": "Basic abc"}, reason: "token-malformed"},
		{name: "tampered token", headers: map[string]any{"authorization": "Bearer " + good[:len(good)-4] + "AAAA"}, reason: "token-invalid-signature"},
		{name: "wrong authorized party", headers: map[string]any{"authorization": "Bearer " + wrongParty}, reason: "token-invalid-authorized-party"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			out, err := invoke(t, a, fixture(t, httpAPIEvent, withHeaders(tt.headers)))
			if err != nil {
				t.Fatalf("invoke: %v", err)
			}
			var res events.APIGatewayV2CustomAuthorizerSimpleResponse
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatal(err)
			}
			if res.IsAuthorized != tt.allowed {
				t.Fatalf("isAuthorized = %v, want %v (%s)", res.IsAuthorized, tt.allowed, out)
			}
			if strings.Contains(logs.String(), good[:40]) || strings.Contains(logs.String(), wrongParty[:40]) {
				t.Fatal("a token was logged")
			}
			line := decisionLine(t, logs)
			if line["requestId"] != "req-1" || line["allowed"] != tt.allowed {
				t.Errorf("log line = %v", line)
			}
			if tt.allowed {
				want := map[string]any{"userId": "user_1", "azp": origin, "orgId": "org_1", "orgSlug": "acme", "orgRole": "org:admin"}
				for k, v := range want {
					if res.Context[k] != v {
						t.Errorf("context[%s] = %v, want %v", k, res.Context[k], v)
					}
				}
				if _, isNumber := res.Context["exp"].(float64); !isNumber {
					t.Errorf("context exp = %#v, want a number", res.Context["exp"])
				}
				assertFlat(t, res.Context)
				return
			}
			if res.Context != nil {
				t.Errorf("denied response carries a context: %v", res.Context)
			}
			if line["reason"] != tt.reason {
				t.Errorf("logged reason = %v, want %s", line["reason"], tt.reason)
			}
		})
	}
}

func TestRESTTokenEvent(t *testing.T) {
	t.Parallel()
	clerk, a, _ := setup(t)
	good := mint(t, clerk, clerkfake.TokenParams{UserID: "user_1", AuthorizedParty: origin})

	out, err := invoke(t, a, fixture(t, restToken, func(e map[string]any) { e["authorizationToken"] = "Bearer " + good }))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var res events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	st := res.PolicyDocument.Statement
	if res.PrincipalID != "user_1" || len(st) != 1 || st[0].Effect != "Allow" ||
		st[0].Resource[0] != "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*/*" {
		t.Fatalf("response = %s", out)
	}
	if res.Context["userId"] != "user_1" {
		t.Errorf("context = %v", res.Context)
	}

	for name, token := range map[string]string{"no token": "", "invalid token": "Bearer x.y.z", "a bare word, as in AWS's sample": "allow"} {
		_, err := invoke(t, a, fixture(t, restToken, func(e map[string]any) { e["authorizationToken"] = token }))
		if err == nil || !strings.Contains(err.Error(), "Unauthorized") {
			t.Errorf("%s: err = %v, want Unauthorized", name, err)
		}
	}
}

func TestRESTRequestEvent(t *testing.T) {
	t.Parallel()
	clerk, a, _ := setup(t)
	good := mint(t, clerk, clerkfake.TokenParams{UserID: "user_2", AuthorizedParty: origin})
	out, err := invoke(t, a, fixture(t, restRequest, withHeaders(map[string]any{"Authorization": "Bearer " + good})))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var res events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	st := res.PolicyDocument.Statement
	if res.PrincipalID != "user_2" || len(st) != 1 || st[0].Effect != "Allow" ||
		st[0].Resource[0] != "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*/*" {
		t.Fatalf("response = %s", out)
	}
	cookie := fixture(t, restRequest, withHeaders(map[string]any{"Cookie": "__session=" + good}))
	if _, err := invoke(t, a, cookie); err != nil {
		t.Fatalf("token in the __session cookie: %v", err)
	}
	_, err = invoke(t, a, fixture(t, restRequest, withHeaders(map[string]any{})))
	if err == nil || err.Error() != "Unauthorized" && !strings.Contains(err.Error(), `"Unauthorized"`) {
		t.Fatalf("missing token: err = %v, want Unauthorized", err)
	}
}

func TestJWKSUnavailableDeniesAndKeepsServing(t *testing.T) {
	t.Parallel()
	clerk, a, logs := setup(t)
	tok := mint(t, clerk, clerkfake.TokenParams{UserID: "user_1", AuthorizedParty: origin})
	clerk.Close() // Clerk is unreachable before the first fetch

	for range 2 {
		out, err := invoke(t, a, fixture(t, httpAPIEvent, withHeaders(map[string]any{"authorization": "Bearer " + tok})))
		if err != nil {
			t.Fatalf("invoke: %v", err)
		}
		if !bytes.Contains(out, []byte(`"isAuthorized":false`)) {
			t.Fatalf("response = %s, want a denial", out)
		}
	}
	if !strings.Contains(logs.String(), `"reason":"jwks-unavailable"`) {
		t.Fatalf("logs = %s", logs)
	}
}

func TestKeyRotationThroughTheBackendAPI(t *testing.T) {
	t.Parallel()
	clerk, a, _ := setup(t)
	event := func(tok string) []byte {
		return fixture(t, httpAPIEvent, withHeaders(map[string]any{"authorization": "Bearer " + tok}))
	}
	for range 2 {
		out, _ := invoke(t, a, event(mint(t, clerk, clerkfake.TokenParams{UserID: "user_1", AuthorizedParty: origin})))
		if !bytes.Contains(out, []byte(`"isAuthorized":true`)) {
			t.Fatalf("before rotation: %s", out)
		}
		if _, err := clerk.RotateKey(); err != nil {
			t.Fatal(err)
		}
	}
	if got := clerk.Requests("/v1/jwks"); got != 2 {
		t.Fatalf("JWKS requests = %d, want 2 (one at start, one for the rotated key)", got)
	}
}

func TestUnrecognisedEvent(t *testing.T) {
	t.Parallel()
	_, a, _ := setup(t)
	for _, event := range []string{`{"version":"2.0","type":"TOKEN_V2"}`, `[]`, `{"type":"REQUEST"}`} {
		if out, err := invoke(t, a, []byte(event)); err == nil {
			t.Errorf("%s: answered %s, want an error", event, out)
		}
	}
	if _, err := invoke(t, a, []byte(`{"type":"TOKEN","authorizationToken":"Bearer a.b.c","methodArn":"not-an-arn"}`)); err == nil {
		t.Error("a bad methodArn was answered")
	}
}

func TestStartupErrorsNameTheSetting(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		env  map[string]string
		want string
	}{
		"no issuer":           {env: map[string]string{"CLERK_SECRET_KEY": "sk_test_x"}, want: "CLERK_ISSUER or CLERK_PUBLISHABLE_KEY must be set"},
		"no key source":       {env: map[string]string{"CLERK_ISSUER": "https://a.clerk.accounts.dev"}, want: "CLERK_SECRET_KEY"},
		"bad jwt key":         {env: map[string]string{"CLERK_ISSUER": "https://a.clerk.accounts.dev", "CLERK_JWT_KEY": "nope"}, want: "CLERK_JWT_KEY:"},
		"bad authorized list": {env: map[string]string{"CLERK_ISSUER": "https://a.clerk.accounts.dev", "CLERK_SECRET_KEY": "sk_test_x", "CLERK_AUTHORIZED_PARTIES": "nope"}, want: "CLERK_AUTHORIZED_PARTIES"},
	}
	for name, tt := range tests {
		_, err := newAuthorizer(settings.Map(tt.env), logging.New(&bytes.Buffer{}, slog.LevelInfo))
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line containing %q", name, err, tt.want)
		}
	}
}

// decisionLine returns the last log line, which must be JSON.
func decisionLine(t *testing.T, logs *bytes.Buffer) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &line); err != nil {
		t.Fatalf("log line is not JSON: %q", lines[len(lines)-1])
	}
	return line
}

// assertFlat checks API Gateway's rule: context values are scalars.
func assertFlat(t *testing.T, ctx map[string]any) {
	t.Helper()
	for k, v := range ctx {
		switch v.(type) {
		case string, float64, bool:
		default:
			t.Errorf("context[%s] = %#v is not a scalar", k, v)
		}
	}
}
