package clerkroute

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/clerkfake"
	"clerk-lambda/shared/clerkfake/clerkfaketest"
	"clerk-lambda/shared/logging"
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

func (k *rotatingKeys) Source() string { return "test" }

func (k *rotatingKeys) Invalidate() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kept = k.current
	k.invalidations++
}

// TestRefusedKeyIsReadAgain: after the key is rotated, the first request
// with the old key fails, and the next one reads the new key instead of
// failing until the kept key's TTL runs out.
func TestRefusedKeyIsReadAgain(t *testing.T) {
	t.Parallel()
	clerk := clerkfaketest.Start(t, clerkfake.Config{})
	alice := clerk.AddUser(clerkfake.User{FirstName: "Alice"})
	keys := &rotatingKeys{kept: "sk_test_revoked_" + "0123456789abcdef", current: clerk.SecretKey()}
	r, err := newRoute(Settings{Clerk: clerkapi.Config{URL: clerk.URL()}}, keys, logging.New(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	lookup := func() events.APIGatewayV2HTTPResponse {
		_, err := r.Clerk.User(context.Background(), alice.ID)
		res := events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK}
		if err != nil {
			res = Failure(err, "no such user")
		}
		return r.Finish(context.Background(), "GET /me", res, err)
	}
	if res := lookup(); res.StatusCode != http.StatusBadGateway {
		t.Fatalf("with the revoked key: %d %s", res.StatusCode, res.Body)
	}
	if keys.invalidations != 1 {
		t.Fatalf("invalidations = %d, want 1", keys.invalidations)
	}
	if res := lookup(); res.StatusCode != http.StatusOK {
		t.Fatalf("after the key was read again: %d %s", res.StatusCode, res.Body)
	}
	if keys.invalidations != 1 {
		t.Fatalf("a success invalidated the key: %d invalidations", keys.invalidations)
	}
}
