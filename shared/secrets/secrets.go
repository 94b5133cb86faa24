// Package secrets provides the Clerk secret key to the functions that call
// Clerk's Backend API.
//
// The key comes from CLERK_SECRET_KEY when it is set (a laptop, a .env file,
// sam local); otherwise from an SSM Parameter Store SecureString, read through
// the AWS Parameters and Secrets Lambda Extension when it is attached and with
// the SSM API otherwise. Nothing is read until the key is first needed, so a
// function's cold start pays nothing and the extension is never called during
// the init phase. A fetched key is kept for a TTL, then fetched again, so a
// rotated key is picked up without a redeploy.
//
// Failures are contained in two ways:
//
//   - Stale within a grace period. When the fetch after the TTL fails, the
//     last good key is still returned until one more TTL has passed since it
//     expired, so it is never more than 2×TTL old; after that, calls fail
//     closed with the fetch's error. A short SSM outage thus leaves requests
//     working with a key that still works. The package logs nothing; a caller
//     that wants to see failures logs the errors of the calls that fail.
//   - Backoff. After a failed fetch no new fetch starts for 5 seconds
//     (failedFetchBackoff); calls in that window get the stale key, or else
//     the same failure, at once. An SSM outage or a missing permission thus
//     costs each execution environment at most one GetParameter (with the
//     SDK's own retries) per 5 seconds, not one per request.
//
// A key that Clerk rejects (401 after a rotation) is dropped with
// Provider.Invalidate, so the next call fetches the parameter again; a
// client made by clerkapi.Connect calls it whenever Clerk answers 401.
//
// The key itself never appears in an error or in Source.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"clerk-lambda/shared/settings"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"golang.org/x/sync/singleflight"
)

const (
	// DefaultTTL is how long a fetched key is kept when no TTL is configured.
	DefaultTTL = settings.DefaultSecretKeyTTL

	// fetchTimeout bounds one fetch, which runs on behalf of every caller
	// waiting for it and so is not cut short when one of them gives up.
	fetchTimeout = 10 * time.Second
	// failedFetchBackoff is how long after a failed fetch no new one starts.
	// It bounds the GetParameter calls an outage or a misconfiguration
	// costs, while a transient failure still heals within seconds.
	failedFetchBackoff = 5 * time.Second
	// freshKeyAge is how long a just-fetched key survives Invalidate. A key
	// that young came straight from the parameter, so fetching again would
	// most likely return it again: without this, a key revoked in Clerk but
	// still in SSM would turn every rejected request into a GetParameter.
	freshKeyAge = 5 * time.Second
)

// Config says where the secret key comes from (settings.ReadSecretKey
// reads that from the environment), with optional hooks, there chiefly for
// tests.
type Config struct {
	settings.SecretKey

	// SSMClient builds the SSM client on first use. Nil means one built from
	// config.LoadDefaultConfig.
	SSMClient func(ctx context.Context) (*ssm.Client, error)
	// HTTPClient talks to the extension. Nil means a client with a short
	// timeout that does not follow redirects.
	HTTPClient *http.Client
	// Now is the clock deciding when a kept key expires and when a backoff
	// ends. Nil means time.Now.
	Now func() time.Time
}

// Provider hands out the secret key, fetching and keeping it as Config says.
// It is safe for concurrent use; make one per execution environment.
type Provider struct {
	cfg    Config
	flight singleflight.Group

	mu      sync.Mutex // guards the fields up to the blank line
	key     string     // the last good key; "" before the first fetch and after Invalidate
	fetched time.Time  // when key was fetched
	failure error      // the last fetch's error; nil once a fetch succeeds
	retryAt time.Time  // after a failure, no fetch starts before this

	// Touched only by the one fetch in flight (singleflight runs them one
	// at a time), so they need no lock.
	client *ssm.Client
	probe  probeResult
}

// New checks cfg and returns a Provider. It makes no network call.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.SSMClient == nil {
		cfg.SSMClient = defaultSSMClient
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultExtensionClient()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Provider{cfg: cfg}, nil
}

// Source describes where the key comes from, safe to log: "environment" or
// "ssm:" followed by the parameter name.
func (p *Provider) Source() string {
	if p.cfg.Value != "" {
		return "environment"
	}
	return "ssm:" + p.cfg.Parameter
}

