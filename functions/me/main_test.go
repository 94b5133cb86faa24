package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/clerkroute"
	"clerk-lambda/shared/clerkroute/clerkroutetest"
	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/metrics"
	"clerk-lambda/shared/metrics/metricstest"
)

// testHandler is the handler pointed at the stand-in fake, without the
// user cache, logging into the returned buffer.
func testHandler(t *testing.T, fake *clerkfake.Server) (handler, *bytes.Buffer) {
	t.Helper()
	return cachingHandler(t, fake, 0)
}

// cachingHandler is testHandler with users kept for ttl.
func cachingHandler(t *testing.T, fake *clerkfake.Server, ttl time.Duration) (handler, *bytes.Buffer) {
	t.Helper()
	r, logs := clerkroutetest.Route(t, clerkroutetest.Env(fake), nil)
	return handler{Route: r, users: clerkapi.NewUserCache(r.Clerk, ttl, 0)}, logs
}

// caller is the authorizer context of a signed-in user, as the authorizer
// builds it.
func caller(userID string, expires time.Time) map[string]any {
	id := identity.Identity{UserID: userID, SessionID: "sess_1", Expires: expires}
	return id.Context()
}

// event is GET /me as API Gateway delivers it.
func event(t *testing.T, auth map[string]any) events.APIGatewayV2HTTPRequest {
	t.Helper()
	return clerkroutetest.Delivered(t, events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: route, RawPath: "/me"}, auth)
}

func TestMe(t *testing.T) {
	t.Parallel()
	fake := clerkfaketest.Start(t, clerkfake.Config{})
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
		h, logs := testHandler(t, fake)
		res := clerkroutetest.Invoke(t, h.handle, event(t, caller(ada.ID, future)))
		if res.StatusCode != 200 {
			t.Fatalf("status = %d: %s", res.StatusCode, res.Body)
		}
		var got clerkroutetest.UserBody
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
		if line := clerkroutetest.LogLine(t, logs, 200, fake.SecretKey()); line["userId"] != ada.ID {
			t.Fatalf("log line lacks the user id: %v", line)
		}
	})

	t.Run("user without names, email or sign-in", func(t *testing.T) {
		t.Parallel()
		h, _ := testHandler(t, fake)
		res := clerkroutetest.Invoke(t, h.handle, event(t, caller(bare.ID, future)))
		var got clerkroutetest.UserBody
		if res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &got) != nil {
			t.Fatalf("got %d %s", res.StatusCode, res.Body)
		}
		if got.ID != bare.ID || got.EmailAddress != nil || got.FirstName != nil || got.LastSignInAt != nil || string(got.PublicMetadata) != "{}" {
			t.Fatalf("body = %s", res.Body)
		}
	})

	t.Run("user deleted since the token was issued", func(t *testing.T) {
		t.Parallel()
		h, logs := testHandler(t, fake)
		res := clerkroutetest.Invoke(t, h.handle, event(t, caller(gone.ID, future)))
		if msg := clerkroutetest.WantError(t, res, 404, "user_not_found"); msg != "no such user: it may have been deleted" {
			t.Fatalf("message = %q", msg)
		}
		clerkroutetest.LogLine(t, logs, 404, fake.SecretKey())
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
			h, logs := testHandler(t, fake)
			clerkroutetest.WantError(t, clerkroutetest.Invoke(t, h.handle, event(t, tt.auth)), 401, "unauthenticated")
			clerkroutetest.LogLine(t, logs, 401, "")
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
		attempts int // requests Clerk should see; 0 = not checked
	}{
		{name: "outage", break_: func(s *clerkfake.Server) { _ = s.Close() }},
		{name: "persistent 500s", break_: func(s *clerkfake.Server) { s.Fail(clerkfake.Failure{ServerErrors: 100}) }, attempts: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := clerkfaketest.Start(t, clerkfake.Config{})
			u := fake.AddUser(clerkfake.User{FirstName: "Ada"})
			h, logs := testHandler(t, fake)
			tt.break_(fake)
			res := clerkroutetest.Invoke(t, h.handle, event(t, caller(u.ID, time.Now().Add(time.Minute))))
			clerkroutetest.WantError(t, res, 502, "clerk_unavailable")
			line := clerkroutetest.LogLine(t, logs, 502, fake.SecretKey())
			if line["level"] != "ERROR" || line["error"] == nil || line["userId"] != u.ID {
				t.Fatalf("log line = %v", line)
			}
			if m := metricstest.Lines(t, logs.String()); len(m) != 1 || m[0].Name != metrics.ClerkFailure || m[0].Dimensions["Route"] != route {
				t.Fatalf("metrics = %+v, want ClerkFailure for %s", m, route)
			}
			if n := fake.Requests("/v1/users/" + u.ID); tt.attempts != 0 && n != tt.attempts {
				t.Fatalf("Clerk saw %d requests, want %d", n, tt.attempts)
			}
		})
	}
}

