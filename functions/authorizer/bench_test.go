package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/clerk/clerk-sdk-go/v2"
	clerkhttp "github.com/clerk/clerk-sdk-go/v2/http"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
	"github.com/clerk/clerk-sdk-go/v2/jwt"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkauth"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/settings"
)

// The benchmarks below run side by side in one package, so one
// `go test -bench` gives comparable numbers: the bare RSA verification every
// fresh token must pay, a fresh token through clerkauth, a repeated token, the
// whole authorizer invocation as the Lambda runtime drives it, and the peers:
// clerk-sdk-go's own jwt.Verify and its HTTP middleware. `make bench` runs
// them all and puts them in docs/benchmarks.md.

// benchFixture is a stand-in instance (no listener: the key is passed in
// CLERK_JWT_KEY, so nothing touches the network) and a token from it.
type benchFixture struct {
	clerk *clerkfake.Server
	token string
	env   map[string]string
}

func newBenchFixture(b *testing.B) benchFixture {
	b.Helper()
	clerk, err := clerkfake.New(clerkfake.Config{})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := clerk.MintToken(clerkfake.TokenParams{UserID: "user_1", AuthorizedParty: origin, OrgID: "org_1", OrgRole: "admin"})
	if err != nil {
		b.Fatal(err)
	}
	return benchFixture{clerk: clerk, token: tok, env: map[string]string{
		"CLERK_JWT_KEY":            clerk.PublicKeyPEM(),
		"CLERK_ISSUER":             clerk.Issuer(),
		"CLERK_AUTHORIZED_PARTIES": origin,
	}}
}

