// Package clerkauth verifies Clerk session tokens.
//
// It uses clerk-sdk-go's jwt.Verify for the signature and claims, always
// handing it the key so the SDK never fetches anything itself, and closes the
// SDK's gaps: RS256 only, checked before any key is used; a JWKS cache with a
// TTL, a throttled refetch for unknown key ids and stale keys served while
// Clerk is unreachable; a clock-skew leeway; the issuer pinned exactly; the
// authorized party checked; pending sessions refused; oversized tokens refused
// before parsing; and a memo, so a token verified once costs microseconds
// until it expires. Every rejection carries a Reason.
package clerkauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwt"
	jose "github.com/go-jose/go-jose/v3"
	josejwt "github.com/go-jose/go-jose/v3/jwt"

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
}

// Verifier verifies session tokens. It is safe for concurrent use; make one
// per execution environment so its key cache and memo are shared.
type Verifier struct {
	cfg     Config
	parties map[string]bool
	keys    keySource
	memo    *memo
	now     func() time.Time
}

// New returns a Verifier for cfg.
func New(cfg Config, opts Options) (*Verifier, error) {
	if cfg.Issuer == "" && !cfg.IssuerCheckOff {
		return nil, errors.New("clerkauth: an issuer is required unless the issuer check is off")
	}
	v := &Verifier{cfg: cfg, now: opts.Now, parties: map[string]bool{}}
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
	keys, err := newKeySource(cfg, opts, v.now)
	if err != nil {
		return nil, err
	}
	v.keys = keys
	return v, nil
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
	now := v.now()
	var sum [32]byte
	if v.memo != nil {
		sum = sha256.Sum256([]byte(token))
		if id, ok := v.memo.get(sum, now); ok {
			return id, nil
		}
	}
	id, err := v.verify(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if v.memo != nil {
		v.memo.put(sum, id, id.Expires.Add(v.cfg.ClockSkew), now, len(token))
	}
	return id, nil
}

// joseHeader is the part of the JOSE header read before any key is touched.
type joseHeader struct {
	Alg string
	Kid string
}

func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (*identity.Identity, error) {
	hdr, err := parseHeader(token)
	if err != nil {
		return nil, err
	}
	if hdr.Alg != "RS256" {
		return nil, reject(TokenInvalidAlgorithm, fmt.Errorf("alg %q is not RS256", hdr.Alg))
	}
	jwk, err := v.keys.key(ctx, hdr.Kid)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	claims, err := jwt.Verify(ctx, &jwt.VerifyParams{
		Token:                   token,
		JWK:                     jwk,
		Clock:                   fixedClock(now),
		Leeway:                  v.cfg.ClockSkew,
		IsSatellite:             true, // the SDK's loose issuer check is replaced by the exact one below
		CustomClaimsConstructor: func(context.Context) any { return &raw },
	})
	if err != nil {
		return nil, sdkReason(err)
	}
	if err := v.checkClaims(claims, raw); err != nil {
		return nil, err
	}
	return newIdentity(claims, raw), nil
}

// parseHeader decodes the JOSE header of a compact JWS. Member names are
// matched exactly, as JOSE requires: encoding/json's case-insensitive field
// matching would let {"alg":"HS256","ALG":"RS256"} pass the pin.
func parseHeader(token string) (joseHeader, error) {
	if strings.Count(token, ".") != 2 {
		return joseHeader{}, reject(TokenMalformed, errors.New("not a compact JWT"))
	}
	encoded, _, _ := strings.Cut(token, ".")
	decoded, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil {
		return joseHeader{}, reject(TokenMalformed, errors.New("header is not base64url"))
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(decoded, &members); err != nil {
		return joseHeader{}, reject(TokenMalformed, errors.New("header is not a JSON object"))
	}
	var hdr joseHeader
	for name, value := range members {
		var dst *string
		switch name {
		case "alg":
			dst = &hdr.Alg
		case "kid":
			dst = &hdr.Kid
		default:
			if strings.EqualFold(name, "alg") || strings.EqualFold(name, "kid") {
				return joseHeader{}, reject(TokenMalformed, fmt.Errorf("header member %q differs from %q only in case", name, strings.ToLower(name)))
			}
			continue
		}
		if err := json.Unmarshal(value, dst); err != nil {
			return joseHeader{}, reject(TokenMalformed, fmt.Errorf("header member %q is not a string", name))
		}
	}
	return hdr, nil
}

// sdkReason maps clerk-sdk-go's and go-jose's errors to reasons.
func sdkReason(err error) error {
	switch {
	case errors.Is(err, jose.ErrCryptoFailure):
		return reject(TokenInvalidSignature, nil)
	case errors.Is(err, josejwt.ErrExpired):
		return reject(TokenExpired, nil)
	case errors.Is(err, josejwt.ErrNotValidYet):
		return reject(TokenNotActiveYet, nil)
	case errors.Is(err, josejwt.ErrIssuedInTheFuture):
		return reject(TokenIATInTheFuture, nil)
	case strings.HasPrefix(err.Error(), "invalid signing algorithm"):
		return reject(TokenInvalidAlgorithm, nil)
	}
	return reject(TokenMalformed, errors.New("token could not be decoded"))
}

// checkClaims applies the checks the SDK leaves out or does loosely.
func (v *Verifier) checkClaims(c *clerk.SessionClaims, raw map[string]json.RawMessage) error {
	if err := checkClaimNames(raw); err != nil {
		return err
	}
	if c.Subject == "" || c.Expiry == nil {
		return reject(TokenMalformed, errors.New("token has no sub or no exp"))
	}
	if c.SessionID == "" {
		// JWT-template tokens are signed with the same instance key but carry
		// no session: they may live for years and survive sign-out.
		return reject(TokenMalformed, errors.New("not a session token: no sid"))
	}
	if !v.cfg.IssuerCheckOff && c.Issuer != v.cfg.Issuer {
		return reject(TokenInvalidIssuer, fmt.Errorf("issuer %q is not %q", c.Issuer, v.cfg.Issuer))
	}
	if len(v.parties) > 0 && !v.parties[strings.TrimSuffix(c.AuthorizedParty, "/")] {
		return reject(TokenInvalidAuthorizedParty, fmt.Errorf("azp %q is not an authorized party", c.AuthorizedParty))
	}
	var status string
	if s, ok := raw["sts"]; ok && json.Unmarshal(s, &status) != nil {
		return reject(TokenMalformed, errors.New("sts is not a string"))
	}
	if status == "pending" && !v.cfg.AllowPendingSessions {
		return reject(SessionPending, nil)
	}
	return nil
}

// checkClaimNames refuses a payload with a claim whose name differs from one
// of Clerk's only in letter case. The SDK decodes claims with encoding/json,
// which matches names case-insensitively, so a custom claim "ORG_ROLE" taken
// from user-editable metadata could otherwise pose as "org_role".
func checkClaimNames(raw map[string]json.RawMessage) error {
	for name := range raw {
		if lower := strings.ToLower(name); lower != name && clerkClaims[lower] {
			return reject(TokenMalformed, fmt.Errorf("claim %q differs from %q only in case", name, lower))
		}
	}
	return nil
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }
