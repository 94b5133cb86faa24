// Package exportrun keeps the user export to one run at a time, whoever
// starts it: the schedule, or POST /admin/exports.
//
// A run holds a lease, a small JSON object beside the exports
// (PREFIX/run.lock), taken with S3's conditional writes: If-None-Match: *
// creates it only when there is none, and a lease that outlived its expiry is
// replaced only If-Match its ETag, so two callers racing for a free or a
// stale lease cannot both win. The run deletes its lease when it ends, again
// only If-Match the ETag it holds. A run killed before it could is released
// by the expiry, which is past the longest a run can last.
package exportrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	// LockName is the lease's name under the export prefix.
	LockName = "run.lock"
	// MaxRun is the longest an export runs: the export function's timeout
	// in template.yaml, Lambda's maximum.
	MaxRun = 15 * time.Minute
	// TTL is how long a lease holds from when its run takes or claims it:
	// MaxRun and a margin for the clocks and the release, so a live run's
	// lease never expires.
	TTL = MaxRun + 5*time.Minute
	// attempts bounds the tries to take a lease that changes under us.
	attempts = 4
)

// Trigger says what started a run.
type Trigger string

// The triggers.
const (
	OnDemand Trigger = "on-demand" // POST /admin/exports
	Schedule Trigger = "schedule"  // the schedule, or an invocation by hand
)