func (f benchFixture) verifier(b *testing.B, memoSize int) *clerkauth.Verifier {
	b.Helper()
	cfg, err := settings.ReadVerifier(settings.Map(f.env))
	if err != nil {
		b.Fatal(err)
	}
	v, err := clerkauth.New(cfg, clerkauth.Options{MemoSize: memoSize})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkRSAVerifyBaseline is the floor for a fresh token: hashing the
// signing input and one crypto/rsa PKCS#1 v1.5 SHA-256 verification of a
// 2048-bit signature.
func BenchmarkRSAVerifyBaseline(b *testing.B) {
	f := newBenchFixture(b)
	jwk, err := clerkauth.ParsePublicKey(f.clerk.PublicKeyPEM())
	if err != nil {
		b.Fatal(err)
	}
	pub := jwk.Key.(*rsa.PublicKey)
	i := strings.LastIndexByte(f.token, '.')
	input := []byte(f.token[:i])
	sig, err := base64.RawURLEncoding.DecodeString(f.token[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		digest := sha256.Sum256(input)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyFresh is a full verification of a token not seen before:
// the memo is off, so every iteration parses, verifies and checks. Its
// target: at most 1.5x BenchmarkRSAVerifyBaseline, and below
// BenchmarkSDKJWTVerify.
func BenchmarkVerifyFresh(b *testing.B) {
	f := newBenchFixture(b)
	v := f.verifier(b, -1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, f.token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached is a token the verifier has seen: a hash and a lookup.
func BenchmarkVerifyCached(b *testing.B) {
	f := newBenchFixture(b)
	v := f.verifier(b, 0)
	ctx := context.Background()
	if _, err := v.Verify(ctx, f.token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, f.token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyMachineCached is a repeated opaque M2M token: the cache in
// front of the Backend API (a hash and a lookup), beside the session memo's
// BenchmarkVerifyCached. The first verification asks the stand-in.
func BenchmarkVerifyMachineCached(b *testing.B) {
	f := newBenchFixture(b)
	if err := f.clerk.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer f.clerk.Close()
	worker, err := f.clerk.AddMachine("bench")
	if err != nil {
		b.Fatal(err)
	}
	tok := clerkfaketest.M2MToken(b, f.clerk, worker, "opaque", time.Hour)
	env := map[string]string{"CLERK_API_URL": f.clerk.URL(), "CLERK_SECRET_KEY": f.clerk.SecretKey(),
		"CLERK_ACCEPTED_TOKENS": "session_token,m2m_token"}
	for k, v := range f.env {
		env[k] = v
	}
	a, err := newAuthorizer(settings.Map(env), logging.New(&bytes.Buffer{}, slog.LevelInfo))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.verifier.Verify(ctx, tok.Token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.verifier.Verify(ctx, tok.Token); err != nil {
			b.Fatal(err)
		}
	}
	if n := f.clerk.Requests("/v1/m2m_tokens/verify"); n != 1 {
		b.Fatalf("%d verifications reached Clerk, want 1", n)
	}
}

// BenchmarkAuthorizerInvoke is the whole authorizer call for a repeated
// token: the HTTP API 2.0 event's JSON in, the simple response's JSON out,
// through aws-lambda-go's handler wrapper, as the Lambda runtime calls it.
func BenchmarkAuthorizerInvoke(b *testing.B) {
	f := newBenchFixture(b)
	var logs bytes.Buffer
	a, err := newAuthorizer(settings.Map(f.env), logging.New(&logs, slog.LevelInfo))
	if err != nil {
		b.Fatal(err)
	}
	event, err := json.Marshal(map[string]any{
		"version": "2.0", "type": "REQUEST", "routeKey": "GET /private", "rawPath": "/private",
		"routeArn":       "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/GET/private",
		"identitySource": []string{"Bearer " + f.token},
		"headers":        map[string]string{"authorization": "Bearer " + f.token, "user-agent": "bench", "accept": "*/*"},
		"requestContext": map[string]any{"accountId": "123456789012", "apiId": "abcdef123", "requestId": "req-1", "stage": "$default",
			"http": map[string]any{"method": "GET", "path": "/private", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	h := lambda.NewHandler(a.handle)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		logs.Reset()
		out, err := h.Invoke(ctx, event)
		if err != nil || !bytes.Contains(out, []byte(`"isAuthorized":true`)) {
			b.Fatalf("invoke: %s, %v", out, err)
		}
	}
}

// BenchmarkSDKJWTVerify is clerk-sdk-go's jwt.Verify alone, handed the key
// (no fetch) and asked for the checks this project also makes: the
// authorized party and a 5 s leeway. The fresh path no longer calls it (it
// decodes the payload three times); it is the peer the fresh path must beat.
func BenchmarkSDKJWTVerify(b *testing.B) {
	f := newBenchFixture(b)
	key, err := clerk.JSONWebKeyFromPEM(f.clerk.PublicKeyPEM())
	if err != nil {
		b.Fatal(err)
	}
	params := &jwt.VerifyParams{
		Token:                  f.token,
		JWK:                    key,
		Leeway:                 5 * time.Second,
		AuthorizedPartyHandler: func(azp string) bool { return azp == origin },
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		claims, err := jwt.Verify(ctx, params)
		if err != nil || claims.Subject != "user_1" {
			b.Fatalf("verify: %v", err)
		}
	}
}

// BenchmarkSDKMiddleware is clerk-sdk-go's HTTP middleware
// (WithHeaderAuthorization) as a Go server would use it: its JWKS client
// points at the Clerk stand-in on loopback, the first request fills the
// middleware's key cache, and every iteration then serves a request that
// carries the token.
func BenchmarkSDKMiddleware(b *testing.B) {
	f := newBenchFixture(b)
	if err := f.clerk.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.clerk.Close() })
	apiURL, secret := f.clerk.URL(), f.clerk.SecretKey()
	client := jwks.NewClient(&clerk.ClientConfig{BackendConfig: clerk.BackendConfig{URL: &apiURL, Key: &secret}})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if claims, ok := clerk.SessionClaimsFromContext(r.Context()); !ok || claims.Subject != "user_1" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	h := clerkhttp.WithHeaderAuthorization(
		clerkhttp.JWKSClient(client),
		clerkhttp.AuthorizedPartyMatches(origin),
		clerkhttp.Leeway(5*time.Second),
	)(next)
	req := httptest.NewRequest(http.MethodGet, "/private", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	serve := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			b.Fatalf("middleware answered %d", rec.Code)
		}
	}
	serve()
	if n := f.clerk.Requests("/v1/jwks"); n != 1 {
		b.Fatalf("the first request fetched the JWKS %d times, want 1", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
	if n := f.clerk.Requests("/v1/jwks"); n != 1 {
		b.Fatalf("the middleware fetched the JWKS %d times, want once", n)
	}
}
