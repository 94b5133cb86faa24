package clerkauth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
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
	if rsaKey.N.BitLen() < 2048 {
		return nil, fmt.Errorf("RSA key has %d bits, want at least 2048", rsaKey.N.BitLen())
	}
	return jwk, nil
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
type jwksCache struct {
	fetch FetchJWKS
	now   func() time.Time
	group singleflight.Group

	mu          sync.Mutex
	keys        map[string]*clerk.JSONWebKey
	fetchedAt   time.Time // last successful fetch
	kidRefetch  time.Time // last refetch caused by an unknown kid
	failedAt    time.Time // last failed fetch
	lastFailure error
}

func newJWKSCache(fetch FetchJWKS, now func() time.Time) *jwksCache {
	return &jwksCache{fetch: fetch, now: now}
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
		c.store(set, err)
		return nil, err
	})
}

func (c *jwksCache) store(set *clerk.JSONWebKeySet, err error) {
	keys := map[string]*clerk.JSONWebKey{}
	if err == nil && set != nil {
		for _, k := range set.Keys {
			if usableKey(k) {
				keys[k.KeyID] = k
			}
		}
		if len(keys) == 0 {
			err = errors.New("the JWKS has no RSA signing keys")
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failedAt, c.lastFailure = c.now(), fmt.Errorf("fetch jwks: %w", err)
		return
	}
	c.keys, c.fetchedAt, c.failedAt, c.lastFailure = keys, c.now(), time.Time{}, nil
}

// usableKey keeps the RSA signing keys of a JWKS and drops anything else.
func usableKey(k *clerk.JSONWebKey) bool {
	if k == nil || k.KeyID == "" || (k.Use != "" && k.Use != "sig") {
		return false
	}
	_, isRSA := k.Key.(*rsa.PublicKey)
	return isRSA
}