// Lease is the content of the lock object.
type Lease struct {
	RunID     string    `json:"runId"`
	StartedAt time.Time `json:"startedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	Trigger   Trigger   `json:"trigger"`
	// Event is the id of the schedule's event that started the run, when
	// one did: its retry takes the same lease again (see TakeFor).
	Event string `json:"event,omitempty"`
}

// Held is a lease a run holds: its content and the ETag S3 gave it, which
// only its holder knows.
type Held struct {
	Lease
	etag string
}

// BusyError is the error of Take when another run holds a live lease.
type BusyError struct {
	Lease Lease
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("export %s (%s) is in progress since %s", e.Lease.RunID, e.Lease.Trigger, e.Lease.StartedAt.Format(time.RFC3339))
}

// ErrNotHeld is matched (errors.Is) by the error of Claim and Release when
// the run does not, or no longer, hold the lease.
var ErrNotHeld = errors.New("the run does not hold the export lease")

// S3 is the part of *s3.Client a lease needs.
type S3 interface {
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Store reads and writes the lease of the exports under one prefix.
type Store struct {
	s3     S3
	bucket string
	key    string
	// Now is the clock of expiries; nil = time.Now.
	Now func() time.Time
}

// New is the Store of the exports under prefix (clean, as
// settings.ReadExport gives it) in bucket.
func New(client S3, bucket, prefix string) *Store {
	return &Store{s3: client, bucket: bucket, key: Key(prefix)}
}

// Key is the lease's key for the exports under prefix.
func Key(prefix string) string { return prefix + "/" + LockName }

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Take takes the lease for a new run started by trigger, with a new run id.
// When another run holds a live lease it returns a *BusyError naming it.
func (s *Store) Take(ctx context.Context, trigger Trigger) (*Held, error) {
	return s.TakeFor(ctx, trigger, "")
}

// TakeFor is Take for the run the event (an EventBridge event's id, ""
// for none) starts. A live lease taken for the same event is this run's,
// its start retried after its answer was lost: it is taken again, renewed,
// with its run id, rather than reported busy.
func (s *Store) TakeFor(ctx context.Context, trigger Trigger, event string) (*Held, error) {
	now := s.now()
	l := Lease{RunID: NewRunID(now), StartedAt: now, ExpiresAt: now.Add(TTL), Trigger: trigger, Event: event}
	ifMatch := "" // none: create only
	var last error
	for range attempts {
		h, err := s.put(ctx, l, ifMatch)
		if err == nil {
			return h, nil
		}
		if !conflict(err) {
			return nil, fmt.Errorf("take the export lease: %w", err)
		}
		cur, err := s.read(ctx)
		switch {
		case absent(err): // released in between: create it again
			ifMatch, last = "", err
			continue
		case err != nil:
			return nil, fmt.Errorf("take the export lease: %w", err)
		case event != "" && cur.Event == event:
			l.RunID, l.StartedAt = cur.RunID, cur.StartedAt
		case now.Before(cur.ExpiresAt):
			return nil, &BusyError{Lease: cur.Lease}
		}
		ifMatch, last = cur.etag, errors.New("a stale lease was replaced by another caller")
	}
	return nil, fmt.Errorf("take the export lease: it changed under %d attempts: %w", attempts, last)
}

// Claim is the start of a run whose lease was taken for it (POST
// /admin/exports takes it, then invokes the run): it checks the lease still
// names runID and renews its expiry from now, If-Match its ETag. It fails
// with ErrNotHeld when the lease is gone or another run's.
func (s *Store) Claim(ctx context.Context, runID string) (*Held, error) {
	cur, err := s.read(ctx)
	switch {
	case absent(err):
		return nil, fmt.Errorf("%w: there is no lease", ErrNotHeld)
	case err != nil:
		return nil, fmt.Errorf("claim the export lease: %w", err)
	case cur.RunID != runID:
		return nil, fmt.Errorf("%w: export %s (%s) holds it", ErrNotHeld, cur.RunID, cur.Trigger)
	}
	l := cur.Lease
	l.ExpiresAt = s.now().Add(TTL)
	h, err := s.put(ctx, l, cur.etag)
	if conflict(err) {
		return nil, fmt.Errorf("%w: it changed while being claimed", ErrNotHeld)
	}
	if err != nil {
		return nil, fmt.Errorf("claim the export lease: %w", err)
	}
	return h, nil
}

// Release deletes the lease h, If-Match its ETag, so a lease another run
// took over meanwhile stays. A lease already gone is released. (A 403 here
// is a refusal: DeleteObject answers a missing key 204 or 404.)
func (s *Store) Release(ctx context.Context, h *Held) error {
	_, err := s.s3.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.key), IfMatch: aws.String(h.etag),
	})
	switch {
	case err == nil, status(err) == http.StatusNotFound:
		return nil
	case conflict(err):
		return fmt.Errorf("%w: another run took it over", ErrNotHeld)
	}
	return fmt.Errorf("release the export lease: %w", err)
}

// put writes l as the lease: If-Match ifMatch, or only where there is none
// when ifMatch is empty.
func (s *Store) put(ctx context.Context, l Lease, ifMatch string) (*Held, error) {
	body, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	in := &s3.PutObjectInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(s.key),
		Body:        bytes.NewReader(append(body, '\n')),
		ContentType: aws.String("application/json"),
	}
	if ifMatch == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := s.s3.PutObject(ctx, in)
	if err != nil {
		return nil, err
	}
	return &Held{Lease: l, etag: aws.ToString(out.ETag)}, nil
}

// maxLease bounds the lease object read back.
const maxLease = 4 << 10

// read reads the current lease and its ETag. A lease that cannot be decoded
// (no writer here makes one) reads as expired, so it never blocks the
// export: Take replaces it.
func (s *Store) read(ctx context.Context) (*Held, error) {
	out, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	body, err := io.ReadAll(io.LimitReader(out.Body, maxLease+1))
	if err != nil {
		return nil, fmt.Errorf("read the export lease: %w", err)
	}
	h := &Held{etag: aws.ToString(out.ETag)}
	if len(body) > maxLease || json.Unmarshal(body, &h.Lease) != nil {
		h.Lease = Lease{}
	}
	return h, nil
}

// conflict reports whether err is S3 refusing a conditional request: 412
// (the condition does not hold) or 409 (a concurrent conditional write).
func conflict(err error) bool {
	s := status(err)
	return s == http.StatusPreconditionFailed || s == http.StatusConflict
}

// absent reports whether err says the lease does not exist: 404, or the 403
// S3 answers instead to a caller without s3:ListBucket on the bucket, which
// the functions deliberately lack.
func absent(err error) bool {
	s := status(err)
	return s == http.StatusNotFound || s == http.StatusForbidden
}

func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// runIDForm is the form of a run id (see NewRunID).
var runIDForm = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}$`)

// NewRunID is a new run id, time-sortable, unique and URL-safe: the time to
// the second, then 16 random hex digits, as in
// "20261126T171400Z-9f86d081884c7d65".
func NewRunID(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// ValidRunID reports whether id has the form NewRunID gives.
func ValidRunID(id string) bool { return runIDForm.MatchString(id) }
