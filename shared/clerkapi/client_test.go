package clerkapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkapi"
)

// client returns a client of s with millisecond backoffs; change adjusts the
// configuration first.
func client(t *testing.T, s *clerkfake.Server, change func(*clerkapi.Config)) *clerkapi.Client {
	t.Helper()
	cfg := clerkapi.Config{
		SecretKey:   func(context.Context) (string, error) { return s.SecretKey(), nil },
		URL:         s.URL(),
		BackoffBase: time.Millisecond,
		BackoffMax:  4 * time.Millisecond,
	}
	if change != nil {
		change(&cfg)
	}
	c, err := clerkapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waits makes c record the waits it would sleep, returning immediately.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func recordWaits(c *clerkapi.Client) *waits {
	w := &waits{}
	clerkapi.SetWait(c, func(_ context.Context, d time.Duration) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.d = append(w.d, d)
		return nil
	})
	return w
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.d)
}

// wantAPIError checks err wraps an *APIError with status and code.
func wantAPIError(t *testing.T, err error, status int, code string) *clerkapi.APIError {
	t.Helper()
	var apiErr *clerkapi.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got %v, want an *APIError", err)
	}
	if apiErr.Status != status || apiErr.Code != code {
		t.Fatalf("got status %d code %q, want %d %q (%v)", apiErr.Status, apiErr.Code, status, code, err)
	}
	return apiErr
}

