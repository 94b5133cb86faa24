package clerkroute_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/clerkroute"
	"clerk-lambda/shared/clerkroute/clerkroutetest"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/respond"
	"clerk-lambda/shared/settings"
)

func TestLoadSettings(t *testing.T) {
	t.Parallel()
	defaults := settings.Map(map[string]string{"CLERK_SECRET_KEY_PARAMETER": "/clerk/secret-key"})
	s, err := clerkroute.LoadSettings(defaults)
	if err != nil || s.Skew != 5*time.Second || s.Backend.Client.URL != clerkapi.DefaultURL || s.Backend.Secrets.Parameter != "/clerk/secret-key" {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
	if _, err := clerkroute.FromEnv(defaults, logging.New(&bytes.Buffer{}, slog.LevelInfo)); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	s, err = clerkroute.LoadSettings(settings.Map(map[string]string{
		"CLERK_SECRET_KEY": "sk_test_x", "CLERK_CLOCK_SKEW": "2s", "CLERK_API_URL": "http://127.0.0.1:9/v1",
	}))
	if err != nil || s.Skew != 2*time.Second || s.Backend.Client.URL != "http://127.0.0.1:9/v1" || s.Backend.Secrets.Value != "sk_test_x" {
		t.Fatalf("set values: %+v, %v", s, err)
	}
}

// TestBadSettingsStopStart checks each bad setting stops FromEnv with one
// line naming it, the line a function prints before it exits.
func TestBadSettingsStopStart(t *testing.T) {
	t.Parallel()
	bad := map[string]map[string]string{
		"CLERK_SECRET_KEY or CLERK_SECRET_KEY_PARAMETER must be set": {},
		"CLERK_CLOCK_SKEW": {"CLERK_SECRET_KEY": "sk_test_x", "CLERK_CLOCK_SKEW": "x"},
		"CLERK_API_URL":    {"CLERK_SECRET_KEY": "sk_test_x", "CLERK_API_URL": "http://api.clerk.com/v1"},
	}
	for want, vars := range bad {
		r, err := clerkroute.FromEnv(settings.Map(vars), logging.New(&bytes.Buffer{}, slog.LevelInfo))
		if r != nil || err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: err = %v, want one line mentioning %q", vars, err, want)
		}
	}
}

func TestCallContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		left     time.Duration // the Lambda invocation's time left; 0 = no deadline
		byLambda bool          // the Lambda deadline less DeadlineMargin, rather than CallTimeout, bounds the call
	}{
		{name: "no deadline"},
		{name: "Lambda deadline far off", left: time.Minute},
		{name: "Lambda deadline sooner than the timeout", left: 2 * time.Second, byLambda: true},
		{name: "Lambda deadline within the margin", left: clerkroute.DeadlineMargin / 2, byLambda: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent := context.Background()
			if tt.left != 0 {
				var cancel context.CancelFunc
				parent, cancel = context.WithTimeout(parent, tt.left)
				defer cancel()
			}
			before := time.Now()
			ctx, cancel := clerkroute.CallContext(parent)
			defer cancel()
			after := time.Now()
			got, ok := ctx.Deadline()
			if !ok {
				t.Fatal("the call has no deadline")
			}
			if tt.byLambda {
				lambda, _ := parent.Deadline()
				if !got.Equal(lambda.Add(-clerkroute.DeadlineMargin)) {
					t.Fatalf("deadline %v, want the Lambda deadline %v less %v", got, lambda, clerkroute.DeadlineMargin)
				}
			} else if got.Before(before.Add(clerkroute.CallTimeout)) || got.After(after.Add(clerkroute.CallTimeout)) {
				t.Fatalf("deadline %v, want %v from now", got.Sub(before), clerkroute.CallTimeout)
			}
		})
	}
}

// lookup is a route in the shape of GET /admin/users/{id} built on r: it
// reads user id from Clerk and answers 200 or what Failure says.
func lookup(r *clerkroute.Route, id string) clerkroutetest.Handler {
	return func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		cctx, cancel := clerkroute.CallContext(ctx)
		defer cancel()
		_, err := r.Clerk.User(cctx, id)
		res := respond.JSON(http.StatusOK, map[string]string{"id": id})
		if err != nil {
			res = clerkroute.Failure(err, "no user "+id)
		}
		return r.Finish(ctx, "GET /users/{id}", res, err, "targetUserId", id), nil
	}
}

