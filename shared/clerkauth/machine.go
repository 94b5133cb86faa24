package clerkauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/identity"
)

// MachineAPI verifies opaque machine tokens with Clerk's Backend API;
// *clerkapi.Client is one. A token Clerk does not know gives an error for
// which errors.Is(err, clerkapi.ErrNotFound) holds.
type MachineAPI interface {
	VerifyM2MToken(ctx context.Context, token string) (*clerkapi.VerifiedToken, error)
	VerifyAPIKey(ctx context.Context, secret string) (*clerkapi.VerifiedToken, error)
	VerifyOAuthToken(ctx context.Context, token string) (*clerkapi.VerifiedToken, error)
}

// The prefixes of Clerk's opaque machine tokens, as Clerk's SDKs tell them
// apart.
const (
	m2mPrefix    = "mt_"
	apiKeyPrefix = "ak_"
	oauthPrefix  = "oat_"
)

// Bounds on an opaque token's characters after its prefix. Clerk documents
// no length, so none is pinned: these only keep strings that cannot be a
// token (a few characters, or kilobytes) from costing a Backend API call.
const (
	minOpaqueBody = 16
	maxOpaqueBody = 256
)

// refusalTTL is how long a machine token's refusal (unknown, revoked,
// expired) is remembered, so a client repeating a bad token costs at most
// one Backend API call per this long.
const refusalTTL = 10 * time.Second

// verifyTimeout bounds one Backend API verification, retries included, well
// inside API Gateway's wait for the authorizer.
const verifyTimeout = 3 * time.Second

// maxMachineClaims bounds a machine token's custom claims: they travel in
// the authorizer context, and API Gateway limits its size.
const maxMachineClaims = 4 << 10

// opaqueType tells an opaque machine token's type from its prefix; ok is
// false for anything else (a JWT, or garbage).
func opaqueType(token string) (t identity.TokenType, body string, ok bool) {
	for _, p := range []struct {
		prefix string
		typ    identity.TokenType
	}{{m2mPrefix, identity.M2MToken}, {apiKeyPrefix, identity.APIKey}, {oauthPrefix, identity.OAuthToken}} {
		if rest, found := strings.CutPrefix(token, p.prefix); found {
			return p.typ, rest, true
		}
	}
	return "", "", false
}

