package clerkapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkapi"
)

// visits runs EachUser and counts how often each id was passed to fn, in
// order of first visit; during, if set, runs inside fn before counting.
func visits(t *testing.T, c *clerkapi.Client, during func(u *clerk.User, n int)) (order []string, seen map[string]int) {
	t.Helper()
	seen = map[string]int{}
	err := c.EachUser(context.Background(), func(u *clerk.User) error {
		if during != nil {
			during(u, len(order))
		}
		if seen[u.ID] == 0 {
			order = append(order, u.ID)
		}
		seen[u.ID]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return order, seen
}

// visitedOnce fails the test for every user visited other than once.
func visitedOnce(t *testing.T, seen map[string]int) {
	t.Helper()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("user %s visited %d times", id, n)
		}
	}
}

func userIDs(users []clerkfake.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func TestEachUserVisitsTenThousandUsersOnce(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	s.SeedUsers(10_000)

	order, seen := visits(t, c, nil)
	if want := userIDs(s.Users()); !slices.Equal(order, want) {
		t.Fatalf("visited %d users, want all %d in creation order", len(order), len(want))
	}
	visitedOnce(t, seen)
	// 10,000 users fill pages of 500: each page after the first starts with
	// the last user of the one before, so 20 pages hold 9,981 users and the
	// 21st the last 19. A short page is not taken as the end (a server may
	// return fewer than asked for), so a 22nd, holding only the boundary
	// user, shows it. No request ever asks for the count.
	if got := s.Requests("/v1/users"); got != 22 {
		t.Errorf("%d list requests, want 22", got)
	}
	if got := s.Requests("/v1/users/count"); got != 0 {
		t.Errorf("%d count requests, want none", got)
	}
}

func TestEachUserSurvivesChangesBetweenPages(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	seeded := userIDs(s.SeedUsers(2_600))

	// Before each page after the first, the stand-in's users change: the
	// user the last page ended with is deleted, so are 40 users served
	// earlier (which shifts every later user back, the trap of paging by
	// offset) and 5 not served yet, and 10 users are added.
	var mu sync.Mutex
	served := map[string]bool{}
	deleted := map[string]bool{}
	var added []string
	var last string
	change := func() {
		mu.Lock()
		defer mu.Unlock()
		if last == "" {
			return
		}
		doomed := []string{last}
		var early, later int
		for _, id := range seeded {
			switch {
			case deleted[id]:
			case served[id] && early < 40:
				doomed, early = append(doomed, id), early+1
			case !served[id] && later < 5:
				doomed, later = append(doomed, id), later+1
			}
		}
		for _, id := range doomed {
			if s.DeleteUser(id) {
				deleted[id] = true
			}
		}
		for range 10 {
			added = append(added, s.AddUser(clerkfake.User{}).ID)
		}
	}
	record := func(body []byte) {
		var page []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &page); err != nil || len(page) == 0 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, u := range page {
			served[u.ID] = true
		}
		last = page[len(page)-1].ID
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/users" {
			s.Handler().ServeHTTP(w, r)
			return
		}
		change()
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, r)
		record(rec.Body.Bytes())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	c := client(t, s, func(cfg *clerkapi.Config) { cfg.URL = srv.URL + "/v1" })

	_, seen := visits(t, c, nil)

	mu.Lock()
	defer mu.Unlock()
	if len(deleted) < 200 {
		t.Fatalf("only %d users were deleted during the walk", len(deleted))
	}
	for _, id := range seeded {
		switch n := seen[id]; {
		case !deleted[id] && n != 1:
			t.Errorf("user %s, present throughout, visited %d times", id, n)
		case n > 1:
			t.Errorf("deleted user %s visited %d times", id, n)
		}
	}
	for _, id := range added {
		if seen[id] > 1 {
			t.Errorf("added user %s visited %d times", id, seen[id])
		}
	}
	if seen[added[0]] != 1 {
		t.Error("a user added early in the walk was not reached at its end")
	}
}

func TestEachUserWithConcurrentWriters(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	seeded := userIDs(s.SeedUsers(3_000))
	doomed := map[string]bool{}
	for i, id := range seeded {
		if i%4 == 1 {
			doomed[id] = true
		}
	}

	started := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Go(func() {
		<-started
		for i, id := range seeded {
			if doomed[id] {
				s.DeleteUser(id)
			}
			if i%10 == 0 {
				s.AddUser(clerkfake.User{})
			}
		}
	})
	_, seen := visits(t, c, func(*clerk.User, int) { once.Do(func() { close(started) }) })
	wg.Wait()

	for _, id := range seeded {
		if n := seen[id]; (!doomed[id] && n != 1) || n > 1 {
			t.Errorf("user %s (deleted: %v) visited %d times", id, doomed[id], n)
		}
	}
	visitedOnce(t, seen)
}

func TestEachUserWithUsersCreatedInTheSameMillisecond(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	s.SeedUsers(120)
	same := time.Now().Add(-time.Hour)
	for range 1_150 { // more than two pages share one creation time
		s.AddUser(clerkfake.User{CreatedAt: same})
	}
	s.SeedUsers(230)

	order, seen := visits(t, c, nil)
	want := userIDs(s.Users())
	slices.Sort(order)
	slices.Sort(want)
	if !slices.Equal(order, want) {
		t.Fatalf("visited %d distinct users, want %d", len(order), len(want))
	}
	visitedOnce(t, seen)
}

