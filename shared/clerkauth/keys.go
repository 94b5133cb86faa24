package clerkauth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"golang.org/x/sync/singleflight"
)

// keySource finds the public key that signed a token.
type keySource interface {
	key(ctx context.Context, kid string) (*clerk.JSONWebKey, error)
}

// staticKey is CLERK_JWT_KEY: one key, whatever the kid, never a network call.
type staticKey struct{ jwk *clerk.JSONWebKey }

func (s staticKey) key(context.Context, string) (*clerk.JSONWebKey, error) { return s.jwk, nil }

// ParsePublicKey reads an RSA public key in PEM, as Clerk's dashboard shows it.
// The header lines may be missing and line breaks may be written as "\n", as
// happens when the key is pasted into an environment variable.
func ParsePublicKey(pemKey string) (*clerk.JSONWebKey, error) {
	pemKey = strings.TrimSpace(strings.ReplaceAll(pemKey, `\n`, "\n"))
	if !strings.HasPrefix(pemKey, "-----BEGIN") {
		pemKey = "-----BEGIN PUBLIC KEY-----\n" + strings.Join(strings.Fields(pemKey), "\n") + "\n-----END PUBLIC KEY-----"
	}
	jwk, err := clerk.JSONWebKeyFromPEM(pemKey)
	if err != nil {
		return nil, errors.New("not an RSA public key in PEM form")
	}
	rsaKey, ok := jwk.Key.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA public key")
	}
	if problem := rsaProblem(rsaKey); problem != "" {
		return nil, errors.New(problem)
	}
	return jwk, nil
}

// minRSABits is the smallest RSA modulus accepted, from CLERK_JWT_KEY or the
// JWKS alike. Clerk's keys have 2048 bits.
const minRSABits = 2048

// rsaProblem says what makes k unfit to verify tokens, or "" when nothing
// does: fewer than minRSABits, or an exponent that is even or below 3
// (with e = 1 anyone could forge a signature).
func rsaProblem(k *rsa.PublicKey) string {
	if bits := k.N.BitLen(); bits < minRSABits {
		return fmt.Sprintf("RSA key has %d bits, want at least %d", bits, minRSABits)
	}
	if k.E < 3 || k.E%2 == 0 {
		return fmt.Sprintf("RSA key has exponent %d, want an odd one of at least 3", k.E)
	}
	return ""
}

// JWKS cache timings.
const (
	// jwksTTL is how long fetched keys are used before they are refreshed.
	jwksTTL = time.Hour
	// jwksMaxStale is how long fetched keys keep serving while refreshes fail.
	jwksMaxStale = 24 * time.Hour
	// kidRefetchInterval bounds the refetches an unknown kid may cause, so a
	// storm of forged kids cannot turn the authorizer against Clerk's API.
	kidRefetchInterval = 5 * time.Minute
	// failedFetchBackoff spaces out refetches after a failure.
	failedFetchBackoff = 5 * time.Second
	// jwksFetchTimeout bounds one fetch, whoever waits for it.
	jwksFetchTimeout = 5 * time.Second
)

// FetchJWKS retrieves the instance's JSON Web Key Set.
type FetchJWKS func(ctx context.Context) (*clerk.JSONWebKeySet, error)

// jwksCache holds the keys of one execution environment. Keys are fetched
// once, refreshed after jwksTTL, refetched for an unknown kid at most once per
// kidRefetchInterval, and kept serving for jwksMaxStale when refreshes fail.
// Use never extends a key's life. Concurrent callers share one fetch.
//
// A key of the set that is not fit to verify tokens (see keyProblem) is
// skipped and the others serve; a set with no usable key at all is a failed
// fetch. clerkauth has no logger of its own, so each skipped key is reported
// once per kid and cache (one cache per execution environment) through
// warn, which is slog.Default's Warn (a function that makes its logger the
// default gets the line in its own format, request id included); and a
// token naming a skipped key is refused with the key's problem in its error.
type jwksCache struct {
	fetch FetchJWKS
	now   func() time.Time
	group singleflight.Group
	warn  func(ctx context.Context, msg string, args ...any)

	mu          sync.Mutex
	keys        map[string]*clerk.JSONWebKey
	skipped     map[string]string // kid → why, of the last successful fetch
	reported    map[string]bool   // kids of skipped keys already reported
	fetchedAt   time.Time         // last successful fetch
	kidRefetch  time.Time         // last refetch caused by an unknown kid
	failedAt    time.Time         // last failed fetch
	lastFailure error
}

// maxReported bounds the skipped kids a cache remembers having reported,
// so that a hostile JWKS full of bad keys cannot grow it, or the log,
// without end.
const maxReported = 100

func newJWKSCache(fetch FetchJWKS, now func() time.Time) *jwksCache {
	return &jwksCache{fetch: fetch, now: now, warn: func(ctx context.Context, msg string, args ...any) {
		slog.Default().WarnContext(ctx, msg, args...)
	}}
}

func (c *jwksCache) key(ctx context.Context, kid string) (*clerk.JSONWebKey, error) {
	if kid == "" {
		return nil, reject(JWKKidMismatch, errors.New("token has no kid"))
	}
	c.mu.Lock()
	now := c.now()
	k, known := c.keys[kid]
	age := now.Sub(c.fetchedAt)
	fresh := c.keys != nil && age < jwksTTL
	refetch := !fresh || (!known && now.Sub(c.kidRefetch) >= kidRefetchInterval)
	if refetch && !c.failedAt.IsZero() && now.Sub(c.failedAt) < failedFetchBackoff {
		refetch = false // a fetch just failed: do not hammer the API
	}
	if refetch && fresh {
		c.kidRefetch = now
	}
	c.mu.Unlock()

	switch {
	case known && fresh:
		return k, nil
	case known && age < jwksMaxStale:
		// Past the TTL, the key the token names is still served at once;
		// the refresh runs in the background for the requests after it.
		if refetch {
			c.startRefresh(ctx)
		}
		return k, nil
	}
	var fetchErr error
	if refetch {
		fetchErr = c.refresh(ctx)
	}
	return c.lookup(kid, fetchErr)
}

