package clerkauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"clerk-lambda/shared/identity"
)

// Clerk's JWT categories (the protected header's "cat"), which tell apart
// the kinds of JWT one instance key signs. A token minted before Clerk
// added them has none.
const (
	sessionCategory = "cl_B7d4PD111AAA"
	m2mCategory     = "cl_B7d4PD333AAA"
	// ignoreCategory is stamped on every kind by instances that opted out
	// of categories, so it says nothing.
	ignoreCategory = "cl_I7d4PD111III"
)

// jwtType is what a JWT's header says it is: an M2M token by its category,
// an OAuth access token by its typ (RFC 9068), and otherwise a session
// token, until its sub says otherwise (see m2mSubject). A category of
// another kind (a JWT template's) is not a token this API takes.
func jwtType(h joseHeader) (identity.TokenType, error) {
	switch {
	case h.Cat == m2mCategory:
		return identity.M2MToken, nil
	case h.Typ == "at+jwt" || h.Typ == "application/at+jwt":
		return identity.OAuthToken, nil
	case h.Cat != "" && h.Cat != sessionCategory && h.Cat != ignoreCategory:
		return "", reject(TokenMalformed, fmt.Errorf("not a session token: category %q", h.Cat))
	}
	return identity.SessionToken, nil
}

// m2mSubject reports whether a verified JWT's subject is a machine: Clerk's
// mark of an M2M JWT minted without a category.
func m2mSubject(sub string) bool { return strings.HasPrefix(sub, "mch_") }

// m2mReserved are the claims Clerk's machine-token service sets on every
// M2M JWT; everything else is a custom claim its creator attached.
var m2mReserved = newNameSet("iss", "sub", "exp", "nbf", "iat", "jti")

// m2mClaims are an M2M JWT's claims.
type m2mClaims struct {
	sub, jti string
	times
	scopes []string
	custom map[string]json.RawMessage
}

// decodeM2MClaims reads an M2M JWT's payload with the same strictness as a
// session token's: no duplicates, no names that differ from a reserved one
// only in case.
func decodeM2MClaims(payload []byte) (*m2mClaims, error) {
	c := &m2mClaims{custom: map[string]json.RawMessage{}}
	if err := readObject(payload, c.set); err != nil {
		return nil, reject(TokenMalformed, fmt.Errorf("claims: %w", err))
	}
	return c, nil
}

func (c *m2mClaims) set(name, value string) error {
	var err error
	switch name {
	case "sub":
		c.sub, err = jsonString(value)
	case "jti":
		c.jti, err = jsonString(value)
	case "iss":
		_, err = jsonString(value)
	case "exp", "nbf", "iat":
		err = c.times.set(name, value)
	default:
		if m2mReserved.folds(name) {
			return fmt.Errorf("claim %q differs from a reserved claim only in case", name)
		}
		c.custom[name] = json.RawMessage(value)
	}
	if err != nil {
		return fmt.Errorf("claim %q: %w", name, err)
	}
	return nil
}

// m2mIdentity checks a verified M2M JWT's claims and builds its caller.
// Its iss is not pinned: Clerk's SDKs do not check it on M2M JWTs, and the
// instance's signing key already proves whose token it is.
func m2mIdentity(payload []byte, now time.Time, skew time.Duration, audience string) (*identity.Identity, error) {
	c, err := decodeM2MClaims(payload)
	if err != nil {
		return nil, err
	}
	if err := c.times.check(now, skew); err != nil {
		return nil, err
	}
	switch {
	case !m2mSubject(c.sub) || !c.hasExp || !c.hasIat:
		return nil, reject(TokenMalformed, errors.New("an M2M token needs a machine sub, an iat and an exp"))
	case c.exp-c.iat > int64(maxM2MJWTLife/time.Second):
		// Clerk cannot revoke a JWT: a long-lived one, leaked, would stay good.
		return nil, reject(TokenMalformed, fmt.Errorf("an M2M JWT may live at most %s", maxM2MJWTLife))
	case c.jti != "" && !m2mTokenID.MatchString(c.jti):
		return nil, reject(TokenMalformed, errors.New("jti is not an M2M token id"))
	}
	if c.scopes, err = m2mScopes(c.custom); err != nil {
		return nil, reject(TokenMalformed, err)
	}
	if err := checkAudience(c.scopes, audience); err != nil {
		return nil, err
	}
	id := &identity.Identity{TokenType: identity.M2MToken, Subject: c.sub, TokenID: c.jti,
		Scopes: c.scopes, Expires: time.Unix(c.exp, 0).UTC()}
	if len(c.custom) > 0 {
		if id.Claims, err = json.Marshal(c.custom); err != nil || len(id.Claims) > maxMachineClaims {
			return nil, reject(TokenMalformed, errors.New("custom claims too large"))
		}
	}
	return id, nil
}

// maxM2MJWTLife bounds an M2M JWT's life (exp - iat). Clerk's default is an
// hour; a JWT cannot be revoked, so a day is the most trusted here.
const maxM2MJWTLife = 24 * time.Hour

// m2mTokenID is the form of an M2M token's id (its jti).
var m2mTokenID = regexp.MustCompile(`^mt_\w{1,64}$`)

// m2mScopes reads the scopes as Clerk's SDKs do: "scopes", space-separated,
// or else "aud", a list. Both stay among the custom claims too. A scope with
// a comma is refused: the authorizer context joins them with commas.
func m2mScopes(custom map[string]json.RawMessage) ([]string, error) {
	var (
		scopes []string
		err    error
	)
	if raw, ok := custom["scopes"]; ok {
		s, err := jsonString(string(raw))
		if err != nil {
			return nil, errors.New(`claim "scopes" is not a string`)
		}
		scopes = strings.Fields(s)
	} else if raw, ok := custom["aud"]; ok {
		if len(raw) > 0 && raw[0] == '"' { // a single audience
			raw = json.RawMessage("[" + string(raw) + "]")
		}
		if scopes, err = jsonStrings(string(raw)); err != nil {
			return nil, errors.New(`claim "aud" is not a list of strings`)
		}
	}
	if slices.ContainsFunc(scopes, func(s string) bool { return strings.Contains(s, ",") }) {
		return nil, errors.New("a scope contains a comma")
	}
	return scopes, nil
}

// checkAudience refuses an M2M token whose scopes do not name audience, the
// API's machine, when one is set.
func checkAudience(scopes []string, audience string) error {
	if audience != "" && !slices.Contains(scopes, audience) {
		return reject(TokenInvalidAudience, fmt.Errorf("the token's scopes do not name %s", audience))
	}
	return nil
}
