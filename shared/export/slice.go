package export

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"clerk-lambda/shared/clerkapi"
)

// Checkpoint is where a run stands between two slices: everything a fresh
// execution environment needs to continue it, and nothing secret. It holds
// no list of parts (the last slice asks S3 for them), so it stays small
// however many parts the upload has.
type Checkpoint struct {
	// RunID names the run, as in its object's key.
	RunID string `json:"runId"`
	// Key and UploadID are the multipart upload's.
	Key      string `json:"key"`
	UploadID string `json:"uploadId"`
	// Parts is how many parts are written, numbered from 1, and Bytes their
	// size in all.
	Parts int32 `json:"parts"`
	Bytes int64 `json:"bytes"`
	// SHA256 is the state of the SHA-256 over those bytes, so the object's
	// is known at the end without reading it back.
	SHA256 []byte `json:"sha256State"`
	// PartSums is the state of a SHA-256 over the parts' own SHA-256
	// checksums, in order: the last slice compares it with the checksums S3
	// lists, so the object holds this run's parts and no other writer's.
	PartSums []byte `json:"partSumsState"`
	// Users is how many users those parts hold.
	Users int64 `json:"users"`
	// Cursor is the walk of the users, just past the last user written.
	Cursor clerkapi.Cursor `json:"cursor"`
	// Started is when the run began; Slices how many slices ran so far.
	Started time.Time `json:"started"`
	Slices  int       `json:"slices"`
}

// Budget bounds a slice: it stops after the part that spends it. The zero
// Budget lets a slice run to the end (or its context's deadline).
type Budget struct {
	// Parts is the most parts a slice writes; 0 is no limit.
	Parts int
	// Time is how long a slice starts new parts for; 0 is no limit.
	Time time.Duration
}

// Outcome is what a slice did: the whole export (Done, with the published
// Manifest), or part of it, to be continued from Checkpoint.
type Outcome struct {
	Done       bool
	Manifest   Manifest
	Checkpoint *Checkpoint
	// Stopped is why a slice that is not Done stopped before its budget
	// was spent, with parts written: its deadline came (an ErrDeadline), or
	// a failure that may pass; nil otherwise.
	Stopped error
}

// MaxCheckpoint bounds a checkpoint's JSON, well inside what a Step
// Functions state may carry (256 KiB). Only a walk stopped inside a
// millisecond shared by thousands of users comes near it.
const MaxCheckpoint = 200 << 10

// errBudgetSpent stops the walk once a slice's budget is spent.
var errBudgetSpent = errors.New("the slice's budget is spent")

// Slice does one slice of a run: from cp (nil starts a new run), it writes
// whole parts until the users are all written, then completes the upload
// and publishes the manifest (Outcome.Done); or until the budget is spent,
// or the deadline is near, and returns the checkpoint to continue from. A
// slice that fails leaves the checkpoint it started from valid: running
// again from it is safe, whatever the failed slice had uploaded. The error
// of a failure that running again would not cure is an *Error with
// Retryable false.
func Slice(ctx context.Context, src Users, cfg Config, cp *Checkpoint, b Budget) (out Outcome, err error) {
	prefix, err := cfg.check()
	if err != nil {
		return Outcome{}, &Error{Err: err}
	}
	readCtx, cancelRead, err := beforeDeadline(ctx, cfg.Margin,
		fmt.Errorf("%w (a run stops %s before its deadline, to abort cleanly)", ErrDeadline, cfg.Margin))
	if err != nil {
		return Outcome{}, &Error{Err: fmt.Errorf("export not started: %w", err), Retryable: true}
	}
	defer cancelRead()
	// The requests to S3 get half the margin: a stalled one then ends in
	// time to abort the upload before the deadline.
	upCtx, cancelUp, err := beforeDeadline(ctx, cfg.Margin/2,
		fmt.Errorf("%w (S3 did not answer in time; a run stops writing %s before its deadline, to abort cleanly)", ErrDeadline, cfg.Margin/2))
	if err != nil {
		return Outcome{}, &Error{Err: fmt.Errorf("export not started: %w", err), Retryable: true}
	}
	defer cancelUp()
	if cp == nil {
		if cp, err = begin(upCtx, cfg, prefix); err != nil {
			return Outcome{}, classify(fmt.Errorf("export not started: %w", deadlineError(upCtx, err)))
		}
	} else if err := cp.check(prefix); err != nil {
		return Outcome{}, &Error{Err: err}
	}
	s, err := resume(cfg, cp, b)
	if err != nil {
		return Outcome{}, &Error{Err: err}
	}
	if err := s.walk(readCtx, upCtx, src); err != nil {
		err = fmt.Errorf("export stopped after %s users: %w", thousands(s.users), deadlineError(readCtx, err))
		if s.progressed() && retryable(err) {
			// Out of time, or Clerk or S3 failing for now, with parts to
			// show for it: the next slice goes on from them.
			return Outcome{Checkpoint: s.done, Stopped: err}, checkSize(s.done)
		}
		return Outcome{Checkpoint: cp}, classify(err)
	}
	if s.stopped {
		return Outcome{Checkpoint: s.done}, checkSize(s.done)
	}
	m, err := s.finish(upCtx, prefix)
	if err != nil {
		return Outcome{Checkpoint: cp}, classify(err)
	}
	return Outcome{Done: true, Manifest: m}, nil
}