// wellFormedOpaque reports whether body (a token after its prefix) can be a
// Clerk token: base64url characters (Clerk's are alphanumeric), within the
// length bounds.
func wellFormedOpaque(body string) bool {
	if len(body) < minOpaqueBody || len(body) > maxOpaqueBody {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// machines verifies tokens with the Backend API and remembers the answers:
// a verified token until the earlier of its expiration and ttl, a refused
// one for refusalTTL. Both are keyed by the token's SHA-256 and bounded as
// the session memo is.
type machines struct {
	api      MachineAPI
	ttl      time.Duration
	memo     *memo
	skew     time.Duration
	audience string // Options.APIMachine
	now      func() time.Time
}

// verify checks an opaque token, or an OAuth JWT access token, of type t.
// The caller has checked that t is accepted and the token's shape.
func (m *machines) verify(ctx context.Context, t identity.TokenType, token string) (*identity.Identity, error) {
	now := m.now()
	sum := sha256.Sum256([]byte(token))
	if id, refused, ok := m.memo.get(sum, now); ok {
		return id, refused
	}
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	vt, err := m.ask(ctx, t, token)
	if err == nil {
		var id *identity.Identity
		if id, err = machineIdentity(t, vt, now, m.skew, m.audience); err == nil {
			if until := m.trustUntil(vt, now); until.After(now) {
				m.memo.put(sum, id, until, now, len(token)+identitySize(id))
			}
			return id, nil
		}
	}
	if r := ReasonOf(err); r == TokenInvalid || r == TokenRevoked || r == TokenExpired || r == TokenInvalidAudience {
		m.memo.refuse(sum, err, now.Add(refusalTTL), now, len(token))
	}
	return nil, err
}

// trustUntil is how long a verified token is taken without asking again:
// ttl, cut short by its expiration.
func (m *machines) trustUntil(vt *clerkapi.VerifiedToken, now time.Time) time.Time {
	until := now.Add(m.ttl)
	if !vt.Expiration.IsZero() && vt.Expiration.Before(until) {
		until = vt.Expiration
	}
	return until
}

// ask sends the token to the endpoint for its type and classifies failures:
// a token Clerk does not know (404) or calls malformed (400, 422) is
// token-invalid; anything else (Clerk unreachable, failing, or refusing the
// secret key) is clerk-unavailable, never a grant.
func (m *machines) ask(ctx context.Context, t identity.TokenType, token string) (*clerkapi.VerifiedToken, error) {
	var vt *clerkapi.VerifiedToken
	var err error
	switch t {
	case identity.M2MToken:
		vt, err = m.api.VerifyM2MToken(ctx, token)
	case identity.APIKey:
		vt, err = m.api.VerifyAPIKey(ctx, token)
	case identity.OAuthToken:
		vt, err = m.api.VerifyOAuthToken(ctx, token)
	default:
		return nil, reject(TokenTypeNotAccepted, fmt.Errorf("%s is not verified by the Backend API", t))
	}
	var apiErr *clerkapi.APIError
	switch {
	case err == nil:
		return vt, nil
	case errors.Is(err, clerkapi.ErrNotFound):
		return nil, reject(TokenInvalid, nil)
	case errors.As(err, &apiErr) && (apiErr.Status == http.StatusBadRequest || apiErr.Status == http.StatusUnprocessableEntity):
		return nil, reject(TokenInvalid, err)
	}
	return nil, reject(ClerkUnavailable, err)
}

// identitySize is roughly the bytes a machine identity holds beyond its
// fixed fields: what Clerk said of the token, which the token's own size
// does not bound.
func identitySize(id *identity.Identity) int {
	n := len(id.Subject) + len(id.TokenID) + len(id.Claims)
	for _, s := range id.Scopes {
		n += len(s) + 16
	}
	return n
}

// machineIdentity is the caller a verified token speaks for. Revoked and
// expired tokens are refused (Clerk's verdict, or the expiration passed
// with the clock skew); the subject must fit the type.
func machineIdentity(t identity.TokenType, vt *clerkapi.VerifiedToken, now time.Time, skew time.Duration, audience string) (*identity.Identity, error) {
	switch {
	case vt.Revoked:
		return nil, reject(TokenRevoked, nil)
	case vt.Expired || !vt.Expiration.IsZero() && now.Add(-skew).After(vt.Expiration):
		return nil, reject(TokenExpired, nil)
	case t == identity.M2MToken && !strings.HasPrefix(vt.Subject, "mch_"),
		t == identity.OAuthToken && !strings.HasPrefix(vt.Subject, "user_"):
		return nil, reject(TokenMalformed, fmt.Errorf("a %s for %q", t, vt.Subject))
	case slices.ContainsFunc(vt.Scopes, func(s string) bool { return strings.Contains(s, ",") }):
		// The context joins scopes with commas: "a,b" would read back as two.
		return nil, reject(TokenMalformed, errors.New("a scope contains a comma"))
	case len(vt.Claims) > maxMachineClaims:
		return nil, reject(TokenMalformed, fmt.Errorf("custom claims of %d bytes, the limit is %d", len(vt.Claims), maxMachineClaims))
	}
	if t == identity.M2MToken {
		if err := checkAudience(vt.Scopes, audience); err != nil {
			return nil, err
		}
	}
	id := &identity.Identity{TokenType: t, Subject: vt.Subject, TokenID: vt.ID, Scopes: vt.Scopes, Claims: vt.Claims}
	if !vt.Expiration.IsZero() {
		id.Expires = vt.Expiration.UTC().Truncate(time.Second)
	}
	if t != identity.M2MToken && strings.HasPrefix(vt.Subject, "user_") {
		id.UserID = vt.Subject
	}
	return id, nil
}
