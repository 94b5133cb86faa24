package clerkauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"clerk-lambda/shared/identity"
)

func TestVerifyAcceptsValidToken(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v := newStaticVerifier(t, testConfig(), a, newClock(), 0)
	tok := a.token(func(c map[string]any) {
		c["o"] = map[string]any{"id": "org_1", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3"}
		c["fea"] = "o:dashboard"
		c["act"] = map[string]any{"sub": "user_admin"}
		c["metadata"] = map[string]any{"role": "admin"}
	})
	id, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.UserID != "user_2abc" || id.SessionID != "sess_2abc" || id.AuthorizedParty != testOrigin {
		t.Errorf("identity = %+v", id)
	}
	if !id.Expires.Equal(t0.Add(60 * time.Second)) {
		t.Errorf("Expires = %v", id.Expires)
	}
	if id.Org == nil || id.Org.ID != "org_1" || id.Org.Slug != "acme" || id.Org.Role != "org:admin" {
		t.Fatalf("Org = %+v", id.Org)
	}
	if got := strings.Join(id.Org.Permissions, ","); got != "org:dashboard:read,org:dashboard:manage" {
		t.Errorf("Permissions = %q", got)
	}
	if string(id.Actor) != `{"sub":"user_admin"}` {
		t.Errorf("Actor = %s", id.Actor)
	}
	if string(id.Claims) != `{"metadata":{"role":"admin"}}` {
		t.Errorf("Claims = %s (only custom claims belong here)", id.Claims)
	}
}

func TestVerifyReadsV1OrganizationClaims(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v := newStaticVerifier(t, testConfig(), a, newClock(), 0)
	tok := a.token(func(c map[string]any) {
		delete(c, "v")
		c["org_id"], c["org_slug"], c["org_role"] = "org_9", "beta", "org:member"
		c["org_permissions"] = []string{"org:sys_memberships:read"}
	})
	id, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.Org == nil || id.Org.ID != "org_9" || id.Org.Role != "org:member" || id.Org.Permissions[0] != "org:sys_memberships:read" {
		t.Fatalf("Org = %+v", id.Org)
	}
	if id.Claims != nil {
		t.Errorf("Claims = %s, want none", id.Claims)
	}
}

// TestVerifyRejects is the rejection matrix: one or more tokens per reason.
func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	a, b := keys(t)
	header := func(alg string) map[string]any { return map[string]any{"alg": alg, "kid": a.kid, "typ": "JWT"} }
	valid := a.token(nil)
	parts := strings.Split(valid, ".")

	tests := []struct {
		name  string
		token string
		cfg   func(*Config)
		want  Reason
	}{
		{name: "empty", token: "", want: TokenMissing},
		{name: "over 8 KiB", token: a.token(func(c map[string]any) { c["pad"] = strings.Repeat("x", MaxTokenSize) }), want: TokenTooLarge},
		{name: "not a JWT", token: "not-a-token", want: TokenMalformed},
		{name: "two segments", token: parts[0] + "." + parts[1], want: TokenMalformed},
		{name: "header not base64", token: "%%%." + parts[1] + "." + parts[2], want: TokenMalformed},
		{name: "header not JSON", token: base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2], want: TokenMalformed},
		{name: "payload not base64", token: parts[0] + ".%%%." + parts[2], want: TokenMalformed},
		{name: "no exp", token: a.token(func(c map[string]any) { delete(c, "exp") }), want: TokenMalformed},
		{name: "no sub", token: a.token(func(c map[string]any) { delete(c, "sub") }), want: TokenMalformed},
		{name: "sts not a string", token: a.token(func(c map[string]any) { c["sts"] = 7 }), want: TokenMalformed},
		{name: "alg none", token: segment(header("none")) + "." + parts[1] + ".", want: TokenInvalidAlgorithm},
		{name: "HS256 signed with the public key", token: hs256(header("HS256"), parts[1], []byte(a.publicPEM())), want: TokenInvalidAlgorithm},
		{name: "RS512", token: a.sign(header("RS512"), sessionClaims()), want: TokenInvalidAlgorithm},
		{name: "no alg", token: a.sign(map[string]any{"kid": a.kid}, sessionClaims()), want: TokenInvalidAlgorithm},
		{name: "tampered payload", token: parts[0] + "." + segment(map[string]any{"iss": testIssuer, "sub": "user_admin", "exp": t0.Add(time.Minute).Unix(), "azp": testOrigin}) + "." + parts[2], want: TokenInvalidSignature},
		{name: "signed by another key", token: b.sign(header("RS256"), sessionClaims()), want: TokenInvalidSignature},
		{name: "signature stripped", token: parts[0] + "." + parts[1] + ".", want: TokenInvalidSignature},
		{name: "expired outside the leeway", token: a.token(func(c map[string]any) { c["exp"] = t0.Add(-6 * time.Second).Unix() }), want: TokenExpired},
		{name: "expired long ago", token: a.token(func(c map[string]any) { c["exp"] = t0.Add(-time.Hour).Unix(); c["iat"] = t0.Add(-2 * time.Hour).Unix() }), want: TokenExpired},
		{name: "not active yet", token: a.token(func(c map[string]any) { c["nbf"] = t0.Add(30 * time.Second).Unix() }), want: TokenNotActiveYet},
		{name: "issued in the future", token: a.token(func(c map[string]any) { c["iat"] = t0.Add(30 * time.Second).Unix(); delete(c, "nbf") }), want: TokenIATInTheFuture},
		{name: "another issuer", token: a.token(func(c map[string]any) { c["iss"] = "https://evil.clerk.accounts.dev" }), want: TokenInvalidIssuer},
		{name: "issuer with a suffix", token: a.token(func(c map[string]any) { c["iss"] = testIssuer + ".evil.com" }), want: TokenInvalidIssuer},
		{name: "no issuer", token: a.token(func(c map[string]any) { delete(c, "iss") }), want: TokenInvalidIssuer},
		{name: "wrong azp", token: a.token(func(c map[string]any) { c["azp"] = "https://evil.example.com" }), want: TokenInvalidAuthorizedParty},
		{name: "no azp while parties are set", token: a.token(func(c map[string]any) { delete(c, "azp") }), want: TokenInvalidAuthorizedParty},
		{name: "no sid: a JWT-template token, not a session", token: a.token(func(c map[string]any) { delete(c, "sid"); c["exp"] = t0.Add(365 * 24 * time.Hour).Unix() }), want: TokenMalformed},
		{name: "alg member in another case", token: a.sign(map[string]any{"alg": "RS256", "ALG": "HS256", "kid": a.kid}, sessionClaims()), want: TokenMalformed},
		{name: "alg not a string", token: a.sign(map[string]any{"alg": 256, "kid": a.kid}, sessionClaims()), want: TokenMalformed},
		{name: "header not an object", token: segment([]string{"RS256"}) + "." + parts[1] + "." + parts[2], want: TokenMalformed},
		{name: "custom claim posing as org_role", token: a.token(func(c map[string]any) { c["ORG_ROLE"] = "org:admin"; c["Org_Id"] = "org_x" }), want: TokenMalformed},
		{name: "pending session", token: a.token(func(c map[string]any) { c["sts"] = "pending" }), want: SessionPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			v := newStaticVerifier(t, cfg, a, newClock(), 0)
			id, err := v.Verify(context.Background(), tt.token)
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("reason = %q (err %v, identity %+v), want %q", got, err, id, tt.want)
			}
			if id != nil {
				t.Fatalf("rejected token returned an identity")
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Fatalf("error message contains the token")
			}
		})
	}
}