// TestSlowClerkAnsweredBeforeTheLambdaDeadline checks a Clerk that does not
// answer is given up on clerkroute.DeadlineMargin before Lambda would end the
// invocation, so the caller gets a 502 rather than Lambda's own error.
func TestSlowClerkAnsweredBeforeTheLambdaDeadline(t *testing.T) {
	t.Parallel()
	fake := clerkfaketest.Start(t, clerkfake.Config{})
	u := fake.AddUser(clerkfake.User{})
	fake.Fail(clerkfake.Failure{Latency: time.Minute})
	h, _ := testHandler(t, fake)
	ctx, cancel := context.WithTimeout(context.Background(), clerkroute.DeadlineMargin+200*time.Millisecond)
	defer cancel()
	res, err := h.handle(ctx, event(t, caller(u.ID, time.Now().Add(time.Minute))))
	if err != nil {
		t.Fatal(err)
	}
	clerkroutetest.WantError(t, res, 502, "clerk_unavailable")
	if ctx.Err() != nil {
		t.Fatal("the handler answered only once the Lambda deadline had passed")
	}
}

// TestFullEvent runs an HTTP API event with every field AWS documents
// filled (the shape of aws-lambda-go's own sample), made GET /me from a
// signed-in caller.
func TestFullEvent(t *testing.T) {
	t.Parallel()
	fake := clerkfaketest.Start(t, clerkfake.Config{})
	u := fake.AddUser(clerkfake.User{Username: "sample"})
	req := clerkroutetest.Event(t, route, "/me", nil, caller(u.ID, time.Now().Add(time.Minute)))
	h, _ := testHandler(t, fake)
	res := clerkroutetest.Invoke(t, h.handle, req)
	var got clerkroutetest.UserBody
	if res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &got) != nil || got.ID != u.ID || deref(got.Username) != "sample" {
		t.Fatalf("got %d %s", res.StatusCode, res.Body)
	}
}

// TestCallerInALoopCostsOneCall: one user calling /me many times, as a
// page in a loop would, costs one Backend API request per TTL, and Clerk's
// "no such user" is kept as well.
func TestCallerInALoopCostsOneCall(t *testing.T) {
	t.Parallel()
	fake := clerkfaketest.Start(t, clerkfake.Config{})
	ada := fake.AddUser(clerkfake.User{FirstName: "Ada"})
	bob := fake.AddUser(clerkfake.User{FirstName: "Bob"})
	gone := fake.AddUser(clerkfake.User{FirstName: "Gone"})
	fake.DeleteUser(gone.ID)
	h, _ := cachingHandler(t, fake, time.Minute)
	exp := time.Now().Add(time.Minute)
	for range 20 {
		if res := clerkroutetest.Invoke(t, h.handle, event(t, caller(ada.ID, exp))); res.StatusCode != 200 || !strings.Contains(res.Body, `"first_name":"Ada"`) {
			t.Fatalf("Ada's /me: %d %s", res.StatusCode, res.Body)
		}
		clerkroutetest.WantError(t, clerkroutetest.Invoke(t, h.handle, event(t, caller(gone.ID, exp))), 404, "user_not_found")
	}
	// Another caller gets their own user, never Ada's.
	if res := clerkroutetest.Invoke(t, h.handle, event(t, caller(bob.ID, exp))); !strings.Contains(res.Body, `"first_name":"Bob"`) {
		t.Fatalf("Bob's /me: %d %s", res.StatusCode, res.Body)
	}
	for id, want := range map[string]int{ada.ID: 1, gone.ID: 1, bob.ID: 1} {
		if n := fake.Requests("/v1/users/" + id); n != want {
			t.Errorf("Clerk saw %d requests for %s, want %d", n, id, want)
		}
	}
}

// TestRateLimitedAnswers503Fast: while Clerk answers 429 with a long
// Retry-After, /me answers 503 clerk_rate_limited with a Retry-After of its
// own at once, after one request; a short Retry-After is waited out once.
func TestRateLimitedAnswers503Fast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		fail             clerkfake.Failure
		status, requests int
		wantRetryAfter   string
	}{
		{"long Retry-After", clerkfake.Failure{RateLimited: 100, RetryAfter: 30}, 503, 1, "30"},
		{"short Retry-After, still limited", clerkfake.Failure{RateLimited: 100, RetryAfter: 1}, 503, 2, "1"},
		{"short Retry-After, then served", clerkfake.Failure{RateLimited: 1, RetryAfter: 1}, 200, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := clerkfaketest.Start(t, clerkfake.Config{})
			u := fake.AddUser(clerkfake.User{FirstName: "Ada"})
			h, logs := testHandler(t, fake)
			fake.Fail(tc.fail)
			start := time.Now()
			res := clerkroutetest.Invoke(t, h.handle, event(t, caller(u.ID, time.Now().Add(time.Minute))))
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("answered after %s, want within 3 s", took)
			}
			if res.StatusCode != tc.status || res.Headers["Retry-After"] != tc.wantRetryAfter {
				t.Fatalf("got %d (Retry-After %q) %s, want %d (Retry-After %q)", res.StatusCode, res.Headers["Retry-After"], res.Body, tc.status, tc.wantRetryAfter)
			}
			if tc.status == 503 {
				clerkroutetest.WantError(t, res, 503, "clerk_rate_limited")
				clerkroutetest.LogLine(t, logs, 503, fake.SecretKey())
			}
			if n := fake.Requests("/v1/users/" + u.ID); n != tc.requests {
				t.Errorf("Clerk saw %d requests, want %d", n, tc.requests)
			}
		})
	}
}