// wantOneLine checks an error's text is one line without the secret key.
func wantOneLine(t *testing.T, err error, key string) {
	t.Helper()
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || strings.Contains(msg, key) {
		t.Errorf("error text is not one line free of the key: %q", msg)
	}
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	key := func(context.Context) (string, error) { return "sk_test_x", nil }
	tests := []struct {
		name string
		cfg  clerkapi.Config
		ok   bool
	}{
		{"defaults", clerkapi.Config{SecretKey: key}, true},
		{"no key source", clerkapi.Config{}, false},
		{"https", clerkapi.Config{SecretKey: key, URL: "https://api.clerk.com/v1/"}, true},
		{"http to loopback", clerkapi.Config{SecretKey: key, URL: "http://127.0.0.1:8080/v1"}, true},
		{"http to IPv6 loopback", clerkapi.Config{SecretKey: key, URL: "http://[::1]:8080/v1"}, true},
		{"http to localhost", clerkapi.Config{SecretKey: key, URL: "http://localhost:8080/v1"}, true},
		{"http to the Docker host", clerkapi.Config{SecretKey: key, URL: "http://host.docker.internal:8080/v1"}, true},
		{"http elsewhere", clerkapi.Config{SecretKey: key, URL: "http://api.clerk.com/v1"}, false},
		{"other scheme", clerkapi.Config{SecretKey: key, URL: "ftp://api.clerk.com/v1"}, false},
		{"relative", clerkapi.Config{SecretKey: key, URL: "/v1"}, false},
		{"credentials", clerkapi.Config{SecretKey: key, URL: "https://me:pw@api.clerk.com/v1"}, false},
		{"query", clerkapi.Config{SecretKey: key, URL: "https://api.clerk.com/v1?x=1"}, false},
		{"negative attempts", clerkapi.Config{SecretKey: key, MaxAttempts: -1}, false},
		{"negative backoff", clerkapi.Config{SecretKey: key, BackoffBase: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := clerkapi.New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("New: %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestUser(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	want := s.AddUser(clerkfake.User{FirstName: "Ada", EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: "ada@example.com"}}})

	got, err := c.User(context.Background(), want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || *got.FirstName != "Ada" || got.EmailAddresses[0].EmailAddress != "ada@example.com" {
		t.Errorf("got %+v", got)
	}

	_, err = c.User(context.Background(), "user_missing")
	if !errors.Is(err, clerkapi.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	if e := wantAPIError(t, err, http.StatusNotFound, "resource_not_found"); e.TraceID == "" || e.Message == "" {
		t.Errorf("the error lacks Clerk's message or trace id: %+v", e)
	}
	wantOneLine(t, err, s.SecretKey())
}

func TestUserRejectsIDsThatCouldChangeThePath(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	for _, id := range []string{"", "../jwks", "user_1/../../jwks", "user 1", "user_1?x=1", "%2e%2e"} {
		if _, err := c.User(context.Background(), id); !errors.Is(err, clerkapi.ErrNotFound) {
			t.Errorf("User(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if n := s.Requests("/v1/jwks") + s.Requests("/v1/users"); n != 0 {
		t.Errorf("%d requests were sent for ids that cannot exist", n)
	}
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	seeded := s.SeedUsers(30)
	ada := s.AddUser(clerkfake.User{FirstName: "Ada", LastName: "Zebra"})
	all := append(seeded, ada)
	ids := func(users []*clerk.User) []string {
		out := make([]string, len(users))
		for i, u := range users {
			out[i] = u.ID
		}
		return out
	}
	want := func(users []clerkfake.User, reverse bool) []string {
		out := make([]string, len(users))
		for i, u := range users {
			out[i] = u.ID
		}
		if reverse {
			slices.Reverse(out)
		}
		return out
	}
	tests := []struct {
		name string
		p    clerkapi.ListParams
		want []string
	}{
		{"defaults: ten newest", clerkapi.ListParams{}, want(all[len(all)-10:], true)},
		{"page in creation order", clerkapi.ListParams{Limit: 5, Offset: 5, OrderBy: "+created_at"}, want(all[5:10], false)},
		{"query", clerkapi.ListParams{Query: "zebra"}, []string{ada.ID}},
		{"past the end", clerkapi.ListParams{Offset: 100}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.ListUsers(context.Background(), tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !slices.Equal(ids(got), tt.want) {
				t.Errorf("got %v, want %v", ids(got), tt.want)
			}
		})
	}
	if got := s.Requests("/v1/users"); got != len(tests) {
		t.Errorf("%d list requests, want one per call (%d)", got, len(tests))
	}
	if got := s.Requests("/v1/users/count"); got != 0 {
		t.Errorf("ListUsers asked for the count %d times", got)
	}
}

func TestListUsersBadLimitIsNotRetried(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	for _, limit := range []int{501, -1} {
		_, err := c.ListUsers(context.Background(), clerkapi.ListParams{Limit: limit})
		e := wantAPIError(t, err, http.StatusUnprocessableEntity, "form_param_value_invalid")
		if !strings.Contains(e.LongMessage, "limit") {
			t.Errorf("long message %q does not name the parameter", e.LongMessage)
		}
	}
	if got := s.Requests("/v1/users"); got != 2 {
		t.Errorf("%d requests for two calls: a 422 must not be retried", got)
	}
}

func TestCountUsers(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	s.SeedUsers(12)
	s.AddUser(clerkfake.User{FirstName: "Ada", LastName: "Zebra"})
	for query, want := range map[string]int64{"": 13, "zebra": 1, "nobody": 0} {
		got, err := c.CountUsers(context.Background(), query)
		if err != nil || got != want {
			t.Errorf("CountUsers(%q) = %d, %v; want %d", query, got, err, want)
		}
	}
}

func TestSecretKeyProblems(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	sourceDown := errors.New("parameter store unreachable")
	tests := []struct {
		name     string
		key      func(context.Context) (string, error)
		requests int
		check    func(t *testing.T, err error)
	}{
		{"wrong key", func(context.Context) (string, error) { return "sk_test_wrong_key_123", nil }, 1, func(t *testing.T, err error) {
			wantAPIError(t, err, http.StatusUnauthorized, "clerk_key_invalid")
			wantOneLine(t, err, "sk_test_wrong_key_123")
			if errors.Is(err, clerkapi.ErrSecretKey) {
				t.Errorf("a key Clerk refuses is Clerk's answer, not ErrSecretKey: %v", err)
			}
		}},
		{"key source fails", func(context.Context) (string, error) { return "", sourceDown }, 0, func(t *testing.T, err error) {
			if !errors.Is(err, sourceDown) || !errors.Is(err, clerkapi.ErrSecretKey) {
				t.Errorf("got %v, want it to wrap the key source's error and ErrSecretKey", err)
			}
		}},
		{"empty key", func(context.Context) (string, error) { return " ", nil }, 0, func(t *testing.T, err error) {
			if err == nil || !strings.Contains(err.Error(), "secret key is empty") {
				t.Errorf("got %v, want an empty-key error", err)
			}
			if errors.Is(err, clerkapi.ErrSecretKey) {
				t.Errorf("an empty key is not ErrSecretKey, which marks SecretKey's own errors: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Requests("/v1/users/count")
			c := client(t, s, func(cfg *clerkapi.Config) { cfg.SecretKey = tt.key })
			_, err := c.CountUsers(context.Background(), "")
			tt.check(t, err)
			wantOneLine(t, err, s.SecretKey())
			if got := s.Requests("/v1/users/count") - before; got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
		})
	}
}

func TestRateLimitsAreWaitedOut(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	w := recordWaits(c)
	u := s.AddUser(clerkfake.User{})
	s.Fail(clerkfake.Failure{RateLimited: 3, RetryAfter: 7})
	if _, err := c.User(context.Background(), u.ID); err != nil {
		t.Fatalf("a burst of three 429s was not survived: %v", err)
	}
	if got, want := w.all(), []time.Duration{7 * time.Second, 7 * time.Second, 7 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waited %v, want Retry-After each time %v", got, want)
	}
	if got := s.Requests("/v1/users/" + u.ID); got != 4 {
		t.Errorf("%d requests, want 4", got)
	}
}

func TestRateLimitWaitsRealRetryAfter(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	s.Fail(clerkfake.Failure{RateLimited: 1}) // Retry-After: 1
	began := time.Now()
	if _, err := c.CountUsers(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(began); waited < time.Second {
		t.Errorf("retried after %v, before Retry-After's second", waited)
	}
}

func TestTooManyRateLimitsGiveUp(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, func(cfg *clerkapi.Config) { cfg.MaxRateLimitWaits = 2 })
	w := recordWaits(c)
	s.Fail(clerkfake.Failure{RateLimited: 10})
	_, err := c.CountUsers(context.Background(), "")
	wantAPIError(t, err, http.StatusTooManyRequests, "too_many_requests")
	if len(w.all()) != 2 || s.Requests("/v1/users/count") != 3 {
		t.Errorf("waited %d times over %d requests, want 2 over 3", len(w.all()), s.Requests("/v1/users/count"))
	}
}

// flaky serves the stand-in's API behind answers of its own: each request
// takes the next of answers while any remain.
func flaky(t *testing.T, s *clerkfake.Server, answers ...func(http.ResponseWriter)) *httptest.Server {
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		var answer func(http.ResponseWriter)
		if len(answers) > 0 {
			answer, answers = answers[0], answers[1:]
		}
		mu.Unlock()
		if answer != nil {
			answer(w)
			return
		}
		s.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func answer(status int, header, value, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if header != "" {
			w.Header().Set(header, value)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func TestUnreadableRetryAfterFallsBackToBackoff(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	clerkErr := `{"errors":[{"message":"Too many requests","long_message":"Too many requests","code":"too_many_requests"}]}`
	srv := flaky(t, s,
		answer(429, "", "", clerkErr),
		answer(429, "Retry-After", "soon", clerkErr),
		answer(429, "Retry-After", "-3", clerkErr),
		answer(429, "Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), "<html>slow down</html>"),
	)
	c := client(t, s, func(cfg *clerkapi.Config) {
		cfg.URL = srv.URL + "/v1"
		cfg.BackoffBase = 3 * time.Millisecond
		cfg.BackoffMax = time.Second
	})
	w := recordWaits(c)
	if _, err := c.CountUsers(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	got := w.all()
	if len(got) != 4 {
		t.Fatalf("waited %v, want four waits", got)
	}
	for i, bound := range []time.Duration{3 * time.Millisecond, 6 * time.Millisecond, 12 * time.Millisecond} {
		if got[i] < 0 || got[i] >= bound {
			t.Errorf("wait %d = %v, want a backoff below %v", i+1, got[i], bound)
		}
	}
	if got[3] != time.Minute {
		t.Errorf("an HTTP-date Retry-After an hour away gave a wait of %v, want the 1m0s cap", got[3])
	}
}

func TestServerErrorsAreRetriedWithAFreshKey(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	var keyCalls atomic.Int32
	c := client(t, s, func(cfg *clerkapi.Config) {
		cfg.SecretKey = func(context.Context) (string, error) { keyCalls.Add(1); return s.SecretKey(), nil }
	})
	w := recordWaits(c)
	s.Fail(clerkfake.Failure{ServerErrors: 3})
	if _, err := c.CountUsers(context.Background(), ""); err != nil {
		t.Fatalf("three 500s within four attempts were not survived: %v", err)
	}
	if got := s.Requests("/v1/users/count"); got != 4 || keyCalls.Load() != 4 {
		t.Errorf("%d requests and %d key fetches, want 4 of each", got, keyCalls.Load())
	}
	for i, d := range w.all() {
		if bound := time.Millisecond << i; d < 0 || d >= min(bound, 4*time.Millisecond) {
			t.Errorf("backoff %d = %v, want below %v", i+1, d, bound)
		}
	}
}

func TestServerErrorsExhaustAttempts(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, func(cfg *clerkapi.Config) { cfg.MaxAttempts = 3 })
	s.Fail(clerkfake.Failure{ServerErrors: 100})
	_, err := c.ListUsers(context.Background(), clerkapi.ListParams{})
	e := wantAPIError(t, err, http.StatusInternalServerError, "internal_clerk_error")
	if e.TraceID == "" || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("error %q lacks the attempts or the trace id", err)
	}
	wantOneLine(t, err, s.SecretKey())
	if got := s.Requests("/v1/users"); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
}

func TestAnswersThatAreNotClerks(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	srv := flaky(t, s,
		answer(http.StatusBadGateway, "Content-Type", "text/html", "<html>\n<body>Bad gateway</body>\n</html>"),
		answer(http.StatusForbidden, "Content-Type", "text/html", "<html>\nForbidden\n</html>"),
	)
	c := client(t, s, func(cfg *clerkapi.Config) { cfg.URL = srv.URL + "/v1" })
	_, err := c.CountUsers(context.Background(), "")
	e := wantAPIError(t, err, http.StatusForbidden, "")
	if e.Message != "Forbidden" {
		t.Errorf("message %q, want the status text", e.Message)
	}
	wantOneLine(t, err, s.SecretKey())
	if _, err := c.CountUsers(context.Background(), ""); err != nil {
		t.Errorf("after the proxy's answers: %v", err)
	}
}

func TestCutOffAnswersAreRetriedAndBadJSONIsNot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		answer   func(http.ResponseWriter)
		requests int
		wantErr  string
	}{
		// The server promises 1,000 bytes and closes after 10.
		{"body cut off", answer(http.StatusOK, "Content-Length", "1000", `[{"id":"us`), 2, ""},
		{"body not JSON", answer(http.StatusOK, "Content-Type", "application/json", `[{"id":`), 1, "clerkapi: list users: decode response: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := clerkfaketest.Start(t, clerkfake.Config{})
			s.SeedUsers(3)
			srv := flaky(t, s, tc.answer)
			c := client(t, s, func(cfg *clerkapi.Config) { cfg.URL = srv.URL + "/v1" })
			page, err := c.ListUsers(context.Background(), clerkapi.ListParams{})
			if tc.wantErr == "" && (err != nil || len(page) != 3) {
				t.Errorf("ListUsers: %d users, %v; want the 3 users of the retry", len(page), err)
			}
			if tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)) {
				t.Errorf("ListUsers: %v; want an error starting %q", err, tc.wantErr)
			}
			if got := s.Requests("/v1/users"); got != tc.requests-1 {
				t.Errorf("%d requests reached the stand-in, want %d", got, tc.requests-1)
			}
		})
	}
}

func TestErrorTextNeverCarriesTheKey(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	key := s.SecretKey()
	echo := `{"errors":[{"code":"form_param_value_invalid","message":"bad ` + key + `","long_message":"the key ` + key + `\nwas sent"}],"clerk_trace_id":"t1"}`
	srv := flaky(t, s, answer(http.StatusBadRequest, "Content-Type", "application/json", echo))
	c := client(t, s, func(cfg *clerkapi.Config) { cfg.URL = srv.URL + "/v1" })
	_, err := c.CountUsers(context.Background(), "")
	e := wantAPIError(t, err, http.StatusBadRequest, "form_param_value_invalid")
	wantOneLine(t, err, key)
	if strings.Contains(e.Message+e.LongMessage, key) || !strings.Contains(e.LongMessage, "[secret key]") {
		t.Errorf("the key was not replaced: %+v", e)
	}
}

func TestDeadlineShorterThanRetryAfter(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	s.Fail(clerkfake.Failure{RateLimited: 1, RetryAfter: 30})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.CountUsers(ctx, "")
	if !errors.Is(err, clerkapi.ErrNoTimeToRetry) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrNoTimeToRetry and the context's deadline error", err)
	}
	if want := "clerkapi: count users: no time left to retry before the context's deadline (a retry was due in 30s): HTTP 429 "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start %q", err, want)
	}
	wantAPIError(t, err, http.StatusTooManyRequests, "too_many_requests")
	if ctx.Err() != nil {
		t.Error("the call waited for the deadline instead of returning at once")
	}
}

func TestCanceledContext(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.ListUsers(ctx, clerkapi.ListParams{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestClerkOutage(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	u := s.AddUser(clerkfake.User{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := c.User(context.Background(), u.ID)
	if err == nil {
		t.Fatal("a call to a closed Clerk succeeded")
	}
	var apiErr *clerkapi.APIError
	if errors.As(err, &apiErr) {
		t.Errorf("an outage reads as a Clerk answer: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "get user") || !strings.Contains(msg, "gave up after 4 attempts") || !strings.Contains(msg, "connection refused") {
		t.Errorf("error %q does not say what failed and why", msg)
	}
	wantOneLine(t, err, s.SecretKey())
}
