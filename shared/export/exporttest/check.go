package exporttest

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkapi"
)

// Clerk starts a Clerk stand-in on loopback with n seeded users, closed
// when t ends.
func Clerk(t testing.TB, n int) *clerkfake.Server {
	t.Helper()
	fake := clerkfaketest.Start(t, clerkfake.Config{})
	fake.SeedUsers(n)
	return fake
}

// API is a Backend API client for fake whose retry backoffs are a few
// milliseconds, so tests of retries stay fast.
func API(t testing.TB, fake *clerkfake.Server) *clerkapi.Client {
	t.Helper()
	c, err := clerkapi.New(clerkapi.Config{
		SecretKey:   func(context.Context) (string, error) { return fake.SecretKey(), nil },
		URL:         fake.URL(),
		BackoffBase: time.Millisecond,
		BackoffMax:  10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// IDs are the ids of the users fake holds.
func IDs(fake *clerkfake.Server) []string {
	users := fake.Users()
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

// line is what CheckUsers reads of each exported user.
type line struct {
	Object         string            `json:"object"`
	ID             string            `json:"id"`
	EmailAddresses []json.RawMessage `json:"email_addresses"`
	CreatedAt      int64             `json:"created_at"`
}

// CheckUsers reads an export, gzip-compressed JSON lines, from r and checks
// that it holds each user of want exactly once and no one else, each line
// a Clerk user object. It reads the format on its own, without the export
// package, so the two cannot agree on a mistake.
func CheckUsers(t testing.TB, r io.Reader, want []string) {
	t.Helper()
	zr, err := gzip.NewReader(r)
	if err != nil {
		t.Fatalf("export is not gzip: %v", err)
	}
	seen := make(map[string]int, len(want))
	lines := bufio.NewScanner(zr)
	lines.Buffer(nil, 1<<20)
	for n := 1; lines.Scan(); n++ {
		var u line
		if err := json.Unmarshal(lines.Bytes(), &u); err != nil {
			t.Fatalf("export line %d is not a JSON object: %v", n, err)
		}
		if u.Object != "user" || u.ID == "" || u.CreatedAt == 0 || u.EmailAddresses == nil {
			t.Fatalf("export line %d is not a Clerk user: %s", n, lines.Bytes())
		}
		seen[u.ID]++
	}
	if err := lines.Err(); err != nil {
		t.Fatalf("read export: %v", err)
	}
	missing := 0
	for _, id := range want {
		switch seen[id] {
		case 0:
			missing++
		case 1:
		default:
			t.Errorf("user %s is exported %d times", id, seen[id])
		}
		delete(seen, id)
	}
	if missing > 0 {
		t.Errorf("%d of %d users are missing from the export", missing, len(want))
	}
	for id := range seen {
		t.Errorf("exported %s, which should not be there", id)
	}
}
