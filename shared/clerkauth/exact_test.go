package clerkauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"clerk-lambda/shared/identity"
)

// The tests in this file sign tokens whose JSON the tests' encoders would
// never write (duplicate members, look-alike names, escapes) with the real
// key, as a custom session token template could make Clerk sign them: each
// must be refused, or read as exactly what was signed.

const testHeaderJSON = `{"alg":"RS256","kid":"ins_kid_a","typ":"JWT"}`

// signRaw signs header and payload JSON exactly as written.
func (k testKey) signRaw(header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return k.signInput(enc([]byte(header)) + "." + enc([]byte(payload)))
}

// payloadJSON is sessionClaims with edit applied, as JSON, with members
// (JSON text such as `"ſub":"user_admin"`) written first.
func payloadJSON(edit func(map[string]any), members string) string {
	c := sessionClaims()
	if edit != nil {
		edit(c)
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	if members == "" {
		return string(b)
	}
	return "{" + members + "," + string(b[1:])
}

func dropSid(c map[string]any) { delete(c, "sid") }

// signedJSON is a token to sign from raw JSON: testHeaderJSON and
// payloadJSON(nil, "") where empty.
type signedJSON struct{ name, header, payload string }

// refuseSigned signs each case by k and asserts that v refuses it as
// token-malformed.
func refuseSigned(t *testing.T, v *Verifier, k testKey, tests []signedJSON) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			header, payload := tt.header, tt.payload
			if header == "" {
				header = testHeaderJSON
			}
			if payload == "" {
				payload = payloadJSON(nil, "")
			}
			id, err := v.Verify(context.Background(), k.signRaw(header, payload))
			if got := ReasonOf(err); got != TokenMalformed {
				t.Fatalf("reason = %q (err %v, identity %+v), want %q", got, err, id, TokenMalformed)
			}
		})
	}
}

func TestVerifyRefusesLookAlikeNames(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v := newStaticVerifier(t, testConfig(), a, newClock(), 0)
	tests := []signedJSON{
		{name: "ſub (U+017F) for sub", payload: payloadJSON(nil, `"ſub":"user_admin"`)},
		{name: "ſid standing in for a missing sid", payload: payloadJSON(dropSid, `"ſid":"sess_x"`)},
		{name: "iſs", payload: payloadJSON(nil, `"iſs":"https://evil.example"`)},
		{name: "org_ſlug", payload: payloadJSON(nil, `"org_ſlug":"acme"`)},
		{name: "org_permiſſions", payload: payloadJSON(nil, `"org_permiſſions":["org:sys_memberships:manage"]`)},
		{name: "ſtſ", payload: payloadJSON(nil, `"ſtſ":"pending"`)},
		{name: "escaped \\u017fub", payload: payloadJSON(nil, `"\u017fub":"user_admin"`)},
		{name: "SUB", payload: payloadJSON(nil, `"SUB":"user_admin"`)},
		{name: "Azp", payload: payloadJSON(nil, `"Azp":"https://evil.example.com"`)},
		{name: "ORG_ROLE in a v1 token", payload: payloadJSON(func(c map[string]any) { delete(c, "v"); c["org_id"] = "org_1" }, `"ORG_ROLE":"org:admin"`)},
		{name: "V", payload: payloadJSON(nil, `"V":1`)},
		{name: "ROL inside o", payload: payloadJSON(nil, `"o":{"id":"org_1","rol":"member","ROL":"admin"}`)},
		{name: "ſlg inside o", payload: payloadJSON(nil, `"o":{"id":"org_1","ſlg":"acme"}`)},
		{name: "header \u212aid (Kelvin sign) for kid", header: `{"alg":"RS256","kid":"ins_kid_a","\u212aid":"ins_kid_b"}`},
		{name: "header ALG", header: `{"alg":"RS256","kid":"ins_kid_a","ALG":"none"}`},
		{name: "header Kid", header: `{"alg":"RS256","Kid":"ins_kid_a"}`},
		{name: "header TYP", header: `{"alg":"RS256","kid":"ins_kid_a","TYP":"JWT"}`},
		{name: "header x5t#s256", header: `{"alg":"RS256","kid":"ins_kid_a","x5t#s256":"AAAA"}`},
	}
	refuseSigned(t, v, a, tests)
}

func TestVerifyReadsNamesExactly(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v := newStaticVerifier(t, testConfig(), a, newClock(), 0)
	for name, payload := range map[string]string{
		"escaped exact name":  payloadJSON(func(c map[string]any) { delete(c, "sub") }, `"s\u0075b":"user_2abc"`),
		"exp with a fraction": payloadJSON(func(c map[string]any) { c["exp"] = float64(t0.Unix()+60) + 0.5 }, ""),
		"names near Clerk's":  payloadJSON(nil, `"subscription":"pro","Metadata":{"Role":"x"},"orgs":[]`),
	} {
		id, err := v.Verify(context.Background(), a.signRaw(testHeaderJSON, payload))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if id.UserID != "user_2abc" || id.SessionID != "sess_2abc" {
			t.Errorf("%s: identity = %+v", name, id)
		}
	}
}

