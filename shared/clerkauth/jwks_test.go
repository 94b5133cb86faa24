package clerkauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
)

func secretFunc(key string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return key, nil }
}

// TestJWKSThroughTheBackendAPI fetches the keys from the Clerk stand-in with
// the real SDK client, as the authorizer does without CLERK_JWT_KEY.
func TestJWKSThroughTheBackendAPI(t *testing.T) {
	t.Parallel()
	clerk := clerkfaketest.Start(t, clerkfake.Config{})
	tok, err := clerk.MintToken(clerkfake.TokenParams{UserID: "user_1"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Issuer: clerk.Issuer(), APIURL: clerk.URL()}

	v, err := New(cfg, Options{SecretKey: secretFunc(clerk.SecretKey())})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := v.Verify(context.Background(), tok); err != nil || id.UserID != "user_1" {
		t.Fatalf("Verify = %v, %v", id, err)
	}

	wrong := "sk_test_" + strings.Repeat("w", 40)
	v, err = New(cfg, Options{SecretKey: secretFunc(wrong)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), tok)
	if ReasonOf(err) != JWKSUnavailable || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), wrong) {
		t.Fatalf("with a wrong secret key: %v", err)
	}
}

// TestJWKSFetchErrorNeverEchoesTheResponse: a proxy or a misrouted URL may
// answer with anything, even the request's own Authorization header; none of
// it may reach the error, which the authorizer logs.
func TestJWKSFetchErrorNeverEchoesTheResponse(t *testing.T) {
	t.Parallel()
	key := "sk_test_" + strings.Repeat("s", 40)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html>bad gateway: " + r.Header.Get("Authorization") + "</html>"))
	}))
	t.Cleanup(proxy.Close)
	v, err := New(Config{Issuer: testIssuer, APIURL: proxy.URL + "/v1"}, Options{SecretKey: secretFunc(key)})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := keys(t)
	_, err = v.Verify(context.Background(), a.token(nil))
	if ReasonOf(err) != JWKSUnavailable {
		t.Fatalf("err = %v", err)
	}
	if msg := err.Error(); strings.Contains(msg, key) || strings.Contains(msg, "html") {
		t.Fatalf("the error repeats the response: %q", msg)
	}
}