// Begin starts a run without writing a user: it creates the run's
// multipart upload and returns the checkpoint of no part, from which
// Slice goes on. A start that does this alone is quick, and cheap to
// retry.
func Begin(ctx context.Context, cfg Config) (*Checkpoint, error) {
	prefix, err := cfg.check()
	if err != nil {
		return nil, &Error{Err: err}
	}
	cp, err := begin(ctx, cfg, prefix)
	if err != nil {
		return nil, classify(fmt.Errorf("export not started: %w", err))
	}
	return cp, nil
}

// begin creates the run's multipart upload.
func begin(ctx context.Context, cfg Config, prefix string) (*Checkpoint, error) {
	started := cfg.Now().UTC().Truncate(time.Millisecond)
	id := runID(started)
	key := fmt.Sprintf("%s/%s/users-%s.jsonl.gz", prefix, started.Format("2006/01/02"), id)
	out, err := cfg.S3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(cfg.Bucket), Key: aws.String(key), ContentType: aws.String("application/gzip"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	})
	if err != nil {
		return nil, fmt.Errorf("create the multipart upload: %w", err)
	}
	if aws.ToString(out.UploadId) == "" {
		return nil, errors.New("create the multipart upload: S3 gave no upload id")
	}
	state, _ := sha256.New().(encoding.BinaryMarshaler).MarshalBinary() // never fails
	return &Checkpoint{RunID: id, Key: key, UploadID: aws.ToString(out.UploadId), SHA256: state, PartSums: state, Started: started}, nil
}

// check refuses a checkpoint that is not one of this run's configuration:
// hand-edited, or from another prefix.
func (cp *Checkpoint) check(prefix string) error {
	switch {
	case !strings.HasPrefix(cp.Key, prefix+"/") || !strings.HasSuffix(cp.Key, ".jsonl.gz"):
		return fmt.Errorf("checkpoint: key %q is not an export under %s/", cp.Key, prefix)
	case cp.UploadID == "":
		return errors.New("checkpoint: no upload id")
	case cp.Parts < 0 || cp.Parts > maxParts || cp.Bytes < 0 || cp.Users < 0:
		return errors.New("checkpoint: parts, bytes and users must be counts")
	}
	return nil
}

// maxParts is S3's limit on a multipart upload's parts.
const maxParts = 10_000

// maxAtMark is the most users sharing the boundary millisecond a
// checkpoint names; a part does not end while more do.
const maxAtMark = 1_000

// checkSize refuses a checkpoint too large to pass between slices.
func checkSize(cp *Checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return &Error{Err: err}
	}
	if len(b) > MaxCheckpoint {
		return &Error{Err: fmt.Errorf("the checkpoint is %d bytes, more than %d: %d users share the millisecond the walk stopped in",
			len(b), MaxCheckpoint, len(cp.Cursor.AtMark))}
	}
	return nil
}

