package clerkapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
)

func cacheFor(t *testing.T, fake *clerkfake.Server, ttl time.Duration, max int) (*UserCache, *time.Time) {
	t.Helper()
	key := fake.SecretKey()
	c, err := New(Config{URL: fake.URL(), SecretKey: func(context.Context) (string, error) { return key, nil }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u := NewUserCache(c, ttl, max)
	u.now = func() time.Time { return now }
	return u, &now
}

func TestUserCacheTTL(t *testing.T) {
	t.Parallel()
	fake := clerkfaketest.Start(t, clerkfake.Config{})
	ada := fake.AddUser(clerkfake.User{FirstName: "Ada"})
	u, now := cacheFor(t, fake, 30*time.Second, 0)
	path := "/v1/users/" + ada.ID
	for range 5 {
		if got, err := u.User(context.Background(), ada.ID); err != nil || got.ID != ada.ID {
			t.Fatalf("User = %v, %v", got, err)
		}
	}
	if n := fake.Requests(path); n != 1 {
		t.Fatalf("%d requests within the TTL, want 1", n)
	}
	*now = now.Add(30 * time.Second)
	if _, err := u.User(context.Background(), ada.ID); err != nil || fake.Requests(path) != 2 {
		t.Fatalf("after the TTL: %v, %d requests; want a second request", err, fake.Requests(path))
	}
}

func TestUserCacheKeepsNoOtherFailure(t *testing.T) {
	t.Parallel()
	fake := clerkfaketest.Start(t, clerkfake.Config{})
	ada := fake.AddUser(clerkfake.User{FirstName: "Ada"})
	u, _ := cacheFor(t, fake, time.Minute, 0)
	u.client.maxAttempts, u.client.backoffBase, u.client.backoffMax = 1, time.Millisecond, time.Millisecond
	fake.Fail(clerkfake.Failure{ServerErrors: 1})
	if _, err := u.User(context.Background(), ada.ID); err == nil {
		t.Fatal("a 500 was not an error")
	}
	if got, err := u.User(context.Background(), ada.ID); err != nil || got.ID != ada.ID {
		t.Fatalf("after a 500 the failure was kept: %v, %v", got, err)
	}
}

func TestUserCacheBounded(t *testing.T) {
	t.Parallel()
	fake := clerkfaketest.Start(t, clerkfake.Config{})
	u, _ := cacheFor(t, fake, time.Minute, 3)
	for range 10 {
		user := fake.AddUser(clerkfake.User{})
		if _, err := u.User(context.Background(), user.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(u.entries); n > 3 {
		t.Fatalf("%d entries, want at most 3", n)
	}
}

func TestUserCacheSharesConcurrentLookups(t *testing.T) {
	t.Parallel()
	fake := clerkfaketest.Start(t, clerkfake.Config{})
	ada := fake.AddUser(clerkfake.User{FirstName: "Ada"})
	fake.Fail(clerkfake.Failure{Latency: 100 * time.Millisecond})
	u, _ := cacheFor(t, fake, time.Minute, 0)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := u.User(context.Background(), ada.ID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := fake.Requests("/v1/users/" + ada.ID); n != 1 {
		t.Fatalf("20 concurrent lookups made %d requests, want 1", n)
	}
}

// TestUserCacheKeepsNoPrivateMetadata: what stays in memory is what /me
// shows, without the private and the (user-sized) unsafe metadata.
func TestUserCacheKeepsNoPrivateMetadata(t *testing.T) {
	t.Parallel()
	fake := clerkfaketest.Start(t, clerkfake.Config{})
	ada := fake.AddUser(clerkfake.User{FirstName: "Ada", PublicMetadata: map[string]any{"plan": "pro"},
		PrivateMetadata: map[string]any{"stripe": "cus_private"}})
	u, _ := cacheFor(t, fake, time.Minute, 0)
	if _, err := u.User(context.Background(), ada.ID); err != nil {
		t.Fatal(err)
	}
	kept, err := u.User(context.Background(), ada.ID)
	if err != nil || kept.PrivateMetadata != nil || kept.UnsafeMetadata != nil || string(kept.PublicMetadata) != `{"plan":"pro"}` {
		t.Fatalf("kept user = %+v, %v; want its public metadata only", kept, err)
	}
}
