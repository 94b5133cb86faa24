package clerkauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v3"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkapi"
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

// jwksBackend is a Backend API whose GET /v1/jwks answers body.
func jwksBackend(t *testing.T, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/jwks" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// verifyThrough verifies a token with a verifier whose JWKS comes from the
// Backend API at srv (its /v1), fetched with key, and returns the error.
func verifyThrough(t *testing.T, srv *httptest.Server, key string) error {
	t.Helper()
	v, err := New(Config{Issuer: testIssuer, APIURL: srv.URL + "/v1"}, Options{SecretKey: secretFunc(key), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := keys(t)
	_, err = v.Verify(context.Background(), a.token(nil))
	return err
}

// TestJWKSRedirectIsNotFollowed: an https CLERK_API_URL that redirects to
// plain http on the same host would send the secret key in clear text.
func TestJWKSRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var reached atomic.Int32 // and so no Authorization header either
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Add(1) }))
	t.Cleanup(target.Close)
	redirector := httptest.NewTLSServer(http.RedirectHandler(target.URL+"/v1/jwks", http.StatusFound))
	t.Cleanup(redirector.Close)
	key := "sk_test_" + strings.Repeat("r", 40)
	err := verifyThrough(t, redirector, key)
	if ReasonOf(err) != JWKSUnavailable || !errors.Is(err, clerkapi.ErrRedirect) || !strings.Contains(err.Error(), "refused to follow a redirect (HTTP 302") {
		t.Fatalf("err = %v, want jwks-unavailable for a refused redirect", err)
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the redirect's target got %d requests", n)
	}
	if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), target.URL) {
		t.Errorf("the error names the key or the redirect's target: %v", err)
	}
}

