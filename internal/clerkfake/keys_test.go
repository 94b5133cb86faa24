package clerkfake_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
	"github.com/clerk/clerk-sdk-go/v2/jwt"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
)

// fixedClock makes jwt.Verify check times against fixedNow.
type fixedClock struct{}

func (fixedClock) Now() time.Time { return fixedNow }

// jwksClient is clerk-sdk-go's JWKS client pointed at the stand-in.
func jwksClient(s *clerkfake.Server) *jwks.Client {
	return jwks.NewClient(&clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
		Key: clerk.String(s.SecretKey()), URL: clerk.String(s.URL()), HTTPClient: &http.Client{Timeout: 5 * time.Second},
	}})
}

// verify checks token with clerk-sdk-go: the JWK is the one the stand-in's
// JWKS serves under the token's kid.
func verify(t *testing.T, s *clerkfake.Server, token string, custom any) (*clerk.SessionClaims, error) {
	t.Helper()
	ctx := context.Background()
	unverified, err := jwt.Decode(ctx, &jwt.DecodeParams{Token: token})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	key, err := jwt.GetJSONWebKey(ctx, &jwt.GetJSONWebKeyParams{KeyID: unverified.KeyID, JWKSClient: jwksClient(s)})
	if err != nil {
		return nil, err
	}
	params := &jwt.VerifyParams{Token: token, JWK: key, Clock: fixedClock{}}
	if custom != nil {
		params.CustomClaimsConstructor = func(context.Context) any { return custom }
	}
	return jwt.Verify(ctx, params)
}