// TestOutcomes checks the answer and the log line of a call that succeeds
// and of each way it can fail: the client learns what kind of failure it
// was and nothing more, the log says why, at ERROR level for the server's
// and Clerk's failures.
func TestOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		unreadable bool                                 // the secret key's SSM parameter cannot be read
		breakIt    func(s *clerkfake.Server, id string) // what goes wrong in Clerk
		status     int
		code       string // the error's code; "" = none
		level      string
		requests   int // requests Clerk should see
	}{
		{name: "found", status: 200, level: "INFO", requests: 1},
		{name: "user deleted", breakIt: func(s *clerkfake.Server, id string) { s.DeleteUser(id) },
			status: 404, code: "user_not_found", level: "INFO", requests: 1},
		{name: "persistent 500s", breakIt: func(s *clerkfake.Server, _ string) { s.Fail(clerkfake.Failure{ServerErrors: 100}) },
			status: 502, code: "clerk_unavailable", level: "ERROR", requests: 4},
		{name: "outage", breakIt: func(s *clerkfake.Server, _ string) { _ = s.Close() },
			status: 502, code: "clerk_unavailable", level: "ERROR"},
		{name: "unreadable secret key", unreadable: true, status: 500, code: "secret_unavailable", level: "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := clerkfaketest.Start(t, clerkfake.Config{})
			u := fake.AddUser(clerkfake.User{})
			vars, change, source := clerkroutetest.Env(fake), func(*clerkroute.Settings) {}, ""
			if tt.unreadable {
				vars = map[string]string{"CLERK_SECRET_KEY_PARAMETER": "/clerk/secret-key", "CLERK_API_URL": fake.URL()}
				change = func(s *clerkroute.Settings) { s.Backend.Secrets.SSMClient = clerkroutetest.UnreachableSSM(t) }
				source = "ssm:/clerk/secret-key"
			}
			r, logs := clerkroutetest.Route(t, vars, change)
			if tt.breakIt != nil {
				tt.breakIt(fake, u.ID)
			}
			res := clerkroutetest.Invoke(t, lookup(r, u.ID), events.APIGatewayV2HTTPRequest{})
			if tt.code == "" && res.StatusCode != tt.status {
				t.Fatalf("got %d %s, want %d", res.StatusCode, res.Body, tt.status)
			}
			if tt.code != "" {
				msg := clerkroutetest.WantError(t, res, tt.status, tt.code)
				if tt.status == 404 && msg != "no user "+u.ID {
					t.Fatalf("404 message = %q, want the route's own", msg)
				}
			}
			for _, detail := range []string{"/clerk/secret-key", "127.0.0.1", fake.SecretKey(), "HTTP 5"} {
				if strings.Contains(res.Body, detail) {
					t.Fatalf("the answer leaks %q: %s", detail, res.Body)
				}
			}
			line := clerkroutetest.LogLine(t, logs, tt.status, fake.SecretKey())
			gotSource, _ := line["secretSource"].(string)
			if line["msg"] != "GET /users/{id}" || line["level"] != tt.level || line["targetUserId"] != u.ID ||
				(line["error"] != nil) != (tt.code != "") || gotSource != source {
				t.Fatalf("log line = %v", line)
			}
			if n := fake.Requests("/v1/users/" + u.ID); n != tt.requests {
				t.Fatalf("Clerk saw %d requests, want %d", n, tt.requests)
			}
		})
	}
}

// TestFailureTellsAMissingUserFromAWrongURL: only Clerk's own answer that a
// user does not exist is a 404; a bare 404 (a proxy, a CLERK_API_URL without
// /v1) and any 404 of a list are Clerk failing to answer.
func TestFailureTellsAMissingUserFromAWrongURL(t *testing.T) {
	t.Parallel()
	clerkSays := fmt.Errorf("get user: %w", &clerkapi.APIError{Status: 404, Code: "resource_not_found"})
	bare := fmt.Errorf("get user: %w", &clerkapi.APIError{Status: 404})
	tests := []struct {
		name     string
		err      error
		notFound string
		status   int
	}{
		{name: "Clerk says the user does not exist", err: clerkSays, notFound: "no such user", status: 404},
		{name: "an id clerkapi refused without asking", err: clerkapi.ErrNotFound, notFound: "no such user", status: 404},
		{name: "a 404 without Clerk's code", err: bare, notFound: "no such user", status: 502},
		{name: "a 404 to a list", err: clerkSays, notFound: "", status: 502},
	}
	for _, tt := range tests {
		if got := clerkroute.Failure(tt.err, tt.notFound).StatusCode; got != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.status)
		}
	}
}