// slice is one slice at work. A part uploads while the next one fills:
// the slice holds two parts at most.
type slice struct {
	cfg      Config
	budget   Budget
	began    time.Time
	from     int32       // the parts written before this slice
	done     *Checkpoint // the last part boundary S3 has: where the next slice goes on
	next     *Checkpoint // the boundary after the part in flight, once S3 has it
	inflight chan error  // the part in flight's upload, nil when none
	stopRead context.CancelCauseFunc
	sum      hash.Hash // over every byte uploaded or in flight
	partSums hash.Hash // over the parts' SHA-256s, uploaded or in flight
	fill     *partBuffer
	spare    *partBuffer
	zw       *gzip.Writer
	line     bytes.Buffer
	pending  int64 // users in the part being filled
	users    int64 // users written by the run so far, in parts or not
	written  int   // parts this slice started uploading
	stopped  bool  // the budget was spent
}

// resume sets a slice up to continue from cp.
func resume(cfg Config, cp *Checkpoint, b Budget) (*slice, error) {
	sum, partSums := sha256.New(), sha256.New()
	if err := sum.(encoding.BinaryUnmarshaler).UnmarshalBinary(cp.SHA256); err != nil {
		return nil, fmt.Errorf("checkpoint: sha256State: %w", err)
	}
	if err := partSums.(encoding.BinaryUnmarshaler).UnmarshalBinary(cp.PartSums); err != nil {
		return nil, fmt.Errorf("checkpoint: partSumsState: %w", err)
	}
	done := *cp
	done.Cursor.AtMark = slices.Clone(cp.Cursor.AtMark)
	done.Slices++
	s := &slice{cfg: cfg, budget: b, began: cfg.Now(), from: cp.Parts, users: cp.Users, done: &done, sum: sum, partSums: partSums,
		fill: newPartBuffer(cfg.partSize), spare: newPartBuffer(cfg.partSize)}
	s.zw, _ = gzip.NewWriterLevel(s.fill, gzip.BestSpeed) // a valid level never fails
	return s, nil
}

// partSlack is how far past the part size a part may go: the last user's
// line and what the compressor holds back until the member ends.
const partSlack = 1 << 20

// partBuffer holds one part's bytes. It grows by doubling, as a
// bytes.Buffer does, but never past the part size and its slack: a
// bytes.Buffer would hold 8 MiB for a 5 MiB part.
type partBuffer struct {
	b     []byte
	limit int
}

func newPartBuffer(size int) *partBuffer { return &partBuffer{limit: size + partSlack} }

func (p *partBuffer) Write(d []byte) (int, error) {
	if need := len(p.b) + len(d); need > cap(p.b) {
		grown := make([]byte, len(p.b), max(need, min(2*cap(p.b), p.limit), 64<<10))
		copy(grown, p.b)
		p.b = grown
	}
	p.b = append(p.b, d...)
	return len(d), nil
}

func (p *partBuffer) Bytes() []byte { return p.b }
func (p *partBuffer) Len() int      { return len(p.b) }
func (p *partBuffer) Reset()        { p.b = p.b[:0] }

// progressed reports whether S3 has a part this slice wrote.
func (s *slice) progressed() bool { return s.done.Parts > s.from }

// walk writes the users from the checkpoint's cursor on, a part at a time.
// A failed upload stops the reading at once. A panic while writing (in
// OnUser, say) fails the slice instead of the process.
func (s *slice) walk(readCtx, upCtx context.Context, src Users) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("writing the users panicked: %v", p)
		}
		// The part in flight counts once S3 has it; its failure wins.
		if serr := s.settle(); serr != nil {
			err = serr
		}
	}()
	readCtx, s.stopRead = context.WithCancelCause(readCtx)
	defer s.stopRead(nil)
	cur := s.done.Cursor
	cur.AtMark = slices.Clone(cur.AtMark)
	err = src.WalkUsers(readCtx, &cur, func(raw json.RawMessage) error {
		return s.add(upCtx, raw, &cur)
	})
	if errors.Is(err, errBudgetSpent) {
		s.stopped = true
		return nil
	}
	if err == nil && (s.pending > 0 || s.from == 0 && s.written == 0) {
		// The last part: whatever is left, or the empty export's one part.
		return s.flush(upCtx, cur)
	}
	return err
}