func TestJWKSServesTheSigningKey(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	decode(t, get(t, s, "/jwks", s.SecretKey()), &set)
	if len(set.Keys) != 1 {
		t.Fatalf("got %d keys, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	want := map[string]string{"use": "sig", "kty": "RSA", "alg": "RS256", "kid": s.KeyID()}
	for name, v := range want {
		if k[name] != v {
			t.Errorf("%s = %q, want %q", name, k[name], v)
		}
	}
	if !strings.HasPrefix(s.KeyID(), "ins_") {
		t.Errorf("kid %q is not shaped like Clerk's", s.KeyID())
	}

	// n and e are the key CLERK_JWT_KEY carries.
	block, _ := pem.Decode([]byte(s.PublicKeyPEM()))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("PublicKeyPEM is not a PEM PUBLIC KEY: %q", s.PublicKeyPEM())
	}
	parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := parsed.(*rsa.PublicKey)
	n, _ := base64.RawURLEncoding.DecodeString(k["n"])
	e, _ := base64.RawURLEncoding.DecodeString(k["e"])
	if new(big.Int).SetBytes(n).Cmp(pub.N) != 0 || new(big.Int).SetBytes(e).Int64() != int64(pub.E) {
		t.Error("the JWKS key is not the PEM key")
	}
	if pub.N.BitLen() != 2048 {
		t.Errorf("key has %d bits, want 2048", pub.N.BitLen())
	}
}

func TestMintTokenVerifiesWithClerkSDK(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{Now: func() time.Time { return fixedNow }})

	type custom struct {
		Metadata struct {
			Role string `json:"role"`
		} `json:"metadata"`
		Status string `json:"sts"`
	}
	tests := []struct {
		name  string
		p     clerkfake.TokenParams
		check func(t *testing.T, c *clerk.SessionClaims, cu *custom)
	}{
		{"plain session", clerkfake.TokenParams{UserID: "user_1"}, func(t *testing.T, c *clerk.SessionClaims, cu *custom) {
			if c.Subject != "user_1" || !strings.HasPrefix(c.SessionID, "sess_") || c.Issuer != s.Issuer() {
				t.Errorf("sub %q sid %q iss %q", c.Subject, c.SessionID, c.Issuer)
			}
			if *c.IssuedAt != fixedNow.Unix() || *c.Expiry != fixedNow.Add(time.Minute).Unix() || *c.NotBefore != fixedNow.Unix()-10 {
				t.Errorf("iat %d exp %d nbf %d", *c.IssuedAt, *c.Expiry, *c.NotBefore)
			}
			if c.Version != 1 || c.ActiveOrganizationID != "" || cu.Status != "active" {
				t.Errorf("v %d org %q sts %q", c.Version, c.ActiveOrganizationID, cu.Status)
			}
		}},
		{"session id, azp and status", clerkfake.TokenParams{UserID: "user_2", SessionID: "sess_x", AuthorizedParty: "https://app.example", Status: "pending"},
			func(t *testing.T, c *clerk.SessionClaims, cu *custom) {
				if c.SessionID != "sess_x" || c.AuthorizedParty != "https://app.example" || cu.Status != "pending" {
					t.Errorf("sid %q azp %q sts %q", c.SessionID, c.AuthorizedParty, cu.Status)
				}
			}},
		{"organization in version 2 claims", clerkfake.TokenParams{
			UserID: "user_3", OrgID: "org_1", OrgSlug: "acme", OrgRole: "org:admin",
			OrgPermissions: []string{"org:invoices:read", "org:invoices:manage", "org:reports:read"},
		}, func(t *testing.T, c *clerk.SessionClaims, _ *custom) {
			if c.Version != 2 || c.ActiveOrganizationID != "org_1" || c.ActiveOrganizationSlug != "acme" || c.ActiveOrganizationRole != "org:admin" {
				t.Errorf("v %d org %q slug %q role %q", c.Version, c.ActiveOrganizationID, c.ActiveOrganizationSlug, c.ActiveOrganizationRole)
			}
			got := slices.Sorted(slices.Values(c.ActiveOrganizationPermissions))
			want := []string{"org:invoices:manage", "org:invoices:read", "org:reports:read"}
			if !slices.Equal(got, want) {
				t.Errorf("permissions %v, want %v", got, want)
			}
		}},
		{"role given without prefix", clerkfake.TokenParams{UserID: "user_4", OrgID: "org_2", OrgRole: "member"},
			func(t *testing.T, c *clerk.SessionClaims, _ *custom) {
				if c.ActiveOrganizationRole != "org:member" {
					t.Errorf("role %q, want org:member", c.ActiveOrganizationRole)
				}
			}},
		{"custom claims and TTL", clerkfake.TokenParams{UserID: "user_5", TTL: 5 * time.Minute, IssuedAt: fixedNow.Add(-time.Minute),
			Custom: map[string]any{"metadata": map[string]any{"role": "admin"}}},
			func(t *testing.T, c *clerk.SessionClaims, cu *custom) {
				if cu.Metadata.Role != "admin" || *c.Expiry != fixedNow.Add(4*time.Minute).Unix() {
					t.Errorf("metadata role %q exp %d", cu.Metadata.Role, *c.Expiry)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := s.MintToken(tt.p)
			if err != nil {
				t.Fatal(err)
			}
			cu := &custom{}
			claims, err := verify(t, s, token, cu)
			if err != nil {
				t.Fatalf("clerk-sdk-go rejects the token: %v", err)
			}
			tt.check(t, claims, cu)
		})
	}
}

func TestMintTokenClaimsThatMustFailVerification(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{Now: func() time.Time { return fixedNow }})
	tests := []struct {
		name string
		p    clerkfake.TokenParams
		want string
	}{
		{"expired", clerkfake.TokenParams{UserID: "u", IssuedAt: fixedNow.Add(-2 * time.Minute)}, "expired"},
		{"not yet valid", clerkfake.TokenParams{UserID: "u", IssuedAt: fixedNow.Add(time.Minute)}, "not valid yet"},
		{"foreign issuer", clerkfake.TokenParams{UserID: "u", Custom: map[string]any{"iss": "https://evil.example"}}, "invalid issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := s.MintToken(tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verify(t, s, token, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestMintTokenRejectsUnencodablePermission(t *testing.T) {
	t.Parallel()
	s, err := clerkfake.New(clerkfake.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.MintToken(clerkfake.TokenParams{UserID: "u", OrgID: "org_1", OrgPermissions: []string{"invoices.read"}})
	if err == nil || !strings.Contains(err.Error(), "invoices.read") {
		t.Fatalf("got %v, want an error naming the permission", err)
	}
}

func TestMintTokenHeader(t *testing.T) {
	t.Parallel()
	s, err := clerkfake.New(clerkfake.Config{})
	if err != nil {
		t.Fatal(err)
	}
	token, err := s.MintToken(clerkfake.TokenParams{UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var header map[string]string
	if err := json.Unmarshal(raw, &header); err != nil {
		t.Fatal(err)
	}
	if header["alg"] != "RS256" || header["kid"] != s.KeyID() || header["typ"] != "JWT" {
		t.Fatalf("header %v", header)
	}
}

func TestRotateKeyServesOldAndNewKeys(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{Now: func() time.Time { return fixedNow }})
	first := s.KeyID()
	before, err := s.MintToken(clerkfake.TokenParams{UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.RotateKey()
	if err != nil {
		t.Fatal(err)
	}
	if second == first || s.KeyID() != second {
		t.Fatalf("after rotation KeyID is %q (was %q, rotation returned %q)", s.KeyID(), first, second)
	}
	after, err := s.MintToken(clerkfake.TokenParams{UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if got := served(t, s); !slices.Equal(got, []string{second, first}) {
		t.Fatalf("JWKS serves %v, want the new key then the old one %v", got, []string{second, first})
	}
	for name, token := range map[string]string{"before rotation": before, "after rotation": after} {
		if _, err := verify(t, s, token, nil); err != nil {
			t.Errorf("token minted %s does not verify: %v", name, err)
		}
	}

	third, err := s.RotateKey()
	if err != nil {
		t.Fatal(err)
	}
	if got := served(t, s); !slices.Equal(got, []string{third, second}) {
		t.Fatalf("after a second rotation JWKS serves %v, want %v", got, []string{third, second})
	}
	if _, err := verify(t, s, before, nil); err == nil {
		t.Error("a token signed with a retired key still verifies")
	}
}

// served lists the kids the JWKS serves, in order.
func served(t *testing.T, s *clerkfake.Server) []string {
	set, err := jwksClient(s).Get(context.Background(), &jwks.GetParams{})
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func TestPublishableKeyDecodesToIssuerHost(t *testing.T) {
	t.Parallel()
	for _, issuer := range []string{"", "https://clerk.example.com"} {
		s, err := clerkfake.New(clerkfake.Config{Issuer: issuer})
		if err != nil {
			t.Fatal(err)
		}
		pk := s.PublishableKey()
		encoded, ok := strings.CutPrefix(pk, "pk_test_")
		if !ok {
			t.Fatalf("publishable key %q lacks pk_test_", pk)
		}
		raw, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			t.Fatal(err)
		}
		host, ok := strings.CutSuffix(string(raw), "$")
		if !ok || "https://"+host != s.Issuer() {
			t.Fatalf("publishable key decodes to %q, issuer is %q", raw, s.Issuer())
		}
		if issuer == "" && !strings.HasSuffix(host, ".clerk.accounts.dev") {
			t.Errorf("default issuer host %q is not shaped like a Clerk development instance", host)
		}
	}
}

func TestNewRejectsIssuerThatIsNotAURL(t *testing.T) {
	t.Parallel()
	if _, err := clerkfake.New(clerkfake.Config{Issuer: "clerk.example.com"}); err == nil {
		t.Fatal("New accepted an issuer without a scheme")
	}
}
