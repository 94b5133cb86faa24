package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"clerk-lambda/shared/clerkfake"
	"clerk-lambda/shared/envvar"
	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/respond"
)

// standIn starts a Clerk stand-in on loopback, closed when the test ends.
func standIn(t *testing.T) *clerkfake.Server {
	t.Helper()
	s, err := clerkfake.New(clerkfake.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// env is the environment of a function pointed at the stand-in s.
func env(s *clerkfake.Server) map[string]string {
	return map[string]string{"CLERK_SECRET_KEY": s.SecretKey(), "CLERK_API_URL": s.URL()}
}

// testHandler builds the handler from vars, with millisecond retry backoffs
// and change applied to the settings, logging into the returned buffer.
func testHandler(t *testing.T, vars map[string]string, change func(*settings)) (*handler, *bytes.Buffer) {
	t.Helper()
	s, err := loadSettings(envvar.Map(vars))
	if err != nil {
		t.Fatal(err)
	}
	s.clerk.BackoffBase, s.clerk.BackoffMax = time.Millisecond, 4*time.Millisecond
	if change != nil {
		change(&s)
	}
	var logs bytes.Buffer
	h, err := s.build(logging.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	return h, &logs
}

// caller is the authorizer context of a signed-in user, as the authorizer
// builds it.
func caller(userID string, expires time.Time) map[string]any {
	id := identity.Identity{UserID: userID, SessionID: "sess_1", Expires: expires}
	return id.Context()
}

// event is GET /me as API Gateway delivers it: the authorizer context has
// been through JSON, so exp is a float64.
func event(t *testing.T, auth map[string]any) events.APIGatewayV2HTTPRequest {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "GET /me", RawPath: "/me"}
	if auth != nil {
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: auth}
	}
	raw, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var out events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// invoke calls the handler as Lambda would, with a request id and a deadline.
func invoke(t *testing.T, h *handler, req events.APIGatewayV2HTTPRequest, timeout time.Duration) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-" + t.Name()})
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := h.handle(ctx, req)
	if err != nil {
		t.Fatalf("handle returned an error: %v", err)
	}
	return res
}

// wantError checks res is an error response with status and code.
func wantError(t *testing.T, res events.APIGatewayV2HTTPResponse, status int, code string) {
	t.Helper()
	var body respond.ErrorBody
	if res.StatusCode != status || json.Unmarshal([]byte(res.Body), &body) != nil || body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("got %d %s, want %d with code %q", res.StatusCode, res.Body, status, code)
	}
}

// logLine returns the one line logged for a request and checks it carries
// the request id and status and no secret.
func logLine(t *testing.T, logs *bytes.Buffer, status int, secret string) map[string]any {
	t.Helper()
	text := logs.String()
	if secret != "" && strings.Contains(text, secret) {
		t.Fatalf("the secret key is in the log: %s", text)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one log line per request, got %d:\n%s", len(lines), text)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	if line["requestId"] != "req-"+t.Name() || line["status"] != float64(status) {
		t.Fatalf("log line lacks the request id or status %d: %s", status, lines[0])
	}
	return line
}

// meBody is the part of GET /me's body the tests check.
type meBody struct {
	ID             string          `json:"id"`
	EmailAddress   *string         `json:"email_address"`
	FirstName      *string         `json:"first_name"`
	LastName       *string         `json:"last_name"`
	Username       *string         `json:"username"`
	ImageURL       *string         `json:"image_url"`
	CreatedAt      string          `json:"created_at"`
	LastSignInAt   *string         `json:"last_sign_in_at"`
	PublicMetadata json.RawMessage `json:"public_metadata"`
}

