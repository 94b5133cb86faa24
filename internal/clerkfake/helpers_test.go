package clerkfake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"clerk-lambda/internal/clerkfake"
)

// fixedNow is the clock of tests that need one.
var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// response is what a test reads back from the stand-in.
type response struct {
	status int
	header http.Header
	body   []byte
}

// get requests path (relative to the base URL, such as "/users?limit=2")
// with key as the bearer secret key; an empty key sends no Authorization.
func get(t testing.TB, s *clerkfake.Server, path, key string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readResponse(t, resp)
}

// post sends body as JSON to path (relative to the base URL) with key as
// the bearer secret key; an empty key sends no Authorization.
func post(t testing.TB, s *clerkfake.Server, path, key string, body any) response {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.URL()+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readResponse(t, resp)
}

// clock is a test's clock, which it moves on by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// readResponse reads and closes resp.
func readResponse(t testing.TB, resp *http.Response) response {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, body}
}

// clerkErrors is Clerk's error body.
type clerkErrors struct {
	Errors []struct {
		Message     string         `json:"message"`
		LongMessage string         `json:"long_message"`
		Code        string         `json:"code"`
		Meta        map[string]any `json:"meta"`
	} `json:"errors"`
	TraceID string `json:"clerk_trace_id"`
}

// wantError checks r is a Clerk error with status and code.
func wantError(t testing.TB, r response, status int, code string) clerkErrors {
	t.Helper()
	var e clerkErrors
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, r.body)
	}
	if r.status != status || len(e.Errors) != 1 || e.Errors[0].Code != code {
		t.Fatalf("got %d %s, want %d with code %s", r.status, r.body, status, code)
	}
	if e.Errors[0].Message == "" || e.Errors[0].LongMessage == "" || e.TraceID == "" {
		t.Fatalf("error body lacks message, long_message or clerk_trace_id: %s", r.body)
	}
	if r.header.Get("Clerk-Trace-Id") != e.TraceID {
		t.Fatalf("Clerk-Trace-Id header %q differs from the body's %q", r.header.Get("Clerk-Trace-Id"), e.TraceID)
	}
	return e
}

// decode unmarshals r's body into v after checking the status is 200.
func decode(t testing.TB, r response, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode: %v: %s", err, r.body)
	}
}
