package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkroute"
	"clerk-lambda/shared/clerkroute/clerkroutetest"
	"clerk-lambda/shared/export/exporttest"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/settings"
)

// TestDefaultPaceStaysUnderClerksLimit: against a stand-in that enforces a
// development instance's 100 requests per 10 s, the export of 50,000 users
// at its default pace gets no 429 at all, and a route asking for a user
// every half second meanwhile is always answered.
func TestDefaultPaceStaysUnderClerksLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("paces 100 requests at the default rate, about 20 s; skipped with -short")
	}
	t.Parallel()
	srv := exporttest.Need(t, s3srv)
	fake := clerkfaketest.Start(t, clerkfake.Config{RateLimit: clerkfake.RateLimit{Requests: 100, Window: 10 * time.Second}})
	fake.SeedUsers(50_000)
	alice := fake.AddUser(clerkfake.User{FirstName: "Alice"})
	s, err := configFromEnv(settings.Map(env(fake, srv.Bucket(t))))
	if err != nil {
		t.Fatal(err)
	}
	j := jobFor(s, srv.Client(), logging.New(&bytes.Buffer{}, slog.LevelInfo))
	route, _ := clerkroutetest.Route(t, clerkroutetest.Env(fake), nil)

	done := make(chan struct{})
	var wg sync.WaitGroup
	var routeCalls, routeFailures int
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				ctx, cancel := clerkroute.CallContext(context.Background())
				_, err := route.Clerk.User(ctx, alice.ID)
				cancel()
				routeCalls++
				if err != nil {
					routeFailures++
					t.Errorf("a route's call during the export failed: %v", clerkroute.Failure(err, "").StatusCode)
				}
			}
		}
	}()
	sum, err := j.handle(context.Background(), json.RawMessage(`{"id":"paced"}`))
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Users != 50_001 {
		t.Errorf("exported %d users, want 50,001", sum.Users)
	}
	if n := fake.RateLimited(); n != 0 {
		t.Errorf("Clerk answered %d requests 429: the default pace is over its limit", n)
	}
	if routeCalls == 0 || routeFailures != 0 {
		t.Errorf("%d route calls during the export, %d failed; want some, none failed", routeCalls, routeFailures)
	}
}
