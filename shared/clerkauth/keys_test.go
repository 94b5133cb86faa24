package clerkauth

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestJWKSRotationRefetchesOnce(t *testing.T) {
	t.Parallel()
	a, b := keys(t)
	v, srv, _ := primed(t, a)
	srv.set(false, a, b) // Clerk rotates: the JWKS now also has b
	if _, err := v.Verify(context.Background(), b.token(nil)); err != nil {
		t.Fatalf("token signed by the new key: %v", err)
	}
	if got := srv.calls.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 (one at start, one for the new kid)", got)
	}
	if _, err := v.Verify(context.Background(), b.token(func(c map[string]any) { c["sid"] = "sess_other" })); err != nil {
		t.Fatal(err)
	}
	if got := srv.calls.Load(); got != 2 {
		t.Fatalf("a known kid caused a fetch: %d fetches", got)
	}
}

func TestJWKSUnknownKidStormIsThrottled(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v, srv, clk := primed(t, a)

	storm := func() {
		var wg sync.WaitGroup
		for i := range 1000 {
			wg.Go(func() {
				tok := a.sign(map[string]any{"alg": "RS256", "kid": fmt.Sprintf("forged_%d", i)}, sessionClaims())
				if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != JWKKidMismatch {
					t.Errorf("forged kid: %v", err)
				}
			})
		}
		wg.Wait()
	}
	storm()
	if got := srv.calls.Load(); got > 2 {
		t.Fatalf("1,000 unknown kids caused %d fetches, want at most 1 after the first", got-1)
	}
	clk.Advance(kidRefetchInterval - time.Second)
	storm()
	if got := srv.calls.Load(); got > 2 {
		t.Fatalf("a storm inside the throttle window fetched again (%d fetches)", got)
	}
	clk.Advance(2 * time.Second)
	storm()
	if got := srv.calls.Load(); got != 3 {
		t.Fatalf("after the window: %d fetches, want 3", got)
	}
}

func TestJWKSConcurrentFirstCallersShareOneFetch(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	srv := &jwksServer{gate: make(chan struct{})}
	srv.set(false, a)
	v := newJWKSVerifier(t, testConfig(), srv, newClock())
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			tok := a.token(func(c map[string]any) { c["sid"] = fmt.Sprint("sess_", i) })
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
	waitFor(t, "the first fetch to start", func() bool { return srv.calls.Load() > 0 }) // it then holds the gate
	close(srv.gate)
	wg.Wait()
	if got := srv.calls.Load(); got != 1 {
		t.Fatalf("50 concurrent first callers caused %d fetches, want 1", got)
	}
}

func TestJWKSDownAtStartFailsClosed(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	srv := &jwksServer{}
	srv.set(true)
	clk := newClock()
	v := newJWKSVerifier(t, testConfig(), srv, clk)
	_, err := v.Verify(context.Background(), a.token(nil))
	if ReasonOf(err) != JWKSUnavailable {
		t.Fatalf("err = %v, want %s", err, JWKSUnavailable)
	}
	// Within the backoff, no new fetch: still denied, from the same failure.
	if _, err := v.Verify(context.Background(), a.token(nil)); ReasonOf(err) != JWKSUnavailable || srv.calls.Load() != 1 {
		t.Fatalf("during backoff: err %v, %d fetches", err, srv.calls.Load())
	}
	srv.set(false, a)
	clk.Advance(failedFetchBackoff)
	if _, err := v.Verify(context.Background(), a.token(nil)); err != nil {
		t.Fatalf("after Clerk recovered: %v", err)
	}
}