// TestJWKSHugeBodyFailsFast: a JWKS endpoint streaming 400 MiB (written
// piece by piece, never held) is cut off after 1 MiB.
func TestJWKSHugeBodyFailsFast(t *testing.T) {
	t.Parallel()
	var written atomic.Int64
	chunk := []byte(strings.Repeat(`{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB"},`, 1024))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[`))
		for sent := 0; sent < 400<<20; sent += len(chunk) {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	err := verifyThrough(t, srv, "sk_test_k")
	if ReasonOf(err) != JWKSUnavailable || !errors.Is(err, clerkapi.ErrResponseTooLarge) || !strings.Contains(err.Error(), "more than 1 MiB") {
		t.Fatalf("err = %v, want jwks-unavailable for a body over 1 MiB", err)
	}
	// The socket buffers hold a few MiB more than was read, no more.
	if n := written.Load(); n > 64<<20 {
		t.Errorf("the server wrote %d MiB before the fetch stopped reading", n>>20)
	}
}

// TestJWKSErrorCodesThatAreNotCodes: the codes of Clerk's error format are
// logged by the authorizer, so only those that look like codes are kept; an
// endpoint that echoes the request must not put the key in the log.
func TestJWKSErrorCodesThatAreNotCodes(t *testing.T) {
	t.Parallel()
	key := "sk_test_" + strings.Repeat("e", 40)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		codes := []string{r.Header.Get("Authorization"), "resource_not_found", "\x1b[2Jterminal", strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), "a", "b", "c"}
		body := map[string]any{"errors": []map[string]string{}}
		for _, c := range codes {
			body["errors"] = append(body["errors"].([]map[string]string), map[string]string{"code": c, "message": r.Header.Get("Authorization")})
		}
		raw, _ := json.Marshal(body)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(raw)
	}))
	t.Cleanup(echo.Close)
	err := verifyThrough(t, echo, key)
	msg := err.Error()
	want := "answered HTTP 400 [" + clerkapi.WithheldCode + " resource_not_found " + clerkapi.WithheldCode + " and 4 more]"
	if ReasonOf(err) != JWKSUnavailable || !strings.Contains(msg, want) {
		t.Fatalf("err = %q, want it to contain %q", msg, want)
	}
	if strings.Contains(msg, "sk_") || strings.Contains(msg, "\x1b") {
		t.Errorf("the error carries the echo: %q", msg)
	}
}

// weakKeys are keys of the kinds a JWKS may hold and the verifier skips.
var (
	weakOnce sync.Once
	weakRSA  testKey // 1024 bits
	ecKey    *ecdsa.PrivateKey
)

func weak(t *testing.T) (testKey, *ecdsa.PrivateKey) {
	t.Helper()
	weakOnce.Do(func() {
		priv, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			panic(err)
		}
		weakRSA = testKey{kid: "ins_weak", priv: priv}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return weakRSA, ecKey
}

func jwkJSON(t *testing.T, k jose.JSONWebKey) string {
	t.Helper()
	raw, err := k.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// unfitKeys is a JWKS entry of each kind that is skipped, by kid.
func unfitKeys(t *testing.T) map[string]string {
	a, _ := keys(t)
	w, ec := weak(t)
	return map[string]string{
		w.kid:       jwkJSON(t, jose.JSONWebKey{Key: &w.priv.PublicKey, KeyID: w.kid, Algorithm: "RS256", Use: "sig"}),
		"ins_ec":    jwkJSON(t, jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "ins_ec", Use: "sig"}),
		"ins_e1":    jwkJSON(t, jose.JSONWebKey{Key: &rsa.PublicKey{N: a.priv.N, E: 1}, KeyID: "ins_e1", Use: "sig"}),
		"ins_enc":   jwkJSON(t, jose.JSONWebKey{Key: &a.priv.PublicKey, KeyID: "ins_enc", Use: "enc"}),
		"ins_rs512": jwkJSON(t, jose.JSONWebKey{Key: &a.priv.PublicKey, KeyID: "ins_rs512", Algorithm: "RS512"}),
		"ins_noalg": jwkJSON(t, jose.JSONWebKey{Key: &a.priv.PublicKey, KeyID: "ins_noalg", Use: "sig"}),
		"ins_xyz":   `{"kty":"XYZ","kid":"ins_xyz","x":"AQAB"}`,
		"ins_bad":   `{"kty":"RSA","kid":"ins_bad","n":"!!!","e":"AQAB"}`,
		"":          jwkJSON(t, jose.JSONWebKey{Key: &a.priv.PublicKey, Algorithm: "RS256"}),
	}
}

// TestJWKSSkipsUnfitKeys: a JWKS key that is not RSA, has fewer than 2048
// bits, a bad exponent, is for another use or algorithm, or cannot be
// decoded at all is skipped; the rest serve, each skipped key is reported
// once, and a token naming one is refused with the key's problem.
func TestJWKSSkipsUnfitKeys(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	unfit := unfitKeys(t)
	entries := []string{jwkJSON(t, jose.JSONWebKey{Key: &a.priv.PublicKey, KeyID: a.kid, Algorithm: "RS256", Use: "sig"})}
	for _, e := range unfit {
		entries = append(entries, e)
	}
	srv := jwksBackend(t, `{"keys":[`+strings.Join(entries, ",")+`]}`)
	clk := newClock()
	cache := newJWKSCache(backendJWKS(srv.URL+"/v1", secretFunc("sk_test_k"), nil), clk.Now)
	var mu sync.Mutex
	reported := map[string]int{}
	cache.warn = func(_ context.Context, msg string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		reported[fmt.Sprint(args...)]++
	}
	ctx := context.Background()
	if k, err := cache.key(ctx, a.kid); err != nil || k.KeyID != a.kid {
		t.Fatalf("the usable key: %v, %v", k, err)
	}
	for kid, want := range map[string]string{
		"ins_weak":  "RSA key has 1024 bits, want at least 2048",
		"ins_ec":    "not an RSA public key",
		"ins_e1":    "RSA key has exponent 1, want an odd one of at least 3",
		"ins_enc":   "use \"enc\", not sig",
		"ins_rs512": "alg \"RS512\", not RS256",
		"ins_noalg": "no alg (a key is used only for the RS256 it names)",
		"ins_xyz":   "key type \"XYZ\", not RSA",
		"ins_bad":   "not a key go-jose can decode",
	} {
		_, err := cache.key(ctx, kid)
		if ReasonOf(err) != JWKKidMismatch || !strings.HasSuffix(err.Error(), "is not used: "+want) {
			t.Errorf("kid %s: %v, want jwk-kid-mismatch saying %q", kid, err, want)
		}
	}
	clk.Advance(jwksTTL) // a refresh finds the same keys: nothing is reported again
	if _, err := cache.key(ctx, a.kid); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refresh", func() bool { cache.mu.Lock(); defer cache.mu.Unlock(); return cache.fetchedAt.Equal(clk.Now()) })
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != len(unfit)-1 { // the key without a kid has nothing to name it by
		t.Errorf("reported %d keys, want %d: %v", len(reported), len(unfit)-1, reported)
	}
	for what, n := range reported {
		if n != 1 {
			t.Errorf("%s reported %d times", what, n)
		}
	}
}

// TestJWKSWithNoUsableKeyIsUnavailable: a set whose keys are all unfit is a
// failed fetch, which says why.
func TestJWKSWithNoUsableKeyIsUnavailable(t *testing.T) {
	t.Parallel()
	w, _ := weak(t)
	unfit := unfitKeys(t)
	srv := jwksBackend(t, `{"keys":[`+unfit[w.kid]+`,`+unfit["ins_xyz"]+`]}`)
	cfg := testConfig()
	cfg.APIURL = srv.URL + "/v1"
	v, err := New(cfg, Options{SecretKey: secretFunc("sk_test_k"), Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), w.token(nil))
	want := `the JWKS has no usable key: kid "ins_weak": RSA key has 1024 bits, want at least 2048; kid "ins_xyz": key type "XYZ", not RSA`
	if ReasonOf(err) != JWKSUnavailable || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want jwks-unavailable saying %q", err, want)
	}
}

// TestJWTKeyExponent: CLERK_JWT_KEY is held to the same rule as the JWKS.
func TestJWTKeyExponent(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: a.priv.N, E: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParsePublicKey(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	if err == nil || err.Error() != "RSA key has exponent 1, want an odd one of at least 3" {
		t.Fatalf("ParsePublicKey with e = 1: %v", err)
	}
}
