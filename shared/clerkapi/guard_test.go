package clerkapi_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkapi"
)

// search is an admin's search, an e-mail address: it must never reach an
// error's text, in any encoding.
const search = "alice@example.com"

func wantNoSearch(t *testing.T, err error) {
	t.Helper()
	if msg := err.Error(); strings.Contains(msg, "alice") || strings.Contains(msg, "query=") {
		t.Errorf("the error carries the search: %q", msg)
	}
}

// sink is a plain-http loopback server counting what reaches it.
type sink struct {
	*httptest.Server
	requests, withAuth atomic.Int32
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Header.Get("Authorization") != "" {
			s.withAuth.Add(1)
		}
		_, _ = w.Write([]byte(`[]`))
	}))
	t.Cleanup(s.Close)
	return s
}

// TestRedirectsAreNotFollowed: an https Backend API URL that redirects to
// plain http on the same host would hand the key over in clear text, and
// to any host at all. No redirect is followed, whatever the status.
func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			target := newSink(t)
			key := "sk_test_" + strings.Repeat("r", 40)
			var asked atomic.Int32
			redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked.Add(1)
				http.Redirect(w, r, target.URL+r.URL.RequestURI(), status)
			}))
			t.Cleanup(redirector.Close)
			c, err := clerkapi.New(clerkapi.Config{
				SecretKey:   func(context.Context) (string, error) { return key, nil },
				URL:         redirector.URL + "/v1",
				HTTPClient:  redirector.Client(),
				BackoffBase: time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ListUsers(context.Background(), clerkapi.ListParams{Query: search})
			if !errors.Is(err, clerkapi.ErrRedirect) {
				t.Fatalf("got %v, want ErrRedirect", err)
			}
			if n, a := target.requests.Load(), target.withAuth.Load(); n != 0 || a != 0 {
				t.Errorf("the redirect's target got %d requests, %d with an Authorization header", n, a)
			}
			if n := asked.Load(); n != 1 {
				t.Errorf("Clerk was asked %d times: a redirect is final, not retried", n)
			}
			wantOneLine(t, err, key)
			wantNoSearch(t, err)
		})
	}
}

// TestGuardedClientRefusesRedirects checks Guard on a client of its own, as
// the JWKS fetch and make token use it.
func TestGuardedClientRefusesRedirects(t *testing.T) {
	t.Parallel()
	target := newSink(t)
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/v1/jwks", http.StatusFound))
	t.Cleanup(redirector.Close)
	req, err := http.NewRequest(http.MethodGet, redirector.URL+"/v1/jwks", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk_test_x")
	resp, err := clerkapi.Guard(nil, 1<<20).Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, clerkapi.ErrRedirect) || target.requests.Load() != 0 {
		t.Fatalf("got %v and %d requests at the target, want ErrRedirect and none", err, target.requests.Load())
	}
}

// endless streams a JSON array of users without end (up to 400 MiB, never
// held in memory), counting the bytes it managed to write.
func endless(t *testing.T, declareLength bool) (*httptest.Server, *atomic.Int64) {
	var written atomic.Int64
	chunk := []byte(strings.Repeat(`{"id":"user_1","object":"user"},`, 1024))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const total = 400 << 20
		if declareLength {
			w.Header().Set("Content-Length", strconv.Itoa(total))
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("["))
		for sent := 0; sent < total-len(chunk); sent += len(chunk) {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &written
}

// TestHugeAnswersAreCutOff: a page is read up to MaxResponseBody, then the
// call fails, and is not retried (the same answer would come again).
func TestHugeAnswersAreCutOff(t *testing.T) {
	t.Parallel()
	for _, declared := range []bool{false, true} {
		t.Run("Content-Length "+strconv.FormatBool(declared), func(t *testing.T) {
			t.Parallel()
			srv, written := endless(t, declared)
			c, err := clerkapi.New(clerkapi.Config{
				SecretKey: func(context.Context) (string, error) { return "sk_test_k", nil },
				URL:       srv.URL + "/v1",
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ListUsers(context.Background(), clerkapi.ListParams{Query: search})
			if !errors.Is(err, clerkapi.ErrResponseTooLarge) || !strings.Contains(err.Error(), "more than 8 MiB") {
				t.Fatalf("got %v, want ErrResponseTooLarge naming the cap", err)
			}
			wantNoSearch(t, err)
			// What the server wrote is the cap plus what the sockets buffer,
			// nowhere near the 400 MiB it had to send.
			if n := written.Load(); n > 64<<20 {
				t.Errorf("the server wrote %d MiB before the client stopped reading", n>>20)
			}
		})
	}
}

func TestGuardCapsExactly(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		_, _ = w.Write([]byte(strings.Repeat("x", n)))
	}))
	t.Cleanup(srv.Close)
	hc := clerkapi.Guard(srv.Client(), 1000)
	for _, tc := range []struct {
		n       int
		tooMany bool
	}{{0, false}, {999, false}, {1000, false}, {1001, true}, {5000, true}} {
		resp, err := hc.Get(srv.URL + "/?n=" + strconv.Itoa(tc.n))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case tc.tooMany && (!errors.Is(err, clerkapi.ErrResponseTooLarge) || err.Error() != "response body too large: more than 1000 bytes"):
			t.Errorf("%d bytes: %v, want ErrResponseTooLarge", tc.n, err)
		case !tc.tooMany && (err != nil || len(body) != tc.n):
			t.Errorf("%d bytes: read %d, %v", tc.n, len(body), err)
		}
	}
}

