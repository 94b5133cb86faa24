package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const tokenTestKey = "sk_test_tokentokentokentokentoken"

// fakeBackend answers make token's two calls as Clerk's Backend API does.
func fakeBackend(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+tokenTestKey {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/v1/sessions":
			_, _ = w.Write([]byte(`{"id":"sess_1"}`))
		case "/v1/sessions/sess_1/tokens":
			_, _ = w.Write([]byte(`{"jwt":"a.b.c"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClerkSessionToken(t *testing.T) {
	t.Parallel()
	srv := fakeBackend(t)
	tok, err := clerkSessionToken(context.Background(), srv.URL+"/v1", tokenTestKey, "user_1", time.Hour)
	if err != nil || tok != "a.b.c" {
		t.Fatalf("token %q, %v", tok, err)
	}
}

// TestClerkSessionTokenFollowsNoRedirect: a CLERK_API_URL that redirects
// would take the secret key along.
func TestClerkSessionTokenFollowsNoRedirect(t *testing.T) {
	t.Parallel()
	var reached atomic.Int32 // and so no Authorization header either
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = w.Write([]byte(`{"id":"sess_1","jwt":"a.b.c"}`))
	}))
	t.Cleanup(target.Close)
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/v1/sessions", status))
		t.Cleanup(redirector.Close)
		_, err := clerkSessionToken(context.Background(), redirector.URL+"/v1", tokenTestKey, "user_1", time.Hour)
		if !errors.Is(err, errRedirect) || strings.Contains(err.Error(), tokenTestKey) {
			t.Errorf("HTTP %d: %v, want errRedirect", status, err)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the redirect's target got %d requests", n)
	}
}

// TestClerkSessionTokenCapsTheAnswer: an endless answer (written piece by
// piece, never held) is cut off at 1 MiB.
func TestClerkSessionTokenCapsTheAnswer(t *testing.T) {
	t.Parallel()
	chunk := []byte(strings.Repeat(`"padding",`, 1024))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"id":"sess_1","x":[`))
		for sent := 0; sent < 400<<20; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	_, err := clerkSessionToken(context.Background(), srv.URL+"/v1", tokenTestKey, "user_1", time.Hour)
	if err == nil || !strings.Contains(err.Error(), "the answer is larger than 1 MiB") {
		t.Fatalf("err = %v, want the answer refused as too large", err)
	}
}

// TestTokenRefusesAPlainHTTPAPIURL: as for the functions, the key goes over
// plain http only to a local stand-in.
func TestTokenRefusesAPlainHTTPAPIURL(t *testing.T) {
	for _, name := range []string{"CLERK_API_URL", "CLERK_SECRET_KEY"} {
		if _, set := os.LookupEnv(name); set {
			t.Skip(name + " is set in the environment, and would win over the test's .env")
		}
	}
	t.Parallel()
	env := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(env, []byte("CLERK_SECRET_KEY="+tokenTestKey+"\nCLERK_API_URL=http://api.example.com/v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := tokenCommand([]string{"-env-file", env, "-user", "user_1"}, io.Discard, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "CLERK_API_URL: must use https") {
		t.Fatalf("err = %v, want CLERK_API_URL refused", err)
	}
}
