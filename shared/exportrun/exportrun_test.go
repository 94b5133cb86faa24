package exportrun

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"clerk-lambda/shared/export/exporttest"
)

var s3srv *exporttest.Server

func TestMain(m *testing.M) { os.Exit(exporttest.Main(m, &s3srv)) }

// store is a Store on a fresh bucket of the test server, with a clock the
// test moves.
func store(t *testing.T) (*Store, *clock) {
	t.Helper()
	srv := exporttest.Need(t, s3srv)
	c := &clock{t: time.Date(2026, 11, 26, 17, 14, 0, 0, time.UTC)}
	s := New(srv.Client(), srv.Bucket(t), "users")
	s.Now = c.now
	return s, c
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// stored reads the lease object as S3 has it, or nil when there is none.
func stored(t *testing.T, s *Store) *Lease {
	t.Helper()
	out, err := s.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key)})
	if absent(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	var l Lease
	if err := json.NewDecoder(out.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	return &l
}

// A free lease is taken and stored at PREFIX/run.lock; a second Take while
// it is live is refused with a BusyError naming the first run.
func TestTakeThenBusy(t *testing.T) {
	t.Parallel()
	s, c := store(t)
	ctx := context.Background()
	h, err := s.Take(ctx, OnDemand)
	if err != nil {
		t.Fatal(err)
	}
	if s.key != "users/run.lock" || !ValidRunID(h.RunID) || !strings.HasPrefix(h.RunID, "20261126T171400Z-") ||
		h.Trigger != OnDemand || !h.StartedAt.Equal(c.now()) || !h.ExpiresAt.Equal(c.now().Add(TTL)) {
		t.Errorf("took %+v at %s", h.Lease, s.key)
	}
	if got := stored(t, s); got == nil || *got != h.Lease {
		t.Errorf("stored lease = %+v, want %+v", got, h.Lease)
	}
	c.add(TTL - time.Second)
	_, err = s.Take(ctx, Schedule)
	var busy *BusyError
	if !errors.As(err, &busy) || busy.Lease != h.Lease || !strings.Contains(err.Error(), h.RunID+" (on-demand) is in progress") {
		t.Fatalf("second Take: %v; want a BusyError naming %s", err, h.RunID)
	}
}

// A lease past its expiry (its run was killed before releasing it) is
// taken over, and its old holder's Release then leaves the new lease alone.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	t.Parallel()
	s, c := store(t)
	ctx := context.Background()
	old, err := s.Take(ctx, Schedule)
	if err != nil {
		t.Fatal(err)
	}
	c.add(TTL)
	h, err := s.Take(ctx, OnDemand)
	if err != nil {
		t.Fatalf("Take over an expired lease: %v", err)
	}
	if h.RunID == old.RunID {
		t.Error("the new run has the old run's id")
	}
	if err := s.Release(ctx, old); !errors.Is(err, ErrNotHeld) {
		t.Errorf("the old holder's Release: %v; want ErrNotHeld", err)
	}
	if got := stored(t, s); got == nil || got.RunID != h.RunID {
		t.Errorf("stored lease = %+v, want the new run's", got)
	}
}

// A lease object that is not a lease (no writer here makes one) blocks
// nothing: it is replaced.
func TestUnreadableLeaseIsReplaced(t *testing.T) {
	t.Parallel()
	s, _ := store(t)
	ctx := context.Background()
	for _, body := range []string{"not json", `{"runId":"x"}`, strings.Repeat(" ", maxLease+1)} {
		if _, err := s.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Take(ctx, Schedule); err != nil {
			t.Errorf("Take over %.20q: %v", body, err)
		}
	}
}

// Callers racing for a free lease, and for a stale one, get exactly one
// lease between them; every other is told who has it.
func TestConcurrentTakes(t *testing.T) {
	t.Parallel()
	for _, stale := range []bool{false, true} {
		s, c := store(t)
		if stale {
			if _, err := s.Take(context.Background(), Schedule); err != nil {
				t.Fatal(err)
			}
			c.add(TTL + time.Minute)
		}
		const callers = 12
		var wg sync.WaitGroup
		results := make([]error, callers)
		held := make([]*Held, callers)
		for i := range callers {
			wg.Go(func() { held[i], results[i] = s.Take(context.Background(), OnDemand) })
		}
		wg.Wait()
		var winner *Held
		for i, err := range results {
			var busy *BusyError
			switch {
			case err == nil && winner == nil:
				winner = held[i]
			case err == nil:
				t.Errorf("stale %v: two callers took the lease: %s and %s", stale, winner.RunID, held[i].RunID)
			case !errors.As(err, &busy):
				t.Errorf("stale %v: Take: %v; want a BusyError", stale, err)
			}
		}
		if winner == nil {
			t.Fatalf("stale %v: no caller took the lease", stale)
		}
		for _, err := range results {
			var busy *BusyError
			if errors.As(err, &busy) && busy.Lease.RunID != winner.RunID {
				t.Errorf("stale %v: refused for %s, but %s holds the lease", stale, busy.Lease.RunID, winner.RunID)
			}
		}
	}
}

