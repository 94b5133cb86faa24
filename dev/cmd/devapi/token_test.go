package main

import (
	"context"
	"encoding/json"
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
	skipIfRealInstance(t)
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

// skipIfRealInstance skips a test that needs the .env it writes (or none)
// to decide between the stand-in and a real instance.
func skipIfRealInstance(t *testing.T) {
	t.Helper()
	for _, name := range []string{"CLERK_API_URL", "CLERK_SECRET_KEY"} {
		if _, set := os.LookupEnv(name); set {
			t.Skip(name + " is set in the environment, and would win over the test's .env")
		}
	}
}

// TestTokenTypesComeFromTheStandIn: each -type prints a token the
// stand-in's Backend API verifies, of the subject make token promises.
func TestTokenTypesComeFromTheStandIn(t *testing.T) {
	skipIfRealInstance(t)
	t.Parallel()
	cache := t.TempDir()
	s, err := startStandIn(cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	tests := []struct {
		typ, verify, field, subject string
		args                        []string
	}{
		{m2mToken, "/m2m_tokens/verify", "token", s.machine.ID, nil},
		{apiKeyToken, "/api_keys/verify", "secret", adminID, nil},
		{apiKeyToken, "/api_keys/verify", "secret", userID, []string{"-user", userID}},
		{oauthToken, "/oauth_applications/access_tokens/verify", "access_token", userID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ+strings.Join(tt.args, ""), func(t *testing.T) {
			var stdout, stderr strings.Builder
			args := append([]string{"-cache", cache, "-env-file", filepath.Join(cache, "no.env"), "-type", tt.typ}, tt.args...)
			if err := tokenCommand(args, &stdout, &stderr); err != nil {
				t.Fatal(err)
			}
			token := strings.TrimSuffix(stdout.String(), "\n")
			body, _ := json.Marshal(map[string]string{tt.field: token})
			var verified struct {
				Subject string `json:"subject"`
				Revoked bool   `json:"revoked"`
				Expired bool   `json:"expired"`
			}
			status, err := postJSON(context.Background(), s.fake.URL()+tt.verify, "Bearer "+s.fake.SecretKey(), body, &verified)
			if err != nil || status != http.StatusOK || verified.Subject != tt.subject || verified.Revoked || verified.Expired {
				t.Fatalf("%s verifies as %d %+v, %v; want a live token of %s", tt.typ, status, verified, err, tt.subject)
			}
			if tt.typ == m2mToken && !strings.Contains(stderr.String(), s.machine.ID) {
				t.Errorf("stderr %q does not name the machine %s", stderr.String(), s.machine.ID)
			}
		})
	}
	var stdout strings.Builder
	err = tokenCommand([]string{"-cache", cache, "-env-file", filepath.Join(cache, "no.env"), "-type", oauthToken, "-user", "user_nobody"}, &stdout, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "has no user user_nobody") {
		t.Errorf("an OAuth token for an unknown user: %v", err)
	}
}

// TestTokenTypesNeedTheStandIn: with a real instance, make token says in
// one line where a machine authentication token comes from instead.
func TestTokenTypesNeedTheStandIn(t *testing.T) {
	skipIfRealInstance(t)
	t.Parallel()
	env := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(env, []byte("CLERK_SECRET_KEY="+tokenTestKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{m2mToken, apiKeyToken, oauthToken} {
		err := tokenCommand([]string{"-env-file", env, "-type", typ}, io.Discard, io.Discard)
		if err == nil || err.Error() != realInstanceHint[typ] || strings.Contains(err.Error(), "\n") {
			t.Errorf("-type %s: %v, want the one-line hint", typ, err)
		}
	}
}

func TestTokenFlagsThatDoNotGoTogether(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ, user string
		admin     bool
		want      string // "" = accepted
	}{
		{sessionToken, "", true, ""},
		{apiKeyToken, userID, false, ""},
		{"jwt", "", false, "-type must be one of session, m2m, api_key, oauth"},
		{m2mToken, "", true, "-admin makes an admin's session token"},
		{m2mToken, userID, false, "not a user's: drop -user"},
	}
	for _, tt := range tests {
		err := checkTokenFlags(tt.typ, tt.user, tt.admin)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("checkTokenFlags(%q, %q, %v) = %v, want %q", tt.typ, tt.user, tt.admin, err, tt.want)
		}
	}
}
