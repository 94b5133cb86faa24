package clerkapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkapi"
)

// TestRetryAfterIsClamped checks the wait a single 429 leads to: what
// Retry-After asks for, but never less than the backoff base (so a server
// cannot make the client retry back to back) and never more than a minute
// (so no value, however large, parks the call or overflows), and a jittered
// backoff below the base when the header cannot be read.
func TestRetryAfterIsClamped(t *testing.T) {
	t.Parallel()
	const base = 200 * time.Millisecond
	exactly := func(want time.Duration) func(time.Duration) bool {
		return func(got time.Duration) bool { return got == want }
	}
	backoff := func(got time.Duration) bool { return got >= 0 && got < base }
	tests := []struct {
		name  string
		value string // "" sends no Retry-After
		ok    func(time.Duration) bool
		want  string
	}{
		{"zero waits the backoff base", "0", exactly(base), "the base, 200ms"},
		{"past date waits the backoff base", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), exactly(base), "the base, 200ms"},
		{"seconds within range", "3", exactly(3 * time.Second), "3s"},
		{"sixty seconds", "60", exactly(time.Minute), "1m0s"},
		{"just over the cap", "61", exactly(time.Minute), "the 1m0s cap"},
		{"padded", " 120 ", exactly(time.Minute), "the 1m0s cap"},
		{"seconds that overflow a Duration", "9223372036854", exactly(time.Minute), "the 1m0s cap"},
		{"seconds beyond int64", "99999999999999999999999999999999", exactly(time.Minute), "the 1m0s cap"},
		{"date an hour away", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), exactly(time.Minute), "the 1m0s cap"},
		{"missing", "", backoff, "a backoff below the base"},
		{"garbage", "soon", backoff, "a backoff below the base"},
		{"negative", "-3", backoff, "a backoff below the base"},
		{"signed", "+5", backoff, "a backoff below the base"},
		{"fraction", "1.5", backoff, "a backoff below the base"},
	}
	s := clerkfaketest.Start(t, clerkfake.Config{})
	clerkErr := `{"errors":[{"message":"Too many requests","long_message":"Too many requests","code":"too_many_requests"}]}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			header := "Retry-After"
			if tt.value == "" {
				header = ""
			}
			srv := flaky(t, s, answer(http.StatusTooManyRequests, header, tt.value, clerkErr))
			c := client(t, s, func(cfg *clerkapi.Config) {
				cfg.URL = srv.URL + "/v1"
				cfg.BackoffBase = base
				cfg.BackoffMax = time.Second
			})
			w := recordWaits(c)
			if _, err := c.CountUsers(context.Background(), ""); err != nil {
				t.Fatal(err)
			}
			got := w.all()
			if len(got) != 1 || !tt.ok(got[0]) {
				t.Errorf("Retry-After %q: waited %v, want one wait of %s", tt.value, got, tt.want)
			}
		})
	}
}