func TestMe(t *testing.T) {
	t.Parallel()
	fake := standIn(t)
	created := time.Date(2025, 3, 1, 9, 0, 0, 250e6, time.UTC)
	ada := fake.AddUser(clerkfake.User{
		FirstName: "Ada", LastName: "Lovelace", Username: "ada", ImageURL: "https://img.clerk.com/ada",
		EmailAddresses: []clerkfake.EmailAddress{
			{ID: "idn_old", EmailAddress: "ada@old.example.com"},
			{ID: "idn_main", EmailAddress: "ada@example.com"},
		},
		PrimaryEmailAddressID: "idn_main",
		PublicMetadata:        map[string]any{"plan": "pro"},
		PrivateMetadata:       map[string]any{"stripe": "cus_private"},
		CreatedAt:             created,
		LastSignInAt:          created.Add(36 * time.Hour),
	})
	bare := fake.AddUser(clerkfake.User{})
	gone := fake.AddUser(clerkfake.User{FirstName: "Gone"})
	fake.DeleteUser(gone.ID)
	future, past := time.Now().Add(time.Minute), time.Now().Add(-time.Minute)

	t.Run("signed in", func(t *testing.T) {
		t.Parallel()
		h, logs := testHandler(t, env(fake), nil)
		res := invoke(t, h, event(t, caller(ada.ID, future)), 10*time.Second)
		if res.StatusCode != 200 {
			t.Fatalf("status = %d: %s", res.StatusCode, res.Body)
		}
		var got meBody
		if err := json.Unmarshal([]byte(res.Body), &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != ada.ID || deref(got.EmailAddress) != "ada@example.com" || deref(got.FirstName) != "Ada" ||
			deref(got.LastName) != "Lovelace" || deref(got.Username) != "ada" || deref(got.ImageURL) != "https://img.clerk.com/ada" ||
			got.CreatedAt != "2025-03-01T09:00:00.25Z" || deref(got.LastSignInAt) != "2025-03-02T21:00:00.25Z" ||
			string(got.PublicMetadata) != `{"plan":"pro"}` {
			t.Fatalf("body = %s", res.Body)
		}
		if strings.Contains(res.Body, "cus_private") {
			t.Fatalf("private metadata leaked: %s", res.Body)
		}
		if line := logLine(t, logs, 200, fake.SecretKey()); line["userId"] != ada.ID {
			t.Fatalf("log line lacks the user id: %v", line)
		}
	})

	t.Run("user without names, email or sign-in", func(t *testing.T) {
		t.Parallel()
		h, _ := testHandler(t, env(fake), nil)
		res := invoke(t, h, event(t, caller(bare.ID, future)), 10*time.Second)
		var got meBody
		if res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &got) != nil {
			t.Fatalf("got %d %s", res.StatusCode, res.Body)
		}
		if got.ID != bare.ID || got.EmailAddress != nil || got.FirstName != nil || got.LastSignInAt != nil || string(got.PublicMetadata) != "{}" {
			t.Fatalf("body = %s", res.Body)
		}
	})

	t.Run("user deleted since the token was issued", func(t *testing.T) {
		t.Parallel()
		h, logs := testHandler(t, env(fake), nil)
		wantError(t, invoke(t, h, event(t, caller(gone.ID, future)), 10*time.Second), 404, "user_not_found")
		logLine(t, logs, 404, fake.SecretKey())
	})

	unauthenticated := []struct {
		name string
		auth map[string]any
	}{
		{"no authorizer context", nil},
		{"cached authorization outlived the token", caller(ada.ID, past)},
	}
	for _, tt := range unauthenticated {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, logs := testHandler(t, env(fake), nil)
			wantError(t, invoke(t, h, event(t, tt.auth), 10*time.Second), 401, "unauthenticated")
			logLine(t, logs, 401, "")
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// TestClerkFailures checks every way of Clerk failing answers 502, with a
// JSON error and the reason in the log.
func TestClerkFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		break_   func(*clerkfake.Server)
		deadline time.Duration // the Lambda invocation's time left
		attempts int           // requests Clerk should see; 0 = not checked
	}{
		{name: "outage", break_: func(s *clerkfake.Server) { _ = s.Close() }, deadline: 10 * time.Second},
		{name: "persistent 500s", break_: func(s *clerkfake.Server) { s.Fail(clerkfake.Failure{ServerErrors: 100}) },
			deadline: 10 * time.Second, attempts: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := standIn(t)
			u := fake.AddUser(clerkfake.User{FirstName: "Ada"})
			h, logs := testHandler(t, env(fake), nil)
			tt.break_(fake)
			res := invoke(t, h, event(t, caller(u.ID, time.Now().Add(time.Minute))), tt.deadline)
			wantError(t, res, 502, "clerk_unavailable")
			line := logLine(t, logs, 502, fake.SecretKey())
			if line["level"] != "ERROR" || line["error"] == nil || line["userId"] != u.ID {
				t.Fatalf("log line = %v", line)
			}
			if n := fake.Requests("/v1/users/" + u.ID); tt.attempts != 0 && n != tt.attempts {
				t.Fatalf("Clerk saw %d requests, want %d", n, tt.attempts)
			}
		})
	}
}

