package clerkauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/identity"
)

// backendAPI is a MachineAPI whose answers tests set per token, counting
// the calls per endpoint.
type backendAPI struct {
	mu      sync.Mutex
	answers map[string]*clerkapi.VerifiedToken
	err     error // when set, every call fails with it
	calls   map[identity.TokenType]int
}

func newBackendAPI() *backendAPI {
	return &backendAPI{answers: map[string]*clerkapi.VerifiedToken{}, calls: map[identity.TokenType]int{}}
}

func (b *backendAPI) answer(t identity.TokenType, token string) (*clerkapi.VerifiedToken, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls[t]++
	if b.err != nil {
		return nil, b.err
	}
	vt, ok := b.answers[token]
	if !ok {
		return nil, fmt.Errorf("clerkapi: verify: %w", &clerkapi.APIError{Status: 404, Code: "resource_not_found"})
	}
	copied := *vt
	return &copied, nil
}

func (b *backendAPI) VerifyM2MToken(_ context.Context, token string) (*clerkapi.VerifiedToken, error) {
	return b.answer(identity.M2MToken, token)
}

func (b *backendAPI) VerifyAPIKey(_ context.Context, secret string) (*clerkapi.VerifiedToken, error) {
	return b.answer(identity.APIKey, secret)
}

func (b *backendAPI) VerifyOAuthToken(_ context.Context, token string) (*clerkapi.VerifiedToken, error) {
	return b.answer(identity.OAuthToken, token)
}

func (b *backendAPI) total() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.calls {
		n += c
	}
	return n
}

const (
	machineA = "mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk"
	machineB = "mch_2yGkLpQ7Y3rXSwtU24CzTk9I7Em"
	userA    = "user_2xhFjEI5X2qWRvtV13BzSj8H6Dk"
)