// TestV2OrganizationOnlyFromOWithAnID: a version 2 token's organization is
// "o" with a non-empty id, never the top-level v1 claims, whatever "o" is.
func TestV2OrganizationOnlyFromOWithAnID(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v := newStaticVerifier(t, testConfig(), a, newClock(), 0)
	policy := identity.AdminPolicy{OrgID: "org_admin", OrgRole: "org:admin"}
	topLevel := `"org_id":"org_admin","org_role":"org:admin","org_slug":"acme","org_permissions":["org:sys_memberships:manage"]`
	for name, o := range map[string]string{
		"o empty":   `"o":{},`,
		"o null":    `"o":null,`,
		"o.id \"\"": `"o":{"id":"","rol":"admin"},`,
		"no o":      ``,
	} {
		for _, version := range []string{"2", "3"} {
			payload := payloadJSON(func(c map[string]any) { delete(c, "v") }, o+`"v":`+version+`,`+topLevel)
			id, err := v.Verify(context.Background(), a.signRaw(testHeaderJSON, payload))
			if err != nil {
				t.Fatalf("%s, v%s: %v", name, version, err)
			}
			if id.Org != nil || id.IsAdmin(policy) {
				t.Errorf("%s, v%s: organization %+v from top-level claims (admin %v)", name, version, id.Org, id.IsAdmin(policy))
			}
		}
	}
	id, err := v.Verify(context.Background(), a.signRaw(testHeaderJSON, payloadJSON(nil, `"o":{"id":"org_admin","rol":"admin"},`+topLevel)))
	if err != nil {
		t.Fatal(err)
	}
	if id.Org == nil || id.Org.ID != "org_admin" || !id.IsAdmin(policy) || id.Org.Slug != "" || len(id.Org.Permissions) != 0 {
		t.Errorf("organization from o = %+v, want org_admin as org:admin and nothing from the top level", id.Org)
	}
}

// tokenWithTrailingBits signs a valid token, varying the header and the
// claims until each of its three segments ends in a character that carries
// padding bits, and has a '-' or '_' that the standard alphabet spells
// otherwise.
func tokenWithTrailingBits(t testing.TB, k testKey) string {
	t.Helper()
	for n := range 1024 {
		hdr := map[string]any{"alg": "RS256", "kid": k.kid, "typ": "JWT", "pad": strings.Repeat("?", n%16)}
		c := sessionClaims()
		c["pad"] = strings.Repeat("?", n/16)
		tok := k.sign(hdr, c)
		ok := true
		for _, seg := range strings.Split(tok, ".") {
			ok = ok && len(seg)%4 != 0 && strings.ContainsAny(seg, "-_")
		}
		if ok {
			return tok
		}
	}
	t.Fatal("no token with trailing bits and '-' or '_' in every segment")
	return ""
}

// reencodings returns other spellings of a base64url segment that a lenient
// decoder reads as the same bytes, by kind.
func reencodings(t testing.TB, seg string) map[string]string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	out := map[string]string{
		"trailing bits set": seg[:len(seg)-1] + string(alphabet[last^1]),
		"padded":            seg + strings.Repeat("=", (4-len(seg)%4)%4),
		"line break":        seg[:len(seg)/2] + "\n" + seg[len(seg)/2:],
		"CRLF":              seg[:len(seg)/2] + "\r\n" + seg[len(seg)/2:],
		"standard alphabet": strings.NewReplacer("-", "+", "_", "/").Replace(seg),
	}
	want, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	for kind, alt := range out {
		if alt == seg {
			t.Fatalf("%s: no other spelling of %q", kind, seg)
		}
		enc := base64.RawURLEncoding
		switch kind {
		case "padded":
			enc = base64.URLEncoding
		case "standard alphabet":
			enc = base64.RawStdEncoding
		}
		if got, err := enc.DecodeString(alt); err != nil || string(got) != string(want) {
			t.Fatalf("%s: %q does not decode to the same bytes (%v)", kind, alt, err)
		}
	}
	return out
}