// add writes one user into the part being filled, and uploads the part
// once it is full.
func (s *slice) add(ctx context.Context, raw json.RawMessage, cur *clerkapi.Cursor) error {
	s.line.Reset()
	if err := json.Compact(&s.line, raw); err != nil {
		return fmt.Errorf("user %s of the Backend API is %w: %w", thousands(s.users+1), errNotJSON, err)
	}
	s.line.WriteByte('\n')
	if _, err := s.zw.Write(s.line.Bytes()); err != nil {
		return err
	}
	s.pending++
	s.users++
	if s.cfg.OnUser != nil {
		s.cfg.OnUser(s.users)
	}
	// A part ends at its size, but not inside a millisecond many users
	// share: the checkpoint holds the ids passed in it, and must stay small.
	if s.fill.Len() < s.cfg.partSize || len(cur.AtMark) > maxAtMark {
		return nil
	}
	if err := s.flush(ctx, *cur); err != nil {
		return err
	}
	if s.spent() {
		return errBudgetSpent
	}
	return nil
}

// spent reports whether the slice should stop at this part boundary.
func (s *slice) spent() bool {
	return (s.budget.Parts > 0 && s.written >= s.budget.Parts) ||
		(s.budget.Time > 0 && s.cfg.Now().Sub(s.began) >= s.budget.Time)
}

// flush ends the part being filled as a complete gzip member and starts
// uploading it as the next part, while the next part fills. The part
// before must be in S3 first (settle): the slice's boundary moves past a
// part, to the cursor after its last user, only once S3 has it.
func (s *slice) flush(ctx context.Context, cur clerkapi.Cursor) error {
	if err := s.zw.Close(); err != nil {
		return err
	}
	if err := s.settle(); err != nil {
		return err
	}
	body := s.fill.Bytes()
	number := s.done.Parts + 1
	if number > maxParts {
		return &Error{Err: fmt.Errorf("the export needs more than S3's %d parts", maxParts)}
	}
	s.sum.Write(body)
	digest := sha256.Sum256(body)
	s.partSums.Write(digest[:])
	state, _ := s.sum.(encoding.BinaryMarshaler).MarshalBinary()          // never fails
	sumsState, _ := s.partSums.(encoding.BinaryMarshaler).MarshalBinary() // never fails
	next := *s.done
	next.Parts, next.Bytes, next.SHA256, next.PartSums = number, s.done.Bytes+int64(len(body)), state, sumsState
	next.Users += s.pending
	next.Cursor = cur
	next.Cursor.AtMark = slices.Clone(cur.AtMark)
	s.next = &next
	s.inflight = make(chan error, 1)
	key, id := s.done.Key, s.done.UploadID
	go func() { s.inflight <- s.upload(ctx, key, id, number, body, digest) }()
	s.pending, s.written = 0, s.written+1
	s.fill, s.spare = s.spare, s.fill
	s.fill.Reset()
	s.zw.Reset(s.fill)
	return nil
}

// upload sends body as part number, with its SHA-256 (digest): S3 refuses
// a part whose bytes are not these, so what it stores is what the
// checkpoint's hashes cover. A failure stops the reading of users at once.
func (s *slice) upload(ctx context.Context, key, uploadID string, number int32, body []byte, digest [32]byte) error {
	_, err := s.cfg.S3.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
		PartNumber: aws.Int32(number), Body: bytes.NewReader(body),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(digest[:])),
	})
	if err != nil {
		err = fmt.Errorf("upload part %d: %w", number, err)
		s.stopRead(err)
	}
	return err
}

// settle waits for the part in flight, if any, and moves the slice's
// boundary past it.
func (s *slice) settle() error {
	if s.inflight == nil {
		return nil
	}
	err := <-s.inflight
	s.inflight = nil
	if err != nil {
		return err
	}
	s.done, s.next = s.next, nil
	return nil
}