// opaque is a well-formed opaque token: prefix and 32 random alphanumerics.
func opaque(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func newMachineVerifier(t *testing.T, api MachineAPI, clk *clock, ttl time.Duration, accepts ...identity.TokenType) *Verifier {
	t.Helper()
	a, _ := keys(t)
	cfg := testConfig()
	cfg.JWTKey = a.publicPEM()
	v, err := New(cfg, Options{Now: clk.Now, Accepts: accepts, Machines: api, MachineTokenTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var allTypes = identity.TokenTypes

func TestMachineTokensNotAcceptedCostNothing(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v := newStaticVerifier(t, testConfig(), a, newClock(), 0) // the default: session tokens alone
	m2mJWT := a.sign(map[string]any{"alg": "RS256", "kid": "unknown-kid", "cat": m2mCategory},
		map[string]any{"sub": machineA, "exp": t0.Add(time.Hour).Unix()})
	oauthJWT := a.sign(map[string]any{"alg": "RS256", "kid": a.kid, "typ": "at+jwt"}, map[string]any{"sub": userA})
	for _, tok := range []string{opaque("mt_"), opaque("ak_"), opaque("oat_"), m2mJWT, oauthJWT} {
		if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != TokenTypeNotAccepted {
			t.Errorf("%.12s…: %v, want %s", tok, err, TokenTypeNotAccepted)
		}
	}
	// Without a category, an M2M JWT is told by its sub once verified.
	legacy := a.sign(map[string]any{"alg": "RS256", "kid": a.kid}, map[string]any{"sub": machineA, "exp": t0.Add(time.Hour).Unix()})
	if _, err := v.Verify(context.Background(), legacy); ReasonOf(err) != TokenTypeNotAccepted {
		t.Errorf("an M2M JWT without a category: %v, want %s", err, TokenTypeNotAccepted)
	}
	if _, err := New(testConfig(), Options{Accepts: []identity.TokenType{identity.APIKey}, FetchJWKS: (&jwksServer{}).fetch}); err == nil {
		t.Error("machine types accepted without a Backend API client")
	}
}

// Strings that cannot be one of Clerk's tokens are refused before any call:
// a storm of them costs Clerk nothing.
func TestMalformedOpaqueTokensCostNoCall(t *testing.T) {
	t.Parallel()
	api := newBackendAPI()
	v := newMachineVerifier(t, api, newClock(), time.Minute, allTypes...)
	junk := make([]byte, 64)
	for i := range 1000 {
		_, _ = rand.Read(junk)
		var tok string
		switch i % 4 {
		case 0:
			tok = "mt_" + string(junk[:i%60+1]) // raw bytes
		case 1:
			tok = "mt_" + hex.EncodeToString(junk[:i%8]) // too short
		case 2:
			tok = "mt_" + strings.Repeat("a", 257+i) // too long
		default:
			tok = "mt_" + hex.EncodeToString(junk[:16]) + "." // a character Clerk never uses
		}
		if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != TokenMalformed && ReasonOf(err) != TokenTooLarge {
			t.Fatalf("%q: %v, want %s", tok, err, TokenMalformed)
		}
	}
	if n := api.total(); n != 0 {
		t.Errorf("1,000 malformed mt_ strings made %d Backend API calls, want 0", n)
	}
}

func TestOpaqueTokenCache(t *testing.T) {
	t.Parallel()
	api, clk := newBackendAPI(), newClock()
	v := newMachineVerifier(t, api, clk, time.Minute, identity.SessionToken, identity.M2MToken)
	tok := opaque("mt_")
	api.answers[tok] = &clerkapi.VerifiedToken{ID: "mt_" + strings.Repeat("0", 32), Subject: machineA,
		Scopes: []string{machineB}, Claims: json.RawMessage(`{"job":"nightly"}`), Expiration: t0.Add(time.Hour)}
	for range 50 {
		id, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if id.Type() != identity.M2MToken || id.Subject != machineA || id.UserID != "" || id.Machine() != machineA ||
			id.Scopes[0] != machineB || string(id.Claims) != `{"job":"nightly"}` || !id.Expires.Equal(t0.Add(time.Hour)) {
			t.Fatalf("identity = %+v", id)
		}
		clk.Advance(time.Second)
	}
	if n := api.calls[identity.M2MToken]; n != 1 {
		t.Errorf("50 requests within the TTL made %d Backend API calls, want 1", n)
	}
	// Revoked meanwhile: refused once the TTL has passed.
	api.answers[tok].Revoked = true
	clk.Advance(11 * time.Second)
	if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != TokenRevoked {
		t.Fatalf("a revoked token after the TTL: %v, want %s", err, TokenRevoked)
	}
	// The refusal is remembered briefly, then asked again.
	for range 5 {
		_, _ = v.Verify(context.Background(), tok)
	}
	if n := api.calls[identity.M2MToken]; n != 2 {
		t.Errorf("a repeated revoked token made %d calls in all, want 2", n)
	}
	clk.Advance(refusalTTL)
	if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != TokenRevoked || api.calls[identity.M2MToken] != 3 {
		t.Errorf("after the refusal's TTL: %v, %d calls", err, api.calls[identity.M2MToken])
	}
}

// A token is trusted until its expiration when that comes before the TTL,
// and a TTL of 0 trusts nothing.
func TestOpaqueTokenCacheStopsAtExpiration(t *testing.T) {
	t.Parallel()
	api, clk := newBackendAPI(), newClock()
	v := newMachineVerifier(t, api, clk, time.Minute, identity.APIKey)
	tok := opaque("ak_")
	api.answers[tok] = &clerkapi.VerifiedToken{ID: "ak_" + strings.Repeat("1", 32), Subject: userA, Expiration: t0.Add(10 * time.Second)}
	if id, err := v.Verify(context.Background(), tok); err != nil || id.UserID != userA || id.Type() != identity.APIKey {
		t.Fatalf("a user's API key: %+v, %v", id, err)
	}
	clk.Advance(16 * time.Second) // past the expiration and the clock skew
	if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != TokenExpired {
		t.Errorf("after its expiration: %v, want %s", err, TokenExpired)
	}
	if n := api.calls[identity.APIKey]; n != 2 {
		t.Errorf("%d calls, want 2: the cache held the token past its expiration", n)
	}
	uncached := newMachineVerifier(t, api, clk, 0, identity.APIKey)
	api.answers[tok].Expiration = time.Time{}
	for range 3 {
		_, _ = uncached.Verify(context.Background(), tok)
	}
	if n := api.calls[identity.APIKey]; n != 5 {
		t.Errorf("with a TTL of 0, 3 requests made %d calls, want 3", n-2)
	}
}

func TestOpaqueTokenRefusals(t *testing.T) {
	t.Parallel()
	api, clk := newBackendAPI(), newClock()
	v := newMachineVerifier(t, api, clk, time.Minute, allTypes...)
	known := func(prefix string, vt clerkapi.VerifiedToken) string {
		tok := opaque(prefix)
		api.answers[tok] = &vt
		return tok
	}
	cases := []struct {
		name  string
		token string
		want  Reason
	}{
		{"unknown", opaque("mt_"), TokenInvalid},
		{"revoked", known("ak_", clerkapi.VerifiedToken{Subject: userA, Revoked: true}), TokenRevoked},
		{"expired by Clerk", known("mt_", clerkapi.VerifiedToken{Subject: machineA, Expired: true}), TokenExpired},
		{"expired by the clock", known("mt_", clerkapi.VerifiedToken{Subject: machineA, Expiration: t0.Add(-time.Minute)}), TokenExpired},
		{"an M2M token for a user", known("mt_", clerkapi.VerifiedToken{Subject: userA}), TokenMalformed},
		{"an OAuth token for a machine", known("oat_", clerkapi.VerifiedToken{Subject: machineA}), TokenMalformed},
		{"a scope with a comma", known("ak_", clerkapi.VerifiedToken{Subject: userA, Scopes: []string{"read,admin"}}), TokenMalformed},
		{"claims too large", known("ak_", clerkapi.VerifiedToken{Subject: userA,
			Claims: json.RawMessage(`{"x":"` + strings.Repeat("a", maxMachineClaims) + `"}`)}), TokenMalformed},
	}
	for _, c := range cases {
		if id, err := v.Verify(context.Background(), c.token); ReasonOf(err) != c.want {
			t.Errorf("%s: %+v, %v; want %s", c.name, id, err, c.want)
		}
	}
	api.err = fmt.Errorf("clerkapi: verify: %w", &clerkapi.APIError{Status: 400, Code: "form_param_format_invalid"})
	if _, err := v.Verify(context.Background(), opaque("mt_")); ReasonOf(err) != TokenInvalid {
		t.Errorf("a token Clerk calls malformed: %v, want %s", err, TokenInvalid)
	}
	// Clerk failing is never a grant, and is not remembered: the next
	// request asks again.
	down := opaque("oat_")
	api.err = errors.New("clerkapi: verify oauth token: gave up after 3 attempts: HTTP 503")
	api.calls[identity.OAuthToken] = 0
	for range 2 {
		if _, err := v.Verify(context.Background(), down); ReasonOf(err) != ClerkUnavailable {
			t.Errorf("Clerk unavailable: %v, want %s", err, ClerkUnavailable)
		}
	}
	if n := api.calls[identity.OAuthToken]; n != 2 {
		t.Errorf("an unavailable Clerk was asked %d times for two requests, want 2", n)
	}
}

// M2M JWTs are verified with the instance's keys: no Backend API call.
func TestM2MJWT(t *testing.T) {
	t.Parallel()
	a, b := keys(t)
	api, clk := newBackendAPI(), newClock()
	v := newMachineVerifier(t, api, clk, time.Minute, identity.M2MToken)
	claims := func() map[string]any {
		return map[string]any{"iss": testIssuer, "sub": machineA, "jti": "mt_" + strings.Repeat("a", 32),
			"iat": t0.Unix(), "nbf": t0.Unix(), "exp": t0.Add(time.Hour).Unix(),
			"scopes": machineB + " mch_3other", "job": "sync"}
	}
	hdr := map[string]any{"alg": "RS256", "kid": a.kid, "typ": "JWT", "cat": m2mCategory}
	id, err := v.Verify(context.Background(), a.sign(hdr, claims()))
	if err != nil {
		t.Fatal(err)
	}
	if id.Type() != identity.M2MToken || id.Subject != machineA || id.UserID != "" || id.TokenID != "mt_"+strings.Repeat("a", 32) ||
		strings.Join(id.Scopes, " ") != machineB+" mch_3other" || !strings.Contains(string(id.Claims), `"job":"sync"`) {
		t.Errorf("identity = %+v (claims %s)", id, id.Claims)
	}
	noCat := a.sign(map[string]any{"alg": "RS256", "kid": a.kid}, claims())
	if id, err := v.Verify(context.Background(), noCat); err != nil || id.Subject != machineA {
		t.Errorf("an M2M JWT without a category: %+v, %v", id, err)
	}
	edited := func(edit func(map[string]any)) map[string]any {
		c := claims()
		edit(c)
		return c
	}
	forged := b.sign(map[string]any{"alg": "RS256", "kid": a.kid, "cat": m2mCategory}, claims())
	ignored := a.sign(map[string]any{"alg": "RS256", "kid": a.kid, "cat": ignoreCategory}, claims())
	if id, err := v.Verify(context.Background(), ignored); err != nil || id.Subject != machineA {
		t.Errorf("an M2M JWT of an instance that ignores categories: %+v, %v", id, err)
	}
	for name, c := range map[string]struct {
		token string
		want  Reason
	}{
		"expired":                           {a.sign(hdr, edited(func(c map[string]any) { c["exp"] = t0.Add(-time.Minute).Unix() })), TokenExpired},
		"signed by another key":             {forged, TokenInvalidSignature},
		"an M2M category for a user":        {a.sign(hdr, edited(func(c map[string]any) { c["sub"] = userA })), TokenMalformed},
		"living a century":                  {a.sign(hdr, edited(func(c map[string]any) { c["exp"] = t0.AddDate(100, 0, 0).Unix() })), TokenMalformed},
		"without iat":                       {a.sign(hdr, edited(func(c map[string]any) { delete(c, "iat") })), TokenMalformed},
		"a scope with a comma":              {a.sign(hdr, edited(func(c map[string]any) { c["scopes"] = "mch_a,mch_b mch_c" })), TokenMalformed},
		"a jti of another kind":             {a.sign(hdr, edited(func(c map[string]any) { c["jti"] = "a,b" })), TokenMalformed},
		"a session category, a machine sub": {a.sign(map[string]any{"alg": "RS256", "kid": a.kid, "cat": sessionCategory}, claims()), TokenTypeNotAccepted},
	} {
		if _, err := v.Verify(context.Background(), c.token); ReasonOf(err) != c.want {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
	}
	if api.total() != 0 {
		t.Errorf("M2M JWTs made %d Backend API calls", api.total())
	}
	// With M2M tokens accepted but not sessions, a session is refused.
	if _, err := v.Verify(context.Background(), a.token(nil)); ReasonOf(err) != TokenTypeNotAccepted {
		t.Errorf("a session token where only M2M tokens are accepted: %v", err)
	}
}

// A JWT of another category (a JWT template's) is no session token, and an
// OAuth JWT access token is Clerk's to verify.
func TestJWTCategories(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	api, clk := newBackendAPI(), newClock()
	v := newMachineVerifier(t, api, clk, time.Minute, identity.SessionToken, identity.OAuthToken)
	template := a.sign(map[string]any{"alg": "RS256", "kid": a.kid, "cat": "cl_B7d4PD222AAA"}, sessionClaims())
	if _, err := v.Verify(context.Background(), template); ReasonOf(err) != TokenMalformed {
		t.Errorf("a JWT template's token: %v, want %s", err, TokenMalformed)
	}
	for _, cat := range []string{sessionCategory, ignoreCategory} {
		tok := a.sign(map[string]any{"alg": "RS256", "kid": a.kid, "cat": cat}, sessionClaims())
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("a session token of category %s: %v", cat, err)
		}
	}
	// A session-category token with a machine's sub is neither.
	posing := a.sign(map[string]any{"alg": "RS256", "kid": a.kid, "cat": sessionCategory}, map[string]any{"sub": machineB, "exp": t0.Add(time.Hour).Unix()})
	if _, err := v.Verify(context.Background(), posing); ReasonOf(err) != TokenMalformed {
		t.Errorf("a session-category token with a machine's sub: %v, want %s", err, TokenMalformed)
	}
	// A forged OAuth JWT costs no request.
	_, other := keys(t)
	for name, tok := range map[string]string{
		"unsigned":              segment(map[string]any{"alg": "none", "typ": "at+jwt"}) + "." + segment(map[string]any{"sub": userA}) + ".",
		"signed by another key": other.sign(map[string]any{"alg": "RS256", "kid": a.kid, "typ": "at+jwt"}, map[string]any{"sub": userA}),
	} {
		if _, err := v.Verify(context.Background(), tok); err == nil {
			t.Errorf("a forged OAuth JWT (%s) was accepted", name)
		}
	}
	if n := api.calls[identity.OAuthToken]; n != 0 {
		t.Errorf("forged OAuth JWTs made %d Backend API calls", n)
	}
	oauth := a.sign(map[string]any{"alg": "RS256", "kid": a.kid, "typ": "at+jwt"}, map[string]any{"sub": userA})
	api.answers[oauth] = &clerkapi.VerifiedToken{ID: "oat_" + strings.Repeat("b", 32), Subject: userA, Scopes: []string{"profile"}}
	for range 3 {
		id, err := v.Verify(context.Background(), oauth)
		if err != nil || id.Type() != identity.OAuthToken || id.UserID != userA {
			t.Fatalf("an OAuth JWT access token: %+v, %v", id, err)
		}
	}
	if n := api.calls[identity.OAuthToken]; n != 1 {
		t.Errorf("an OAuth JWT repeated 3 times made %d calls, want 1", n)
	}
}

// With the API's machine set, an M2M token must name it in its scopes, be
// it opaque or a JWT; other types are not concerned.
func TestM2MAudience(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	api, clk := newBackendAPI(), newClock()
	cfg := testConfig()
	cfg.JWTKey = a.publicPEM()
	v, err := New(cfg, Options{Now: clk.Now, Accepts: allTypes, Machines: api, MachineTokenTTL: time.Minute, APIMachine: machineB})
	if err != nil {
		t.Fatal(err)
	}
	forUs, forOthers, key := opaque("mt_"), opaque("mt_"), opaque("ak_")
	api.answers[forUs] = &clerkapi.VerifiedToken{Subject: machineA, Scopes: []string{machineB}}
	api.answers[forOthers] = &clerkapi.VerifiedToken{Subject: machineA, Scopes: []string{"mch_3elsewhere"}}
	api.answers[key] = &clerkapi.VerifiedToken{Subject: machineA}
	jwt := func(scopes string) string {
		return a.sign(map[string]any{"alg": "RS256", "kid": a.kid, "cat": m2mCategory},
			map[string]any{"sub": machineA, "iat": t0.Unix(), "exp": t0.Add(time.Hour).Unix(), "scopes": scopes})
	}
	for name, c := range map[string]struct {
		token string
		want  Reason
	}{
		"an opaque token for this API":   {forUs, ""},
		"an opaque token for another":    {forOthers, TokenInvalidAudience},
		"a JWT for this API":             {jwt(machineB), ""},
		"a JWT for another":              {jwt("mch_3elsewhere"), TokenInvalidAudience},
		"a machine's API key, no scopes": {key, ""},
	} {
		if _, err := v.Verify(context.Background(), c.token); ReasonOf(err) != c.want {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}