func TestVerifyRefusesReencodedTokens(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	valid := tokenWithTrailingBits(t, a)
	parts := strings.Split(valid, ".")
	srv := &jwksServer{}
	srv.set(false, a)
	v := newJWKSVerifier(t, testConfig(), srv, newClock())
	for i, name := range segmentNames {
		for kind, alt := range reencodings(t, parts[i]) {
			p := append([]string(nil), parts...)
			p[i] = alt
			tok := strings.Join(p, ".")
			id, err := v.Verify(context.Background(), tok)
			if got := ReasonOf(err); got != TokenMalformed {
				t.Errorf("%s %s: reason = %q (err %v, identity %+v), want %q", name, kind, got, err, id, TokenMalformed)
			}
		}
	}
	if n := srv.calls.Load(); n != 0 {
		t.Fatalf("re-encoded tokens caused %d JWKS fetches: refused only after a key was looked up", n)
	}
	if _, err := v.Verify(context.Background(), valid); err != nil {
		t.Fatalf("the canonical spelling: %v", err)
	}
}

func TestVerifyRefusesDuplicateMembers(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v := newStaticVerifier(t, testConfig(), a, newClock(), 0)
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf(`"c%d":%d`, i, i)
	}
	tests := []signedJSON{
		{name: "header alg twice", header: `{"alg":"HS256","alg":"RS256","kid":"ins_kid_a"}`},
		{name: "header kid twice", header: `{"alg":"RS256","kid":"ins_kid_b","kid":"ins_kid_a"}`},
		{name: "header alg escaped", header: `{"alg":"none","\u0061lg":"RS256","kid":"ins_kid_a"}`},
		{name: "sub twice", payload: payloadJSON(nil, `"sub":"user_admin"`)},
		{name: "sid escaped", payload: payloadJSON(nil, `"s\u0069d":"sess_other"`)},
		{name: "v twice", payload: payloadJSON(nil, `"v":1`)},
		{name: "inside o", payload: payloadJSON(nil, `"o":{"id":"org_1","id":"org_admin","rol":"admin"}`)},
		{name: "inside a custom claim", payload: payloadJSON(nil, `"metadata":{"role":"user","role":"admin"}`)},
		{name: "inside act", payload: payloadJSON(nil, `"act":{"sub":"user_a","sub":"user_b"}`)},
		{name: "inside an array", payload: payloadJSON(nil, `"list":[1,{"a":{"b":1,"b":2}}]`)},
		{name: "among 40 custom claims", payload: payloadJSON(nil, strings.Join(many, ",")+`,"c39":0`)},
	}
	refuseSigned(t, v, a, tests)
	id, err := v.Verify(context.Background(), a.signRaw(testHeaderJSON, payloadJSON(nil, strings.Join(many, ","))))
	if err != nil || !strings.Contains(string(id.Claims), `"c39":39`) {
		t.Fatalf("40 distinct custom claims: %v, claims %s", err, id.Claims)
	}
}

func TestVerifyRefusesOtherAmbiguousJSON(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v := newStaticVerifier(t, testConfig(), a, newClock(), 0)
	for name, tok := range map[string]string{
		// encoding/json would read both as U+FFFD: two payloads, one identity.
		"invalid UTF-8":          a.signRaw(testHeaderJSON, payloadJSON(nil, "\"name\":\"\xff\"")),
		"critical extension":     a.signRaw(`{"alg":"RS256","kid":"ins_kid_a","crit":["exp"],"exp":0}`, payloadJSON(nil, "")),
		"payload not an object":  a.signRaw(testHeaderJSON, `["sub","user_2abc"]`),
		"trailing data":          a.signRaw(testHeaderJSON, payloadJSON(nil, "")+`{"sub":"user_admin"}`),
		"v not an integer":       a.signRaw(testHeaderJSON, payloadJSON(func(c map[string]any) { c["v"] = "2" }, "")),
		"o not an object":        a.signRaw(testHeaderJSON, payloadJSON(nil, `"o":"org_admin"`)),
		"o.id not a string":      a.signRaw(testHeaderJSON, payloadJSON(nil, `"o":{"id":7}`)),
		"org_permissions string": a.signRaw(testHeaderJSON, payloadJSON(func(c map[string]any) { c["org_permissions"] = "org:a:b" }, "")),
		"exp a string":           a.signRaw(testHeaderJSON, payloadJSON(func(c map[string]any) { c["exp"] = "4102444800" }, "")),
		"nbf past int64's time":  a.signRaw(testHeaderJSON, payloadJSON(func(c map[string]any) { c["nbf"] = int64(1<<63 - 1) }, "")),
		"aud a number":           a.signRaw(testHeaderJSON, payloadJSON(func(c map[string]any) { c["aud"] = 1 }, "")),
		"fva of strings":         a.signRaw(testHeaderJSON, payloadJSON(func(c map[string]any) { c["fva"] = []string{"0", "-1"} }, "")),
	} {
		if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != TokenMalformed {
			t.Errorf("%s: %v, want %q", name, err, TokenMalformed)
		}
	}
}
