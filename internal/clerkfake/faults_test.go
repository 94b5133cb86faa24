package clerkfake_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
)

func TestRateLimitedAnswers429WithRetryAfter(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	s.Fail(clerkfake.Failure{RateLimited: 2, RetryAfter: 7})
	for range 2 {
		r := get(t, s, "/users", s.SecretKey())
		wantError(t, r, http.StatusTooManyRequests, "too_many_requests")
		if got := r.header.Get("Retry-After"); got != "7" {
			t.Fatalf("Retry-After %q, want 7", got)
		}
	}
	if r := get(t, s, "/users", s.SecretKey()); r.status != http.StatusOK {
		t.Fatalf("after the burst got %d", r.status)
	}
	if got := s.Requests("/v1/users"); got != 3 {
		t.Errorf("Requests = %d, want 3 (rate-limited requests count too)", got)
	}

	s.Fail(clerkfake.Failure{RateLimited: 1})
	if got := get(t, s, "/jwks", s.SecretKey()).header.Get("Retry-After"); got != "1" {
		t.Errorf("default Retry-After %q, want 1", got)
	}
}

func TestServerErrorsFollowRateLimits(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	s.Fail(clerkfake.Failure{RateLimited: 1, ServerErrors: 2})
	wantError(t, get(t, s, "/jwks", s.SecretKey()), http.StatusTooManyRequests, "too_many_requests")
	wantError(t, get(t, s, "/jwks", s.SecretKey()), http.StatusInternalServerError, "internal_clerk_error")
	wantError(t, get(t, s, "/jwks", s.SecretKey()), http.StatusInternalServerError, "internal_clerk_error")
	if r := get(t, s, "/jwks", s.SecretKey()); r.status != http.StatusOK {
		t.Fatalf("after the faults got %d", r.status)
	}
}

func TestFaultsComeBeforeAuthentication(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	s.Fail(clerkfake.Failure{ServerErrors: 1})
	wantError(t, get(t, s, "/users", ""), http.StatusInternalServerError, "internal_clerk_error")
	wantError(t, get(t, s, "/users", ""), http.StatusUnauthorized, "authentication_invalid")
}

func TestFaultPathsRestrictFailures(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	s.Fail(clerkfake.Failure{ServerErrors: 5, Paths: []string{"/v1/users"}})
	if r := get(t, s, "/jwks", s.SecretKey()); r.status != http.StatusOK {
		t.Fatalf("jwks outside Paths got %d", r.status)
	}
	wantError(t, get(t, s, "/users/count", s.SecretKey()), http.StatusInternalServerError, "internal_clerk_error")
	wantError(t, get(t, s, "/users", s.SecretKey()), http.StatusInternalServerError, "internal_clerk_error")

	s.Fail(clerkfake.Failure{})
	if r := get(t, s, "/users", s.SecretKey()); r.status != http.StatusOK {
		t.Fatalf("after clearing faults got %d", r.status)
	}
}

func TestLatencyDelaysEveryRequest(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	s.Fail(clerkfake.Failure{Latency: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/jwks", nil)
	req.Header.Set("Authorization", "Bearer "+s.SecretKey())
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the request to outlast its deadline", err)
	}
	s.Fail(clerkfake.Failure{})
	if r := get(t, s, "/jwks", s.SecretKey()); r.status != http.StatusOK {
		t.Fatalf("without latency got %d", r.status)
	}
}

// TestRateLimitWindow: Config.RateLimit admits Requests per Window, then
// answers 429 with the seconds until the window frees a slot.
func TestRateLimitWindow(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{RateLimit: clerkfake.RateLimit{Requests: 3, Window: 10 * time.Second}})
	for range 3 {
		if r := get(t, s, "/users", s.SecretKey()); r.status != http.StatusOK {
			t.Fatalf("within the limit got %d", r.status)
		}
	}
	r := get(t, s, "/users", s.SecretKey())
	wantError(t, r, http.StatusTooManyRequests, "too_many_requests")
	if got := r.header.Get("Retry-After"); got != "10" && got != "9" {
		t.Errorf("Retry-After %q, want the window's remaining seconds", got)
	}
	if got := s.RateLimited(); got != 1 {
		t.Errorf("RateLimited = %d, want 1", got)
	}
}
