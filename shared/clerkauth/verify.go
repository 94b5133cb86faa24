// Package clerkauth verifies Clerk session tokens.
//
// A token is read once: each segment decoded from its one canonical base64url
// spelling, the RS256 signature checked with crypto/rsa over the exact
// signing input, the claims decoded in one pass that refuses duplicate
// members and names that differ from Clerk's only in case. Around that: RS256
// only, checked before any key is used; a JWKS cache with a TTL, a throttled
// refetch for unknown key ids and stale keys served while Clerk is
// unreachable; a clock-skew leeway; the issuer pinned exactly; the authorized
// party checked; pending sessions refused; oversized tokens refused before
// parsing; and a memo, so a token verified once costs microseconds until it
// expires. Every rejection carries a Reason.
//
// clerk-sdk-go's jwt.Verify is not on this path: it decodes the payload
// three times (with go-jose's decoder, then encoding/json twice), which cost
// more than the RSA verification itself, and encoding/json's case-insensitive
// matching cannot be told to refuse "ſub" standing in for "sub". The SDK's
// types (clerk.JSONWebKey) and its JWKS client are still used.
package clerkauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"clerk-lambda/shared/identity"
)

// MaxTokenSize is the largest token accepted. Clerk's session tokens are a
// few hundred bytes to a few KiB (custom claims are limited to 1.2 KB by
// Clerk's cookie budget); anything larger is refused before parsing.
const MaxTokenSize = 8 << 10

// DefaultMemoSize is how many verified tokens are remembered.
const DefaultMemoSize = 10_000

// Options are the parts of a Verifier that are not settings.
type Options struct {
	// SecretKey returns the Clerk secret key, for the JWKS fetch. Not needed
	// with Config.JWTKey.
	SecretKey func(ctx context.Context) (string, error)
	// HTTPClient is used for the JWKS fetch; nil means a client with a timeout.
	HTTPClient *http.Client
	// FetchJWKS replaces the Backend API fetch (SecretKey, HTTPClient and
	// Config.APIURL are then unused).
	FetchJWKS FetchJWKS
	// MemoSize bounds the memo of verified tokens: 0 means DefaultMemoSize,
	// a negative size turns the memo off.
	MemoSize int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// Accepts are the token types verified; empty means session tokens
	// alone. Any other type is refused with TokenTypeNotAccepted before a
	// key is looked up or a request sent.
	Accepts []identity.TokenType
	// Machines verifies opaque machine tokens (and OAuth JWT access
	// tokens); required when Accepts names a machine type. M2M JWTs need
	// no call: they are verified with the instance's keys, as sessions.
	Machines MachineAPI
	// MachineTokenTTL is how long a token Machines verified is taken
	// without asking again (never past its expiration); 0 asks every time.
	MachineTokenTTL time.Duration
	// APIMachine, when set, is the machine (mch_…) an M2M token must name
	// in its scopes: the API's own, so a token minted for another service
	// is refused here (TokenInvalidAudience).
	APIMachine string
}

// Verifier verifies session tokens. It is safe for concurrent use; make one
// per execution environment so its key cache and memo are shared.
type Verifier struct {
	cfg      Config
	audience string // Options.APIMachine
	parties  map[string]bool
	accepts  map[identity.TokenType]bool
	keys     keySource
	memo     *memo
	machines *machines // nil unless a machine type is accepted
	now      func() time.Time
}

// New returns a Verifier for cfg.
func New(cfg Config, opts Options) (*Verifier, error) {
	if cfg.Issuer == "" && !cfg.IssuerCheckOff {
		return nil, errors.New("clerkauth: an issuer is required unless the issuer check is off")
	}
	v := &Verifier{cfg: cfg, now: opts.Now, parties: map[string]bool{}, audience: opts.APIMachine}
	if v.now == nil {
		v.now = time.Now
	}
	for _, p := range cfg.AuthorizedParties {
		v.parties[strings.TrimSuffix(p, "/")] = true
	}
	switch size := opts.MemoSize; {
	case size == 0:
		v.memo = newMemo(DefaultMemoSize)
	case size > 0:
		v.memo = newMemo(size)
	}
	if err := v.accept(opts); err != nil {
		return nil, err
	}
	keys, err := newKeySource(cfg, opts, v.now)
	if err != nil {
		return nil, err
	}
	v.keys = keys
	return v, nil
}