func TestJWKSDownAfterFetchServesCachedKeysForADay(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v, srv, clk := primed(t, a)
	srv.set(true)
	clk.Advance(2 * time.Hour) // past the TTL: a refresh is attempted, fails, cached keys serve
	if _, err := v.Verify(context.Background(), tokenAt(a, 2*time.Hour, nil)); err != nil {
		t.Fatalf("stale keys not served: %v", err)
	}
	waitFor(t, "a refresh attempt", func() bool { return srv.calls.Load() == 2 })
	if _, err := v.Verify(context.Background(), tokenAt(a, 2*time.Hour+time.Second, nil)); err != nil {
		t.Fatalf("stale keys not served after the refresh failed: %v", err)
	}
	clk.Advance(22 * time.Hour) // 24h after the last good fetch: too old
	if _, err := v.Verify(context.Background(), tokenAt(a, 24*time.Hour, nil)); ReasonOf(err) != JWKSUnavailable {
		t.Fatalf("day-old keys still served: %v", err)
	}
}

func TestJWKSKeysDoNotSlideOnUse(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	srv := &jwksServer{}
	srv.set(false, a)
	clk := newClock()
	v := newJWKSVerifier(t, testConfig(), srv, clk)
	for i := range 7 { // a token every 10 minutes, for 70 minutes
		if _, err := v.Verify(context.Background(), tokenAt(a, time.Duration(i)*10*time.Minute, nil)); err != nil {
			t.Fatal(err)
		}
		if i == 6 { // the request at 60 minutes starts the refresh
			waitFor(t, "the hourly refresh", func() bool { return srv.calls.Load() == 2 })
		}
		clk.Advance(10 * time.Minute)
	}
	if got := srv.calls.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2: the keys must be refreshed an hour after the first fetch however often they are used", got)
	}
}

func TestJWKSWithoutKid(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	srv := &jwksServer{}
	srv.set(false, a)
	v := newJWKSVerifier(t, testConfig(), srv, newClock())
	tok := a.sign(map[string]any{"alg": "RS256"}, sessionClaims())
	if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != JWKKidMismatch {
		t.Fatalf("err = %v", err)
	}
}

func TestJWKSStaleKeyServedWithoutWaitingForTheRefresh(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v, srv, clk := primed(t, a)
	gate := make(chan struct{})
	srv.mu.Lock()
	srv.gate = gate // the refresh will hang until the test ends
	srv.mu.Unlock()
	defer close(gate)

	clk.Advance(2 * time.Hour)
	tok := tokenAt(a, 2*time.Hour, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("a known key waited for the refresh: %v", err)
	}
	waitFor(t, "the background refresh to start", func() bool { return srv.calls.Load() == 2 })
}

func TestJWKSEmptyRefreshKeepsTheKeys(t *testing.T) {
	t.Parallel()
	a, _ := keys(t)
	v, srv, clk := primed(t, a)
	srv.set(false) // Clerk answers a JWKS with no keys
	clk.Advance(2 * time.Hour)
	for i := range 2 {
		tok := tokenAt(a, 2*time.Hour, func(c map[string]any) { c["sid"] = fmt.Sprint("sess_", i) })
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("an empty JWKS replaced the good keys: %v", err)
		}
		waitFor(t, "the refresh", func() bool { return srv.calls.Load() == 2 })
	}
}

// waitFor polls cond until it holds, failing the test after a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// primed returns a JWKS verifier whose JWKS serves k, after one token signed
// by k has been verified (one fetch), with its JWKS and clock.
func primed(t *testing.T, k testKey) (*Verifier, *jwksServer, *clock) {
	t.Helper()
	srv := &jwksServer{}
	srv.set(false, k)
	clk := newClock()
	v := newJWKSVerifier(t, testConfig(), srv, clk)
	if _, err := v.Verify(context.Background(), k.token(nil)); err != nil {
		t.Fatalf("first token: %v", err)
	}
	return v, srv, clk
}

// tokenAt is a valid token issued d after t0, for a clock advanced by d.
func tokenAt(k testKey, d time.Duration, edit func(map[string]any)) string {
	now := t0.Add(d)
	return k.token(func(c map[string]any) {
		c["iat"], c["nbf"], c["exp"] = now.Unix(), now.Unix(), now.Add(time.Minute).Unix()
		if edit != nil {
			edit(c)
		}
	})
}
