package clerkauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"clerk-lambda/shared/identity"
)

// FuzzVerify feeds arbitrary tokens to the verifier: it must never panic,
// and must never accept anything but exactly what was signed: a token whose
// signature the key made, in the one canonical spelling of its segments, and
// whose identity is what its JSON says read exactly (no duplicates, no look-
// alike names, the organization of its version). The seeds include signed
// tokens that break each of these, and other spellings of valid tokens.
func FuzzVerify(f *testing.F) {
	a, b := keys(f)
	valid := a.token(nil)
	parts := strings.Split(valid, ".")
	seeds := []string{
		valid,
		b.token(nil),
		parts[0] + "." + parts[1] + ".",
		segment(map[string]any{"alg": "none"}) + "." + parts[1] + ".",
		hs256(map[string]any{"alg": "HS256", "kid": a.kid}, parts[1], []byte(a.publicPEM())),
		"..", "a.b.c", "", strings.Repeat("A", 100),
		a.signRaw(testHeaderJSON, payloadJSON(nil, `"ſub":"user_admin"`)),
		a.signRaw(testHeaderJSON, payloadJSON(nil, `"sub":"user_admin"`)),
		a.signRaw(testHeaderJSON, payloadJSON(nil, `"o":{},"org_id":"org_1","org_role":"org:admin"`)),
		a.signRaw(`{"alg":"RS256","kid":"ins_kid_a","\u212aid":"x"}`, payloadJSON(nil, "")),
	}
	bits := tokenWithTrailingBits(f, a)
	seeds = append(seeds, bits)
	bitParts := strings.Split(bits, ".")
	for i := range bitParts {
		for _, alt := range reencodings(f, bitParts[i]) {
			p := append([]string(nil), bitParts...)
			p[i] = alt
			seeds = append(seeds, strings.Join(p, "."))
		}
	}
	for _, seed := range seeds {
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
		if problem := notExactlySigned(token, id); problem != "" {
			t.Fatalf("accepted %q: %s", token, problem)
		}
	})
}

// notExactlySigned reads an accepted token independently of the code under
// test and says how its identity differs from what was signed, or "".
func notExactlySigned(token string, id *identity.Identity) string {
	var decoded [3][]byte
	for i, seg := range strings.Split(token, ".") {
		b, err := base64.RawURLEncoding.DecodeString(seg) // lenient: skips line breaks, ignores trailing bits
		if err != nil || base64.RawURLEncoding.EncodeToString(b) != seg {
			return fmt.Sprintf("segment %d is not the canonical spelling of its bytes", i)
		}
		decoded[i] = b
	}
	for i, names := range [2][]string{
		{"alg", "kid", "typ", "cty", "crit", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "b64"},
		{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "sid", "sts", "v", "fva", "fea", "pla", "o", "org_id", "org_slug", "org_role", "org_permissions", "act"},
	} {
		if problem := ambiguous(decoded[i], names); problem != "" {
			return fmt.Sprintf("segment %d: %s", i, problem)
		}
	}
	var c struct {
		Sub, Sid, Azp string
		V             int
		O             *struct{ ID string }
		OrgID         string
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(decoded[1], &raw) != nil {
		return "payload is not a JSON object"
	}
	for name, dst := range map[string]any{"sub": &c.Sub, "sid": &c.Sid, "azp": &c.Azp, "v": &c.V, "o": &c.O, "org_id": &c.OrgID} {
		if v, ok := raw[name]; ok && json.Unmarshal(v, dst) != nil {
			return "claim " + name + " has the wrong type"
		}
	}
	wantOrg := c.OrgID
	if c.V >= 2 {
		wantOrg = ""
		if c.O != nil {
			wantOrg = c.O.ID
		}
	}
	gotOrg := ""
	if id.Org != nil {
		gotOrg = id.Org.ID
	}
	if id.UserID != c.Sub || id.SessionID != c.Sid || id.AuthorizedParty != c.Azp || gotOrg != wantOrg {
		return fmt.Sprintf("identity %+v (org %q), signed sub %q sid %q azp %q org %q", id, gotOrg, c.Sub, c.Sid, c.Azp, wantOrg)
	}
	return ""
}

// ambiguous reports what ambiguousJSON finds in doc.
func ambiguous(doc []byte, names []string) string {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber() // numbers stay text: 1e700 is valid JSON
	return ambiguousJSON(dec, names)
}

// ambiguousJSON reads one JSON value with encoding/json's tokenizer and
// reports an object with a repeated name, or a member of the outermost object
// whose name differs from one of names only in letter case.
func ambiguousJSON(dec *json.Decoder, names []string) string {
	tok, err := dec.Token()
	if err != nil {
		return "not JSON"
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			name, ok := tok.(string)
			if err != nil || !ok {
				return "not JSON"
			}
			if seen[name] {
				return fmt.Sprintf("name %q twice in an object", name)
			}
			seen[name] = true
			for _, n := range names {
				if n != name && strings.EqualFold(n, name) {
					return fmt.Sprintf("name %q looks like %q", name, n)
				}
			}
			if problem := ambiguousJSON(dec, nil); problem != "" {
				return problem
			}
		}
	case json.Delim('['):
		for dec.More() {
			if problem := ambiguousJSON(dec, nil); problem != "" {
				return problem
			}
		}
	default:
		return ""
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return "not JSON"
	}
	return ""
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

// FuzzReadObject compares the token's JSON reader with encoding/json: it
// reads a document exactly when encoding/json reads it as an object of valid
// UTF-8 with no repeated name at any depth, and then finds the same members.
func FuzzReadObject(f *testing.F) {
	for _, seed := range []string{
		`{}`, ` { "a" : [ 1 , { "b" : "c\"}" } ] , "d":null } `, `{"a":1,"a":2}`, `{"s\u0075b":1,"sub":2}`,
		`{"a":{"b":1,"b":2}}`, `{"a":"\\"}`, `{"":"\`, `{"a":"\u00e9\ud83d\ude00"}`, `{"a":1e700}`,
		`{"a":1 "b":2}`, `{"a":[1 2]}`, `{"a":1,}`, `{"a" 1}`, `{"a":[1,]}`, `[1]`, `{"a":1}{}`, "{\"\xff\":1}", `{"a":-1.5e3,"b":true,"c":[[],{}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got := map[string]string{}
		err := readObject(doc, func(name, value string) error {
			got[name] = value
			return nil
		})
		var want map[string]json.RawMessage
		wantOK := utf8.Valid(doc) && json.Unmarshal(doc, &want) == nil && want != nil &&
			ambiguous(doc, nil) == ""
		if (err == nil) != wantOK {
			t.Fatalf("readObject(%q): %v, encoding/json reads it: %v", doc, err, wantOK)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("readObject(%q) found %d members, encoding/json %d", doc, len(got), len(want))
		}
		for name, value := range want {
			if got[name] != string(value) {
				t.Fatalf("readObject(%q): member %q is %q, encoding/json has %q", doc, name, got[name], value)
			}
		}
	})
}