// TestSlowClerkAnsweredBeforeTheLambdaDeadline checks a Clerk that does not
// answer is given up on deadlineMargin before Lambda would end the
// invocation, so the caller gets a 502 rather than Lambda's own error.
func TestSlowClerkAnsweredBeforeTheLambdaDeadline(t *testing.T) {
	t.Parallel()
	fake := standIn(t)
	u := fake.AddUser(clerkfake.User{})
	fake.Fail(clerkfake.Failure{Latency: time.Minute})
	h, _ := testHandler(t, env(fake), nil)
	ctx, cancel := context.WithTimeout(context.Background(), deadlineMargin+200*time.Millisecond)
	defer cancel()
	res, err := h.handle(ctx, event(t, caller(u.ID, time.Now().Add(time.Minute))))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res, 502, "clerk_unavailable")
	if ctx.Err() != nil {
		t.Fatal("the handler answered only once the Lambda deadline had passed")
	}
}

// closedSSM is an SSM client whose endpoint is a loopback port nobody
// listens on, as when the parameter cannot be read.
func closedSSM(t *testing.T) func(context.Context) (*ssm.Client, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return func(context.Context) (*ssm.Client, error) {
		return ssm.New(ssm.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String("http://" + addr),
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "test-secret-access-key", ""),
			Retryer:      aws.NopRetryer{},
		}), nil
	}
}

func TestUnreadableSecret(t *testing.T) {
	t.Parallel()
	fake := standIn(t)
	u := fake.AddUser(clerkfake.User{})
	vars := map[string]string{"CLERK_SECRET_KEY_PARAMETER": "/clerk/secret-key", "CLERK_API_URL": fake.URL()}
	h, logs := testHandler(t, vars, func(s *settings) { s.secrets.SSMClient = closedSSM(t) })
	res := invoke(t, h, event(t, caller(u.ID, time.Now().Add(time.Minute))), 10*time.Second)
	wantError(t, res, 500, "secret_unavailable")
	if strings.Contains(res.Body, "/clerk/secret-key") || strings.Contains(res.Body, "127.0.0.1") {
		t.Fatalf("the error leaks details: %s", res.Body)
	}
	if line := logLine(t, logs, 500, ""); line["secretSource"] != "ssm:/clerk/secret-key" {
		t.Fatalf("log line does not name the parameter: %v", line)
	}
	if n := fake.Requests("/v1/users/" + u.ID); n != 0 {
		t.Fatalf("Clerk was called %d times without a secret key", n)
	}
}

func TestBadSettingsStopStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"no secret key", map[string]string{}, "CLERK_SECRET_KEY or CLERK_SECRET_KEY_PARAMETER must be set"},
		{"bad skew", map[string]string{"CLERK_SECRET_KEY": "sk_test_x", "CLERK_CLOCK_SKEW": "x"}, "CLERK_CLOCK_SKEW"},
		{"plain http to a remote API", map[string]string{"CLERK_SECRET_KEY": "sk_test_x", "CLERK_API_URL": "http://api.clerk.com/v1"}, "CLERK_API_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newHandler(envvar.Map(tt.vars), logging.New(&bytes.Buffer{}))
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := newHandler(envvar.Map(map[string]string{"CLERK_SECRET_KEY_PARAMETER": "/clerk/secret-key"}), logging.New(&bytes.Buffer{})); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
}

// TestSampleEvent runs aws-lambda-go's own sample of an HTTP API event with
// a Lambda authorizer, its context swapped for a signed-in caller's.
func TestSampleEvent(t *testing.T) {
	t.Parallel()
	req := sampleEvent(t)
	fake := standIn(t)
	u := fake.AddUser(clerkfake.User{Username: "sample"})
	req.RequestContext.Authorizer.Lambda = event(t, caller(u.ID, time.Now().Add(time.Minute))).RequestContext.Authorizer.Lambda
	h, _ := testHandler(t, env(fake), nil)
	res := invoke(t, h, req, 10*time.Second)
	var got meBody
	if res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &got) != nil || got.ID != u.ID || deref(got.Username) != "sample" {
		t.Fatalf("got %d %s", res.StatusCode, res.Body)
	}
}

// sampleEvent reads events/testdata/apigw-v2-request-lambda-authorizer.json
// from the aws-lambda-go module in use.
func sampleEvent(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH, so the aws-lambda-go sample event cannot be found")
	}
	dir, err := exec.Command(goTool, "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		t.Fatalf("go list github.com/aws/aws-lambda-go: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "events", "testdata", "apigw-v2-request-lambda-authorizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	if req.RequestContext.Authorizer == nil || len(req.RequestContext.Authorizer.Lambda) == 0 {
		t.Fatal("the sample event has no Lambda authorizer context")
	}
	return req
}