// accept records the accepted types and, when a machine type is among
// them, sets up the Backend API verification and its cache.
func (v *Verifier) accept(opts Options) error {
	v.accepts = map[identity.TokenType]bool{}
	for _, t := range opts.Accepts {
		if !slices.Contains(identity.TokenTypes, t) {
			return fmt.Errorf("clerkauth: %q is not a token type", t)
		}
		v.accepts[t] = true
	}
	if len(v.accepts) == 0 {
		v.accepts[identity.SessionToken] = true
	}
	if !v.accepts[identity.M2MToken] && !v.accepts[identity.APIKey] && !v.accepts[identity.OAuthToken] {
		return nil
	}
	if opts.Machines == nil {
		return errors.New("clerkauth: machine tokens are verified with the Backend API, and no client is configured")
	}
	v.machines = &machines{api: opts.Machines, ttl: opts.MachineTokenTTL, memo: newMemo(DefaultMemoSize),
		skew: v.cfg.ClockSkew, audience: opts.APIMachine, now: v.now}
	return nil
}

func newKeySource(cfg Config, opts Options, now func() time.Time) (keySource, error) {
	if cfg.JWTKey != "" {
		jwk, err := ParsePublicKey(cfg.JWTKey)
		if err != nil {
			return nil, fmt.Errorf("CLERK_JWT_KEY: %w", err)
		}
		return staticKey{jwk: jwk}, nil
	}
	fetch := opts.FetchJWKS
	if fetch == nil {
		if opts.SecretKey == nil {
			return nil, errors.New("clerkauth: without CLERK_JWT_KEY the JWKS is fetched with the secret key, and none is configured")
		}
		fetch = backendJWKS(cfg.APIURL, opts.SecretKey, opts.HTTPClient)
	}
	return newJWKSCache(fetch, now), nil
}

// Verify checks token and returns the caller's identity. The returned
// Identity is shared with later calls for the same token: do not modify it.
func (v *Verifier) Verify(ctx context.Context, token string) (*identity.Identity, error) {
	if token == "" {
		return nil, reject(TokenMissing, nil)
	}
	if len(token) > MaxTokenSize {
		return nil, reject(TokenTooLarge, fmt.Errorf("token is %d bytes, the limit is %d", len(token), MaxTokenSize))
	}
	if t, body, ok := opaqueType(token); ok {
		return v.verifyOpaque(ctx, t, body, token)
	}
	now := v.now()
	var sum [32]byte
	if v.memo != nil {
		sum = sha256.Sum256([]byte(token))
		if id, _, ok := v.memo.get(sum, now); ok {
			return id, nil
		}
	}
	id, err := v.verify(ctx, token, now)
	if err != nil {
		return nil, err
	}
	// An OAuth access token is Clerk's to revoke: the machine cache, with
	// its shorter life, holds it. Sessions and M2M JWTs are held to exp.
	if v.memo != nil && id.TokenType != identity.OAuthToken {
		v.memo.put(sum, id, id.Expires.Add(v.cfg.ClockSkew), now, len(token))
	}
	return id, nil
}

// verifyOpaque verifies an mt_, ak_ or oat_ token: refused at once when its
// type is not accepted or it cannot be one of Clerk's, so neither costs a
// Backend API call; otherwise asked of Clerk, through the cache.
func (v *Verifier) verifyOpaque(ctx context.Context, t identity.TokenType, body, token string) (*identity.Identity, error) {
	if !v.accepts[t] {
		return nil, reject(TokenTypeNotAccepted, fmt.Errorf("a %s", t))
	}
	if !wellFormedOpaque(body) {
		return nil, reject(TokenMalformed, fmt.Errorf("not a well-formed %s", t))
	}
	return v.machines.verify(ctx, t, token)
}

