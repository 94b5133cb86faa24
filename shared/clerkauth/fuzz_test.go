package clerkauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary tokens to the verifier: it must never panic, and
// must never accept a token whose signature the key did not make.
func FuzzVerify(f *testing.F) {
	a, b := keys(f)
	valid := a.token(nil)
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid,
		b.token(nil),
		parts[0] + "." + parts[1] + ".",
		segment(map[string]any{"alg": "none"}) + "." + parts[1] + ".",
		hs256(map[string]any{"alg": "HS256", "kid": a.kid}, parts[1], []byte(a.publicPEM())),
		"..", "a.b.c", "", strings.Repeat("A", 100),
	} {
		f.Add(seed)
	}
	v := newStaticVerifier(f, testConfig(), a, newClock(), 0)
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(context.Background(), token)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("rejection without a reason: %v", err)
			}
			return
		}
		if id == nil || id.UserID == "" {
			t.Fatal("accepted without an identity")
		}
		if !signedBy(token, a) {
			t.Fatalf("accepted a token the key did not sign: %q", token)
		}
	})
}

// signedBy checks a compact JWS's RS256 signature independently of the code
// under test.
func signedBy(token string, k testKey) bool {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		return false
	}
	digest := sha256.Sum256([]byte(token[:i]))
	return rsa.VerifyPKCS1v15(&k.priv.PublicKey, crypto.SHA256, digest[:], sig) == nil
}

// FuzzTokenFromRequest: extraction never panics, and what it returns is a
// non-empty token without spaces.
func FuzzTokenFromRequest(f *testing.F) {
	f.Add("Bearer a.b.c", "__session=x.y.z")
	f.Add("", "a=b; __session=x")
	f.Add("bearer", "")
	f.Add("Bearer\t a", "__session=")
	f.Fuzz(func(t *testing.T, auth, cookie string) {
		tok, err := TokenFromRequest(map[string]string{"authorization": auth}, []string{cookie})
		if err != nil {
			if r := ReasonOf(err); r != TokenMissing && r != TokenMalformed {
				t.Fatalf("unexpected reason %q", r)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t") {
			t.Fatalf("extracted %q from %q", tok, auth)
		}
	})
}
