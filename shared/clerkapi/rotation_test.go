package clerkapi_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkapi"
)

// rotatingKeys is a secret source whose kept key can be out of date: it
// hands out kept until Invalidate, then current (what SSM holds now).
type rotatingKeys struct {
	mu            sync.Mutex
	kept, current string
	invalidations int
}

func (k *rotatingKeys) SecretKey(context.Context) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kept, nil
}

func (k *rotatingKeys) Invalidate() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kept = k.current
	k.invalidations++
}

// TestRefusedKeyIsReadAgain: after the key is rotated, the first request
// with the old key fails, and the next one reads the new key instead of
// failing until the kept key's TTL runs out. The client does this itself,
// so every user of it (the routes, the export, the CLI) gets it.
func TestRefusedKeyIsReadAgain(t *testing.T) {
	t.Parallel()
	clerk := clerkfaketest.Start(t, clerkfake.Config{})
	alice := clerk.AddUser(clerkfake.User{FirstName: "Alice"})
	keys := &rotatingKeys{kept: "sk_test_revoked_" + "0123456789abcdef", current: clerk.SecretKey()}
	c, err := clerkapi.New(clerkapi.Config{SecretKey: keys.SecretKey, KeyRefused: keys.Invalidate, URL: clerk.URL()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.User(context.Background(), alice.ID)
	var apiErr *clerkapi.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("with the revoked key: %v, want a 401", err)
	}
	if keys.invalidations != 1 {
		t.Fatalf("invalidations = %d, want 1", keys.invalidations)
	}
	if _, err := c.User(context.Background(), alice.ID); err != nil {
		t.Fatalf("after the key was read again: %v", err)
	}
	if keys.invalidations != 1 {
		t.Fatalf("a success invalidated the key: %d invalidations", keys.invalidations)
	}
}