func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (*identity.Identity, error) {
	jws, err := splitCompact(token)
	if err != nil {
		return nil, err
	}
	hdr, err := parseHeader(jws.header)
	if err != nil {
		return nil, err
	}
	t, err := jwtType(hdr)
	if err != nil {
		return nil, err
	}
	// A JWT whose category does not say may still be an M2M token, told by
	// its sub once verified; refused here only if neither kind is accepted.
	undecided := t == identity.SessionToken && (hdr.Cat == "" || hdr.Cat == ignoreCategory)
	if !v.accepts[t] && !(undecided && v.accepts[identity.M2MToken]) {
		return nil, reject(TokenTypeNotAccepted, fmt.Errorf("a %s", t))
	}
	if err := v.checkSignature(ctx, hdr, jws); err != nil {
		return nil, err
	}
	if t == identity.OAuthToken {
		// Signed by the instance, so a forged one costs no request; Clerk
		// still says whether it was revoked.
		return v.machines.verify(ctx, t, token)
	}
	return v.identityOf(t, undecided, jws.payload, now)
}

// checkSignature verifies the JWT's RS256 signature with the instance key
// its kid names.
func (v *Verifier) checkSignature(ctx context.Context, hdr joseHeader, jws compactJWS) error {
	if hdr.Alg != "RS256" {
		return reject(TokenInvalidAlgorithm, fmt.Errorf("alg %q is not RS256", hdr.Alg))
	}
	jwk, err := v.keys.key(ctx, hdr.Kid)
	if err != nil {
		return err
	}
	if jwk.Algorithm != hdr.Alg { // as clerk-sdk-go checks it: a key published for another algorithm is not used
		return reject(TokenInvalidAlgorithm, fmt.Errorf("the key is for %q", jwk.Algorithm))
	}
	pub, ok := jwk.Key.(*rsa.PublicKey)
	if !ok {
		return reject(TokenInvalidSignature, errors.New("the key is not an RSA public key"))
	}
	digest := sha256.Sum256(jws.signingInput)
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], jws.signature) != nil {
		return reject(TokenInvalidSignature, nil)
	}
	return nil
}

// identityOf checks a verified JWT's claims and builds its caller: an M2M
// token's if its header says so, or, when its category does not say
// (undecided), its sub; a session's otherwise. A token its category marks
// as a session never becomes a machine's.
func (v *Verifier) identityOf(t identity.TokenType, undecided bool, payload []byte, now time.Time) (*identity.Identity, error) {
	if t == identity.M2MToken {
		return m2mIdentity(payload, now, v.cfg.ClockSkew, v.audience)
	}
	c, err := decodeClaims(payload)
	if err != nil {
		return nil, err
	}
	if m2mSubject(c.sub) {
		if !undecided {
			return nil, reject(TokenMalformed, errors.New("a session token with a machine's sub"))
		}
		if !v.accepts[identity.M2MToken] {
			return nil, reject(TokenTypeNotAccepted, fmt.Errorf("a %s", identity.M2MToken))
		}
		return m2mIdentity(payload, now, v.cfg.ClockSkew, v.audience)
	}
	if !v.accepts[identity.SessionToken] {
		return nil, reject(TokenTypeNotAccepted, fmt.Errorf("a %s", identity.SessionToken))
	}
	if err := v.checkClaims(c, now); err != nil {
		return nil, err
	}
	return newIdentity(c), nil
}

// checkClaims applies the checks on verified claims, in the order
// clerk-sdk-go made them: times first (with the leeway, as go-jose compares
// them), then what the SDK left out or did loosely.
func (v *Verifier) checkClaims(c *claims, now time.Time) error {
	if err := c.times.check(now, v.cfg.ClockSkew); err != nil {
		return err
	}
	if c.sub == "" || !c.hasExp {
		return reject(TokenMalformed, errors.New("token has no sub or no exp"))
	}
	if c.sid == "" {
		// JWT-template tokens are signed with the same instance key but carry
		// no session: they may live for years and survive sign-out.
		return reject(TokenMalformed, errors.New("not a session token: no sid"))
	}
	if !v.cfg.IssuerCheckOff && c.iss != v.cfg.Issuer {
		return reject(TokenInvalidIssuer, fmt.Errorf("issuer %q is not %q", c.iss, v.cfg.Issuer))
	}
	if len(v.parties) > 0 && !v.parties[strings.TrimSuffix(c.azp, "/")] {
		return reject(TokenInvalidAuthorizedParty, fmt.Errorf("azp %q is not an authorized party", c.azp))
	}
	if c.sts == "pending" && !v.cfg.AllowPendingSessions {
		return reject(SessionPending, nil)
	}
	return nil
}