// The run a lease was taken for claims it, which renews its expiry; any
// other run id, or no lease, is ErrNotHeld.
func TestClaim(t *testing.T) {
	t.Parallel()
	s, c := store(t)
	ctx := context.Background()
	if _, err := s.Claim(ctx, NewRunID(c.now())); !errors.Is(err, ErrNotHeld) || !strings.Contains(err.Error(), "there is no lease") {
		t.Errorf("Claim without a lease: %v; want ErrNotHeld", err)
	}
	h, err := s.Take(ctx, OnDemand)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, NewRunID(c.now())); !errors.Is(err, ErrNotHeld) || !strings.Contains(err.Error(), h.RunID+" (on-demand) holds it") {
		t.Errorf("Claim of another run's lease: %v; want ErrNotHeld naming %s", err, h.RunID)
	}
	c.add(time.Minute)
	claimed, err := s.Claim(ctx, h.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if !claimed.ExpiresAt.Equal(c.now().Add(TTL)) || !claimed.StartedAt.Equal(h.StartedAt) {
		t.Errorf("claimed %+v; want the expiry renewed from now", claimed.Lease)
	}
	if err := s.Release(ctx, h); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Release with the ETag before the claim: %v; want ErrNotHeld", err)
	}
	if err := s.Release(ctx, claimed); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, s); got != nil {
		t.Errorf("after Release the lease is still there: %+v", got)
	}
	if err := s.Release(ctx, claimed); err != nil {
		t.Errorf("a second Release: %v; want nil, the lease is gone", err)
	}
}

// A Store whose bucket does not exist fails with S3's error, not as busy
// or not held.
func TestS3FailureIsReported(t *testing.T) {
	t.Parallel()
	srv := exporttest.Need(t, s3srv)
	s := New(srv.Client(), "no-such-bucket-here", "users")
	if _, err := s.Take(context.Background(), OnDemand); err == nil || !strings.HasPrefix(err.Error(), "take the export lease: ") {
		t.Errorf("Take: %v; want S3's error", err)
	}
}

func TestRunIDs(t *testing.T) {
	t.Parallel()
	a := NewRunID(time.Date(2026, 11, 26, 17, 14, 0, 0, time.UTC))
	b := NewRunID(time.Date(2026, 11, 26, 18, 14, 1, 0, time.FixedZone("CET", 3600)))
	if !ValidRunID(a) || !ValidRunID(b) || a >= b || !strings.HasPrefix(b, "20261126T171401Z-") {
		t.Errorf("run ids %q, %q: want valid, UTC, in time order", a, b)
	}
	for _, bad := range []string{"", "x", a + "0", strings.ToUpper(a), "../" + a} {
		if ValidRunID(bad) {
			t.Errorf("ValidRunID(%q) = true", bad)
		}
	}
}

func TestParseEvent(t *testing.T) {
	t.Parallel()
	id := NewRunID(time.Now())
	good := string(NewEvent(id))
	if ev, ok, err := ParseEvent([]byte(good)); err != nil || !ok || ev.RunID != id {
		t.Fatalf("ParseEvent(%s) = %+v, %v, %v", good, ev, ok, err)
	}
	for _, notOnDemand := range []string{`{}`, `{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`, `{"source":1}`} {
		if _, ok, err := ParseEvent([]byte(notOnDemand)); ok || err != nil {
			t.Errorf("ParseEvent(%s): ok %v, %v; want a scheduled event", notOnDemand, ok, err)
		}
	}
	for event, want := range map[string]string{
		`[]`:   "the event is not a JSON object",
		`null`: "the event is not a JSON object",
		`"x"`:  "the event is not a JSON object",
		`{"source":"clerk-lambda.admin-exports","runId":"` + id + `","onDemand":true,"extra":1}`: `on-demand event: unknown field "extra"`,
		`{"source":"clerk-lambda.admin-exports","runID":"` + id + `","onDemand":true}`:           `on-demand event: unknown field "runID"`,
		`{"source":"clerk-lambda.admin-exports","runId":7,"onDemand":true}`:                      "on-demand event: source and runId must be strings",
		`{"runId":"` + id + `","onDemand":true}`:                                                 `on-demand event: source must be "clerk-lambda.admin-exports"`,
		`{"source":"clerk-lambda.admin-exports","runId":"../x","onDemand":true}`:                 "on-demand event: runId is not a run id",
		`{"source":"clerk-lambda.admin-exports","runId":"` + id + `"}`:                           "on-demand event: onDemand must be true",
		`{"source":"clerk-lambda.admin-exports"}`:                                                "on-demand event: runId is not a run id",
	} {
		_, _, err := ParseEvent([]byte(event))
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseEvent(%s): %v; want one line starting %q", event, err, want)
		}
	}
}

// The lease's JSON is what the README describes.
func TestLeaseJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 17, 14, 0, 0, time.UTC)
	b, _ := json.Marshal(Lease{RunID: "r", StartedAt: at, ExpiresAt: at.Add(TTL), Trigger: Schedule})
	const want = `{"runId":"r","startedAt":"2026-11-26T17:14:00Z","expiresAt":"2026-11-26T17:34:00Z","trigger":"schedule"}`
	if string(b) != want {
		t.Errorf("lease JSON = %s, want %s", b, want)
	}
}

// A scheduled start retried after its answer was lost takes its own lease
// again, same run id, renewed; another event's start is still kept out.
func TestRetriedStartTakesItsLeaseAgain(t *testing.T) {
	t.Parallel()
	s, c := store(t)
	ctx := context.Background()
	first, err := s.TakeFor(ctx, Schedule, "event-1")
	if err != nil {
		t.Fatal(err)
	}
	c.add(time.Minute)
	again, err := s.TakeFor(ctx, Schedule, "event-1")
	if err != nil || again.RunID != first.RunID || !again.ExpiresAt.Equal(c.now().Add(TTL)) {
		t.Fatalf("the retried start: %+v, %v; want the run %s renewed", again, err, first.RunID)
	}
	var busy *BusyError
	if _, err := s.TakeFor(ctx, Schedule, "event-2"); !errors.As(err, &busy) || busy.Lease.RunID != first.RunID {
		t.Errorf("another event's start: %v, want busy with %s", err, first.RunID)
	}
	if _, err := s.Take(ctx, OnDemand); !errors.As(err, &busy) {
		t.Errorf("an on-demand start: %v, want busy", err)
	}
}