// hs256 forges an HS256 token keyed with key: the classic confusion attack
// against verifiers that let the token pick the algorithm.
func hs256(header map[string]any, payload string, key []byte) string {
	input := segment(header) + "." + payload
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	tests := []struct {
		name  string
		token string
		cfg   func(*Config)
	}{
		{name: "expired inside the leeway", token: a.token(func(c map[string]any) { c["exp"] = t0.Add(-3 * time.Second).Unix() })},
		{name: "nbf inside the leeway", token: a.token(func(c map[string]any) { c["nbf"] = t0.Add(3 * time.Second).Unix() })},
		{name: "iat inside the leeway", token: a.token(func(c map[string]any) { c["iat"] = t0.Add(3 * time.Second).Unix() })},
		{name: "azp with a trailing slash", token: a.token(func(c map[string]any) { c["azp"] = testOrigin + "/" })},
		{name: "no azp when no parties are set", token: a.token(func(c map[string]any) { delete(c, "azp") }), cfg: func(c *Config) { c.AuthorizedParties = nil }},
		{name: "any issuer when the check is off", token: a.token(func(c map[string]any) { c["iss"] = "https://other.example" }), cfg: func(c *Config) { c.Issuer, c.IssuerCheckOff = "", true }},
		{name: "pending session when allowed", token: a.token(func(c map[string]any) { c["sts"] = "pending" }), cfg: func(c *Config) { c.AllowPendingSessions = true }},
		{name: "authorized party configured with a trailing slash", token: a.token(nil), cfg: func(c *Config) { c.AuthorizedParties = []string{testOrigin + "/"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			v := newStaticVerifier(t, cfg, a, newClock(), 0)
			if _, err := v.Verify(context.Background(), tt.token); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestV2TokenOrganizationOnlyFromO(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v := newStaticVerifier(t, testConfig(), a, newClock(), 0)
	tok := a.token(func(c map[string]any) { c["org_id"], c["org_role"] = "org_x", "org:admin" }) // v2, no "o"
	id, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.Org != nil {
		t.Fatalf("a v2 token's top-level org_* claims were read as its organization: %+v", id.Org)
	}
}

func TestNewRequiresIssuerAndKeys(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	if _, err := New(Config{JWTKey: a.publicPEM()}, Options{}); err == nil {
		t.Error("New without issuer succeeded")
	}
	if _, err := New(Config{Issuer: testIssuer}, Options{}); err == nil || !strings.Contains(err.Error(), "secret key") {
		t.Errorf("New without key source: %v", err)
	}
	if _, err := New(Config{Issuer: testIssuer, JWTKey: "garbage"}, Options{}); err == nil || !strings.HasPrefix(err.Error(), "CLERK_JWT_KEY:") {
		t.Errorf("New with a bad key: %v", err)
	}
}

func TestParsePublicKeyForms(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	full := a.publicPEM()
	body := strings.Join(strings.Split(strings.TrimSpace(full), "\n")[1:len(strings.Split(strings.TrimSpace(full), "\n"))-1], "")
	for name, in := range map[string]string{
		"PEM":              full,
		"escaped newlines": strings.ReplaceAll(full, "\n", `\n`),
		"body only":        body,
	} {
		if _, err := ParsePublicKey(in); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMemoServesRepeatedTokenUntilExpiry(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	clk := newClock()
	v := newStaticVerifier(t, testConfig(), a, clk, 0)
	tok := a.token(nil)
	first, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	second, err := v.Verify(context.Background(), tok)
	if err != nil || second != first {
		t.Fatalf("repeated token was verified again (got %p, want the memoized %p; err %v)", second, first, err)
	}
	clk.Advance(64 * time.Second) // exp + 4s: still inside the 5s leeway
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("inside leeway: %v", err)
	}
	clk.Advance(2 * time.Second) // exp + 6s
	if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != TokenExpired {
		t.Fatalf("memo served an expired token: %v", err)
	}
}

func TestMemoIsBounded(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v := newStaticVerifier(t, testConfig(), a, newClock(), 10)
	for i := range 50 {
		tok := a.token(func(c map[string]any) { c["sid"] = "sess_" + string(rune('a'+i)) })
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(v.memo.entries); n > 10 {
		t.Fatalf("memo holds %d entries, limit 10", n)
	}
}

func TestMemoIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	m := newMemo(DefaultMemoSize)
	id := &identity.Identity{UserID: "user_1"}
	until := t0.Add(time.Minute)
	for i := range 5000 { // 5,000 tokens of 8 KiB: 40 MiB if nothing were evicted
		m.put([32]byte{byte(i), byte(i >> 8)}, id, until, t0, MaxTokenSize)
	}
	if m.bytes > memoMaxBytes {
		t.Fatalf("memo holds about %d bytes, limit %d", m.bytes, memoMaxBytes)
	}
	total := 0
	for _, e := range m.entries {
		total += e.cost
	}
	if total != m.bytes {
		t.Fatalf("byte count %d does not match the entries' %d", m.bytes, total)
	}
}

func TestMemoNeverHoldsRejectedTokens(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v := newStaticVerifier(t, testConfig(), a, newClock(), 0)
	tok := a.token(func(c map[string]any) { c["azp"] = "https://evil.example.com" })
	for range 2 {
		if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != TokenInvalidAuthorizedParty {
			t.Fatalf("err = %v", err)
		}
	}
	if n := len(v.memo.entries); n != 0 {
		t.Fatalf("memo holds %d entries after rejections", n)
	}
}

func TestCustomClaimsAreCanonical(t *testing.T) {
	t.Parallel()
	got := customClaims(map[string]json.RawMessage{"b": json.RawMessage(`1`), "a": json.RawMessage(`"x"`), "sub": json.RawMessage(`"u"`)})
	if string(got) != `{"a":"x","b":1}` {
		t.Fatalf("customClaims = %s", got)
	}
}