func TestEachUserStops(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	s.SeedUsers(1_200)

	stop := errors.New("enough")
	n := 0
	err := c.EachUser(context.Background(), func(*clerk.User) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if err != stop || n != 10 || s.Requests("/v1/users") != 1 {
		t.Errorf("after fn failed: err %v, %d calls, %d requests; want fn's error, 10, 1", err, n, s.Requests("/v1/users"))
	}

	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = c.EachUser(ctx, func(*clerk.User) error {
		n++
		if n == 500 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 500 || s.Requests("/v1/users") != 2 {
		t.Errorf("after cancel: err %v, %d calls, %d requests; want context.Canceled, 500, 2", err, n, s.Requests("/v1/users"))
	}
}

func TestEachUserRetriesPages(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	w := recordWaits(c)
	s.SeedUsers(1_100)
	s.Fail(clerkfake.Failure{RateLimited: 1, RetryAfter: 2, ServerErrors: 2, Paths: []string{"/v1/users"}})
	order, _ := visits(t, c, nil)
	if len(order) != 1_100 {
		t.Fatalf("visited %d users, want 1100", len(order))
	}
	if got := w.all(); len(got) != 3 || got[0] != 2*time.Second {
		t.Errorf("waits %v, want Retry-After's 2s then two backoffs", got)
	}
}

// limitTo serves the stand-in's API but answers every list with at most n
// users, whatever limit was asked for, as Clerk has been seen to do.
func limitTo(t *testing.T, s *clerkfake.Server, n int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Set("limit", strconv.Itoa(n))
		r.URL.RawQuery = q.Encode()
		s.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestEachUserReadsPastShortPages(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	s.SeedUsers(95)
	srv := limitTo(t, s, 10)
	c := client(t, s, func(cfg *clerkapi.Config) { cfg.URL = srv.URL + "/v1" })

	order, _ := visits(t, c, nil)
	if want := userIDs(s.Users()); !slices.Equal(order, want) {
		t.Errorf("visited %d users, want all %d in creation order", len(order), len(want))
	}
}

func TestEachUserFailsWhenTheCursorDoesNotAdvance(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	// A server that ignores created_at_after and offset answers every page
	// with the same 500 users.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		page := make([]map[string]any, 500)
		for i := range page {
			page[i] = map[string]any{"object": "user", "id": fmt.Sprintf("user_%03d", i), "created_at": 1000}
		}
		_ = json.NewEncoder(w).Encode(page)
	}))
	t.Cleanup(srv.Close)
	c, err := clerkapi.New(clerkapi.Config{
		SecretKey: func(context.Context) (string, error) { return "sk_test_x", nil },
		URL:       srv.URL + "/v1",
	})
	if err != nil {
		t.Fatal(err)
	}

	n := 0
	err = c.EachUser(context.Background(), func(*clerk.User) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "did not advance past created_at 1000") {
		t.Errorf("err %v, want one saying the cursor did not advance", err)
	}
	if n != 500 || requests.Load() != 2 {
		t.Errorf("%d users in %d requests, want 500 in 2", n, requests.Load())
	}
}

// pages serves the given list bodies in turn, the last one from then on.
func pages(t *testing.T, bodies ...string) *clerkapi.Client {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := min(int(n.Add(1))-1, len(bodies)-1)
		_, _ = w.Write([]byte(bodies[i]))
	}))
	t.Cleanup(srv.Close)
	c, err := clerkapi.New(clerkapi.Config{
		SecretKey: func(context.Context) (string, error) { return "sk_test_x", nil },
		URL:       srv.URL + "/v1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEachRawUserPassesUsersAsReturned(t *testing.T) {
	t.Parallel()
	first := `{"object":"user","id":"user_1","created_at":5,"passkeys":[],"locale":"fr-FR"}`
	c := pages(t, `[null, `+first+`]`, `[`+first+`]`)
	var got []string
	err := c.EachRawUser(context.Background(), func(raw json.RawMessage) error {
		got = append(got, string(raw))
		return nil
	})
	if err != nil || !slices.Equal(got, []string{first}) {
		t.Errorf("EachRawUser: %v, users %q; want only %s, as sent, the null skipped", err, got, first)
	}
}

// A walk stopped anywhere and continued from its cursor, sent through JSON
// as a checkpoint is, passes every user once, in the order of one walk:
// at page boundaries, mid-page, and inside a millisecond many users share.
func TestWalkUsersResumesFromItsCursor(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	s.SeedUsers(700)
	same := time.Now().Add(-time.Hour)
	for range 600 {
		s.AddUser(clerkfake.User{CreatedAt: same})
	}
	s.SeedUsers(400)
	whole, _ := visits(t, c, nil)
	for _, every := range []int{1, 137, 499, 500, 501} {
		var order []string
		cur := clerkapi.Cursor{}
		errStop := errors.New("stop")
		for walks := 0; ; walks++ {
			if walks > 2000 {
				t.Fatalf("every %d: the walk does not end", every)
			}
			n := 0
			err := c.WalkUsers(context.Background(), &cur, func(raw json.RawMessage) error {
				var u struct{ ID string }
				_ = json.Unmarshal(raw, &u)
				order = append(order, u.ID)
				if n++; n == every {
					return errStop
				}
				return nil
			})
			if err == nil {
				break
			}
			if !errors.Is(err, errStop) {
				t.Fatal(err)
			}
			b, _ := json.Marshal(cur)
			cur = clerkapi.Cursor{}
			if err := json.Unmarshal(b, &cur); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(order, whole) {
			t.Errorf("stopped every %d users: %d users passed, want the %d of one walk in its order", every, len(order), len(whole))
		}
	}
}