// SecretKey returns the secret key. A key from the environment is returned
// at once. Otherwise a key fetched less than TTL ago is returned from memory;
// if there is none, the key is fetched, with concurrent callers sharing a
// single fetch. If that fetch fails, SecretKey returns the previous key while
// it is less than 2×TTL old, and the fetch's error otherwise; for
// failedFetchBackoff after the failure, calls return the same without
// fetching. SecretKey returns when ctx is done even if the fetch is still
// running; that fetch then completes for the next caller.
func (p *Provider) SecretKey(ctx context.Context) (string, error) {
	if p.cfg.Value != "" {
		return p.cfg.Value, nil
	}
	if v, due, err := p.kept(); !due {
		return v, err
	}
	done := p.flight.DoChan("", func() (any, error) {
		return p.refresh(context.WithoutCancel(ctx))
	})
	select {
	case r := <-done:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", p.describe(ctx.Err())
	}
}

// Invalidate drops the kept key, so that the next SecretKey fetches the
// parameter again (unless a failed fetch's backoff is running; then that
// failure is returned until it ends). Call it when Clerk rejects the key
// with 401, which after a rotation means the kept key was revoked. A key
// fetched less than freshKeyAge ago is kept, and a key from the environment
// is not affected.
func (p *Provider) Invalidate() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg.Now().Sub(p.fetched) >= freshKeyAge {
		p.key = ""
	}
}

// kept says what SecretKey answers without fetching: a key fetched less than
// TTL ago; or, during the backoff after a failed fetch, the stale key within
// its grace or else that failure. due is true when a fetch should start.
func (p *Provider) kept() (key string, due bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	switch {
	case p.key != "" && now.Before(p.fetched.Add(p.cfg.TTL)):
		return p.key, false, nil
	case p.failure == nil || !now.Before(p.retryAt):
		return "", true, nil
	case p.withinGrace(now):
		return p.key, false, nil
	}
	return "", false, p.failure
}

// withinGrace reports whether the kept key may still stand in for a failed
// fetch at now: it expired less than one TTL ago. p.mu must be held.
func (p *Provider) withinGrace(now time.Time) bool {
	return p.key != "" && now.Before(p.fetched.Add(2*p.cfg.TTL))
}

// refresh fetches the key unless a fetch that finished just before this one
// started already decided the answer, and records the outcome.
func (p *Provider) refresh(ctx context.Context) (string, error) {
	if v, due, err := p.kept(); !due {
		return v, err
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	v, err := p.read(ctx)
	if err != nil {
		return p.failed(p.describe(err))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.key, p.fetched, p.failure = v, p.cfg.Now(), nil
	return v, nil
}

// failed records a failed fetch, starting its backoff, and returns the
// stale key while it is within its grace, err otherwise.
func (p *Provider) failed(err error) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	p.failure, p.retryAt = err, now.Add(failedFetchBackoff)
	if p.withinGrace(now) {
		return p.key, nil
	}
	return "", err
}

// read gets the key through the extension when there is one, falling back to
// the SSM API when the extension fails, and from the SSM API otherwise.
func (p *Provider) read(ctx context.Context) (string, error) {
	port := p.extensionPort(ctx)
	if port == "" {
		return p.fromSSM(ctx)
	}
	v, extErr := p.fromExtension(ctx, port)
	if extErr == nil {
		return v, nil
	}
	v, err := p.fromSSM(ctx)
	if err != nil {
		return "", fmt.Errorf("%w (through the extension: %v)", err, extErr)
	}
	return v, nil
}

// describe puts the parameter's name in front of a failure.
func (p *Provider) describe(err error) error {
	return fmt.Errorf("read secret key from SSM parameter %q: %w", p.cfg.Parameter, err)
}

// accept checks a fetched parameter: it must be a SecureString (a plain
// String would mean the key sat unencrypted in SSM) and must not be blank.
// Surrounding white space, as left by `--value file://...`, is dropped.
func accept(typ, value string) (string, error) {
	if typ != "SecureString" {
		return "", fmt.Errorf("parameter type is %q, want SecureString", typ)
	}
	v := strings.TrimSpace(value)
	if v == "" {
		return "", errors.New("parameter is empty")
	}
	return v, nil
}