// TestErrorsNeverCarryTheQuery: net/http names the request's URL, query
// included, in its errors; a search is an e-mail address, and the error
// ends up in the route's log line.
func TestErrorsNeverCarryTheQuery(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String() + "/v1"
	dead.Close()
	c := client(t, s, func(cfg *clerkapi.Config) { cfg.URL = deadURL; cfg.MaxAttempts = 2 })

	_, err = c.ListUsers(context.Background(), clerkapi.ListParams{Query: search, Limit: 5})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), deadURL+"/users") {
		t.Fatalf("got %v, want a refused connection naming the URL without its query", err)
	}
	wantNoSearch(t, err)
	var urlErr interface{ Timeout() bool }
	if !errors.As(err, &urlErr) {
		t.Errorf("the error no longer wraps net/http's: %v", err)
	}

	_, err = c.CountUsers(context.Background(), search)
	if err == nil {
		t.Fatal("a count against a dead Clerk succeeded")
	}
	wantNoSearch(t, err)
}

// TestErrorBodyEchoingTheRequest: an endpoint in Clerk's place that answers
// with the request itself, in Clerk's error shape or not, puts neither the
// key nor anything but a code-like code in the error's text.
func TestErrorBodyEchoingTheRequest(t *testing.T) {
	t.Parallel()
	key := "sk_test_" + strings.Repeat("e", 40)
	for _, tc := range []struct{ name, body string }{
		{"as Clerk's error", `{"errors":[{"code":"%s","message":"%s","long_message":"%s"}],"clerk_trace_id":"%s"}`},
		{"as text", `request: %s %s %s %s`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				auth := r.Header.Get("Authorization")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(strings.ReplaceAll(tc.body, "%s", auth)))
			}))
			t.Cleanup(echo.Close)
			c, err := clerkapi.New(clerkapi.Config{SecretKey: func(context.Context) (string, error) { return key, nil }, URL: echo.URL + "/v1"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.CountUsers(context.Background(), "")
			var apiErr *clerkapi.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
				t.Fatalf("got %v, want a 400 *APIError", err)
			}
			msg := err.Error()
			if strings.Contains(msg, key) || strings.Contains(msg, "sk_") || strings.Contains(msg, "clerk_trace_id") {
				t.Errorf("the error repeats the echo: %q", msg)
			}
		})
	}
}

func TestLoggableCode(t *testing.T) {
	t.Parallel()
	key := "sk_test_abcdefghijklmnopqrstuvwxyz"
	for code, want := range map[string]string{
		"resource_not_found":        "resource_not_found",
		"form_param_format_invalid": "form_param_format_invalid",
		"":                          clerkapi.WithheldCode,
		"Resource_not_found":        clerkapi.WithheldCode,
		"not found":                 clerkapi.WithheldCode,
		"code\x1b[2J":               clerkapi.WithheldCode,
		"resource-not-found":        clerkapi.WithheldCode,
		"sk_test_abcdefghijklmnop":  clerkapi.WithheldCode, // part of a key
		key:                         clerkapi.WithheldCode,
		"bearer_" + key:             clerkapi.WithheldCode,
		strings.Repeat("a", 65):     clerkapi.WithheldCode,
	} {
		if got := clerkapi.LoggableCode(code, key); got != want {
			t.Errorf("LoggableCode(%q) = %q, want %q", code, got, want)
		}
	}
	if got := clerkapi.LoggableCode("test_abcdefghijklmnopqrstuvwxyz", "sk_test_abcdefghijklmnopqrstuvwxyz"); got != clerkapi.WithheldCode {
		t.Errorf("a key without its sk_ prefix passed as a code: %q", got)
	}
}

func TestAPIErrorTextIsBounded(t *testing.T) {
	t.Parallel()
	e := &clerkapi.APIError{Status: 400, Code: "Weird Code", Message: strings.Repeat("é", 400), TraceID: "bad trace id"}
	msg := e.Error()
	if strings.Contains(msg, "Weird") || strings.Contains(msg, "trace") || len(msg) > 400 || !strings.HasSuffix(msg, "…") {
		t.Errorf("Error() = %q", msg)
	}
	e = &clerkapi.APIError{Status: 404, Code: "resource_not_found", Message: "not found", TraceID: "0123abcd"}
	if got, want := e.Error(), "HTTP 404 resource_not_found: not found (clerk_trace_id 0123abcd)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