// lookup answers from the cache after a refresh attempt, serving stale keys
// until jwksMaxStale.
func (c *jwksCache) lookup(kid string, fetchErr error) (*clerk.JSONWebKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil || c.now().Sub(c.fetchedAt) >= jwksMaxStale {
		cause := c.lastFailure
		if cause == nil {
			cause = fetchErr
		}
		return nil, reject(JWKSUnavailable, cause)
	}
	if k, ok := c.keys[kid]; ok {
		return k, nil
	}
	if why, ok := c.skipped[kid]; ok {
		return nil, reject(JWKKidMismatch, errors.New("the JWKS key with the token's kid is not used: "+why))
	}
	return nil, reject(JWKKidMismatch, errors.New("no key in the JWKS has the token's kid"))
}

// refresh fetches the JWKS once for all concurrent callers and waits for it,
// as long as ctx allows.
func (c *jwksCache) refresh(ctx context.Context) error {
	select {
	case res := <-c.startRefresh(ctx):
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startRefresh starts the shared fetch, unless one is running, and returns
// its result channel. The fetch runs on its own deadline, so one caller giving
// up does not fail the others, and a caller that does not wait leaks nothing.
func (c *jwksCache) startRefresh(ctx context.Context) <-chan singleflight.Result {
	return c.group.DoChan("jwks", func() (any, error) {
		fetchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
		defer cancel()
		set, err := c.fetch(fetchCtx)
		c.store(fetchCtx, set, err)
		return nil, err
	})
}

func (c *jwksCache) store(ctx context.Context, set *clerk.JSONWebKeySet, err error) {
	keys, skipped := map[string]*clerk.JSONWebKey{}, map[string]string{}
	if err == nil && set != nil {
		for _, k := range set.Keys {
			if why := keyProblem(k); why != "" {
				if k != nil && k.KeyID != "" {
					skipped[k.KeyID] = why
				}
				continue
			}
			keys[k.KeyID] = k
		}
		for kid := range keys {
			delete(skipped, kid) // a usable key and a skipped one under one kid: the usable one serves
		}
	}
	if err == nil && len(keys) == 0 {
		err = noUsableKeys(skipped)
	}
	c.mu.Lock()
	news := c.unreported(skipped)
	if err != nil {
		c.failedAt, c.lastFailure = c.now(), fmt.Errorf("fetch jwks: %w", err)
	} else {
		c.keys, c.skipped, c.fetchedAt, c.failedAt, c.lastFailure = keys, skipped, c.now(), time.Time{}, nil
	}
	c.mu.Unlock()
	for _, kid := range news {
		c.warn(ctx, "a key in the JWKS is skipped", "kid", quoteShort(kid), "problem", skipped[kid])
	}
}

// unreported returns the kids of skipped not reported before, in order, and
// notes them as reported. c.mu is held.
func (c *jwksCache) unreported(skipped map[string]string) []string {
	var news []string
	for _, kid := range slices.Sorted(maps.Keys(skipped)) {
		if c.reported[kid] || len(c.reported) >= maxReported {
			continue
		}
		if c.reported == nil {
			c.reported = map[string]bool{}
		}
		c.reported[kid] = true
		news = append(news, kid)
	}
	return news
}

// noUsableKeys is the error of a JWKS none of whose keys is usable, naming
// a few of them and their problems.
func noUsableKeys(skipped map[string]string) error {
	if len(skipped) == 0 {
		return errors.New("the JWKS has no RSA signing keys")
	}
	var parts []string
	for _, kid := range slices.Sorted(maps.Keys(skipped)) {
		if len(parts) == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(skipped)-3))
			break
		}
		parts = append(parts, "kid "+quoteShort(kid)+": "+skipped[kid])
	}
	return errors.New("the JWKS has no usable key: " + strings.Join(parts, "; "))
}

// keyProblem says why a key of a JWKS is skipped, or "" when it is usable:
// it needs a kid, must be meant for signatures (use "sig" or none) and RS256
// (alg "RS256", which verify requires), and be an RSA public key in which rsaProblem finds
// nothing wrong.
func keyProblem(k *clerk.JSONWebKey) string {
	switch {
	case k == nil:
		return "null key"
	case k.KeyID == "":
		return "no kid"
	}
	if u, ok := k.Key.(undecodable); ok {
		return u.why
	}
	switch {
	case k.Use != "" && k.Use != "sig":
		return "use " + quoteShort(k.Use) + ", not sig"
	case k.Algorithm != "" && k.Algorithm != "RS256":
		return "alg " + quoteShort(k.Algorithm) + ", not RS256"
	}
	rsaKey, ok := k.Key.(*rsa.PublicKey)
	if !ok {
		return "not an RSA public key"
	}
	if problem := rsaProblem(rsaKey); problem != "" {
		return problem
	}
	if k.Algorithm == "" {
		// Verify uses a key only for the algorithm it names, so a key
		// without one could never check a token.
		return "no alg (a key is used only for the RS256 it names)"
	}
	return ""
}

// quoteShort quotes a value from the JWKS for a log line, cut to 40 bytes.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strconv.Quote(s)
}
