package clerkauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	jose "github.com/go-jose/go-jose/v3"
)

const (
	testIssuer = "https://example.clerk.accounts.dev"
	testOrigin = "https://app.example.com"
)

// t0 is the tests' "now".
var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// testKey is an RSA key pair with a key id, generated once per test binary.
type testKey struct {
	kid  string
	priv *rsa.PrivateKey
}

var (
	keysOnce sync.Once
	keyA     testKey
	keyB     testKey
)

func keys(t testing.TB) (testKey, testKey) {
	t.Helper()
	keysOnce.Do(func() {
		for _, k := range []*testKey{&keyA, &keyB} {
			priv, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			*k = testKey{priv: priv}
		}
		keyA.kid, keyB.kid = "ins_kid_a", "ins_kid_b"
	})
	return keyA, keyB
}

func (k testKey) publicPEM() string {
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func (k testKey) jwk() *clerk.JSONWebKey {
	raw, err := json.Marshal(jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "RS256", Use: "sig"})
	if err != nil {
		panic(err)
	}
	var out clerk.JSONWebKey
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return &out
}

// sign builds a compact JWS from a header and claims, signed RS256 by k.
func (k testKey) sign(header, claims map[string]any) string {
	return k.signInput(segment(header) + "." + segment(claims))
}

// signInput signs a JWS signing input (header "." payload) RS256 by k and
// returns the compact token.
func (k testKey) signInput(input string) string {
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.priv, crypto.SHA256, digest[:])
	if err != nil {
		panic(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func segment(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionClaims are the claims of a fresh, valid Clerk v2 session token.
func sessionClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "user_2abc", "sid": "sess_2abc", "azp": testOrigin,
		"exp": t0.Add(60 * time.Second).Unix(), "nbf": t0.Add(-10 * time.Second).Unix(), "iat": t0.Unix(),
		"v": 2, "sts": "active",
	}
}

// token signs sessionClaims with edit applied, by k with its kid.
func (k testKey) token(edit func(claims map[string]any)) string {
	c := sessionClaims()
	if edit != nil {
		edit(c)
	}
	return k.sign(map[string]any{"alg": "RS256", "kid": k.kid, "typ": "JWT"}, c)
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// jwksServer is a JWKS fetch function whose keys and failures tests control,
// counting its calls. (The HTTP path through the Backend API is tested against
// the Clerk stand-in.)
type jwksServer struct {
	mu    sync.Mutex
	keys  []testKey
	down  bool
	calls atomic.Int64
	gate  chan struct{} // when set, fetches wait for it to close
}

func (s *jwksServer) fetch(ctx context.Context) (*clerk.JSONWebKeySet, error) {
	s.calls.Add(1)
	s.mu.Lock()
	gate, down, ks := s.gate, s.down, append([]testKey(nil), s.keys...)
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if down {
		return nil, errors.New("connection refused")
	}
	set := &clerk.JSONWebKeySet{}
	for _, k := range ks {
		set.Keys = append(set.Keys, k.jwk())
	}
	return set, nil
}

func (s *jwksServer) set(down bool, ks ...testKey) {
	s.mu.Lock()
	s.down, s.keys = down, ks
	s.mu.Unlock()
}

func testConfig() Config {
	return Config{Issuer: testIssuer, AuthorizedParties: []string{testOrigin}, ClockSkew: 5 * time.Second}
}

func newJWKSVerifier(t testing.TB, cfg Config, srv *jwksServer, clk *clock) *Verifier {
	t.Helper()
	v, err := New(cfg, Options{FetchJWKS: srv.fetch, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newStaticVerifier(t testing.TB, cfg Config, k testKey, clk *clock, memoSize int) *Verifier {
	t.Helper()
	cfg.JWTKey = k.publicPEM()
	v, err := New(cfg, Options{Now: clk.Now, MemoSize: memoSize})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