// finish completes the upload with exactly the parts the run wrote (a part
// a killed slice wrote past its checkpoint is left out), checks the
// object's size, and only then replaces latest.json.
func (s *slice) finish(ctx context.Context, prefix string) (Manifest, error) {
	cp := s.done
	parts, err := s.listParts(ctx)
	if err != nil {
		return Manifest{}, err
	}
	if _, err := s.cfg.S3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(cp.Key), UploadId: aws.String(cp.UploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}); err != nil {
		return Manifest{}, fmt.Errorf("export stopped after %s users: %w", thousands(cp.Users),
			deadlineError(ctx, fmt.Errorf("complete the upload: %w", err)))
	}
	head, err := s.cfg.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(cp.Key)})
	if err != nil {
		return Manifest{}, fmt.Errorf("export of %s users is complete as %s, but could not be checked: %w", thousands(cp.Users), cp.Key, err)
	}
	if size := aws.ToInt64(head.ContentLength); size != cp.Bytes {
		return Manifest{}, fmt.Errorf("export %s is %d bytes, not the %d written: latest.json was not updated", cp.Key, size, cp.Bytes)
	}
	m := Manifest{Key: cp.Key, Users: cp.Users, Bytes: cp.Bytes, SHA256: hex.EncodeToString(s.sum.Sum(nil)),
		Started: cp.Started, Finished: s.cfg.Now().UTC().Truncate(time.Millisecond), Issuer: s.cfg.Issuer, Slices: cp.Slices}
	latest := prefix + "/" + LatestName
	if err := putManifest(ctx, s.cfg, latest, m); err != nil {
		return Manifest{}, fmt.Errorf("export of %s users is complete as %s, but %s was not updated: %w",
			thousands(m.Users), m.Key, latest, err)
	}
	return m, nil
}

// listParts reads the upload's parts 1 to Parts from S3, refusing an upload
// that lacks one, whose sizes do not add up to what the run wrote, or whose
// parts' checksums are not the ones the run's slices uploaded (a part of
// another writer: two slices run at once from one checkpoint).
func (s *slice) listParts(ctx context.Context) ([]types.CompletedPart, error) {
	cp := s.done
	var parts []types.CompletedPart
	var size int64
	var marker *string
	for {
		out, err := s.cfg.S3.ListParts(ctx, &s3.ListPartsInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(cp.Key), UploadId: aws.String(cp.UploadID), PartNumberMarker: marker,
		})
		if err != nil {
			return nil, fmt.Errorf("export stopped after %s users: %w", thousands(cp.Users),
				deadlineError(ctx, fmt.Errorf("list the upload's parts: %w", err)))
		}
		for _, p := range out.Parts {
			if n := aws.ToInt32(p.PartNumber); n >= 1 && n <= cp.Parts {
				parts = append(parts, types.CompletedPart{PartNumber: p.PartNumber, ETag: p.ETag, ChecksumSHA256: p.ChecksumSHA256})
				size += aws.ToInt64(p.Size)
			}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextPartNumberMarker == nil {
			break
		}
		marker = out.NextPartNumberMarker
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int {
		return cmp.Compare(aws.ToInt32(a.PartNumber), aws.ToInt32(b.PartNumber))
	})
	if int32(len(parts)) != cp.Parts || size != cp.Bytes {
		return nil, &Error{Err: fmt.Errorf("export stopped after %s users: S3 holds %d of the upload's %d parts, %d of its %d bytes",
			thousands(cp.Users), len(parts), cp.Parts, size, cp.Bytes)}
	}
	if !s.theRunsParts(parts) {
		return nil, &Error{Err: fmt.Errorf("export stopped after %s users: the upload's parts are not the ones this run wrote", thousands(cp.Users))}
	}
	return parts, nil
}

// theRunsParts reports whether the parts' checksums, as S3 lists them, are
// the ones the run's slices uploaded, in order.
func (s *slice) theRunsParts(parts []types.CompletedPart) bool {
	chain := sha256.New()
	for _, p := range parts {
		sum, err := base64.StdEncoding.DecodeString(aws.ToString(p.ChecksumSHA256))
		if err != nil || len(sum) != sha256.Size {
			return false
		}
		chain.Write(sum)
	}
	return bytes.Equal(chain.Sum(nil), s.partSums.Sum(nil))
}
