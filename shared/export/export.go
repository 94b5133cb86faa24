// Package export writes every Clerk user to S3 as one gzip-compressed
// JSON-lines object and publishes it only once it is complete.
//
// A run streams the users page by page from the Backend API through a gzip
// writer into a multipart upload, so memory stays flat however many users
// there are. It writes PREFIX/YYYY/MM/DD/users-<run id>.jsonl.gz, and only
// after S3 has that object whole does it replace PREFIX/latest.json, the
// manifest that names the newest export. A run that fails aborts its upload,
// leaves latest.json as it was, and says how far it got. A run whose context
// has a deadline stops a margin before it, so there is time to abort cleanly
// rather than be killed mid-write.
package export

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/settings"
)

const (
	// MinPartSize is S3's smallest part of a multipart upload, and the part
	// size of every export, which bounds the memory a run holds: the part
	// being uploaded and the one being filled.
	MinPartSize = 5 << 20
	// concurrency is how many parts are uploaded at once. One is enough:
	// filling a part from the Backend API takes seconds, uploading it a
	// fraction of one, and each more in flight would hold 5 MiB more.
	concurrency = 1
	// DefaultMargin is how long before its context's deadline a run stops.
	DefaultMargin = 10 * time.Second
	// abortTimeout bounds the abort of a failed upload, which runs on a
	// fresh context so that it also happens when the run's was cancelled;
	// a run with a deadline allows it an eighth of the margin at most.
	abortTimeout = 30 * time.Second
	// LatestName is the manifest's name under the prefix.
	LatestName = "latest.json"
)

// ErrDeadline is matched (errors.Is) by the error of a run that stopped
// because its context's deadline was too close to finish.
var ErrDeadline = errors.New("not enough time left before the deadline")

// errUploadStopped closes the stream when the upload ends first, so the
// writer stops too.
var errUploadStopped = errors.New("the upload stopped")

// Config says where a run writes.
type Config struct {
	// S3 is the client that writes the objects; *s3.Client is one. Required.
	S3 transfermanager.S3APIClient
	// Bucket is the bucket written to. Required.
	Bucket string
	// Prefix is the key prefix (see settings.CleanPrefix); "" = DefaultPrefix.
	Prefix string
	// Issuer names the Clerk instance in the manifest, such as
	// "https://example.clerk.accounts.dev".
	Issuer string
	// Margin is how long before ctx's deadline the run stops reading users;
	// 0 = DefaultMargin. The margin is left for completing the upload and
	// writing the manifest, which must end half the margin before the
	// deadline, and for aborting the upload when they do not.
	Margin time.Duration
	// Now is the clock for the run's timestamps and key; nil = time.Now.
	Now func() time.Time
	// OnUser, when not nil, is called after each user is written with the
	// count so far, from the goroutine that reads the users.
	OnUser func(n int64)

	// partSize overrides MinPartSize, only in this package's tests, so a
	// few users make several parts.
	partSize int64
	// abortWithin bounds each abort of a failed upload; Run sets it.
	abortWithin time.Duration
}

// Manifest describes a complete export. It is the content of latest.json.
type Manifest struct {
	// Key is the export object's key.
	Key string `json:"key"`
	// Users is how many users it holds, one per line.
	Users int64 `json:"users"`
	// Bytes is the object's size, compressed.
	Bytes int64 `json:"bytes"`
	// SHA256 is the hex SHA-256 of the object's bytes, as stored.
	SHA256 string `json:"sha256"`
	// Started and Finished bound the run (UTC, RFC 3339).
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Issuer names the Clerk instance the users come from.
	Issuer string `json:"issuer"`
}

// Run exports every user of src to S3 and returns the manifest it
// published as PREFIX/latest.json. See the package documentation for what a
// run guarantees.
func Run(ctx context.Context, src Users, cfg Config) (Manifest, error) {
	prefix, err := cfg.check()
	if err != nil {
		return Manifest{}, err
	}
	readCtx, cancelRead, err := beforeDeadline(ctx, cfg.Margin,
		fmt.Errorf("%w (a run stops %s before its deadline, to abort cleanly)", ErrDeadline, cfg.Margin))
	if err != nil {
		return Manifest{}, fmt.Errorf("export not started: %w", err)
	}
	defer cancelRead()
	// The requests to S3 get half the margin: a stalled one then ends in
	// time to abort the upload before the deadline (each of the two aborts,
	// the transfer manager's and confirmAbort's, gets an eighth).
	upCtx, cancelUp, err := beforeDeadline(ctx, cfg.Margin/2,
		fmt.Errorf("%w (S3 did not answer in time; a run stops writing %s before its deadline, to abort cleanly)", ErrDeadline, cfg.Margin/2))
	if err != nil {
		return Manifest{}, fmt.Errorf("export not started: %w", err)
	}
	defer cancelUp()
	if _, ok := ctx.Deadline(); ok {
		cfg.abortWithin = min(abortTimeout, cfg.Margin/8)
	}

	started := cfg.Now().UTC().Truncate(time.Millisecond)
	m := Manifest{
		Key:     fmt.Sprintf("%s/%s/users-%s.jsonl.gz", prefix, started.Format("2006/01/02"), runID(started)),
		Started: started,
		Issuer:  cfg.Issuer,
	}
	if m.Users, m.Bytes, m.SHA256, err = upload(upCtx, readCtx, src, cfg, m.Key); err != nil {
		return Manifest{}, fmt.Errorf("export stopped after %s users: %w", thousands(m.Users), err)
	}
	m.Finished = cfg.Now().UTC().Truncate(time.Millisecond)
	latest := prefix + "/" + LatestName
	if err := putManifest(upCtx, cfg, latest, m); err != nil {
		return Manifest{}, fmt.Errorf("export of %s users is complete as %s, but %s was not updated: %w",
			thousands(m.Users), m.Key, latest, err)
	}
	return m, nil
}

// check validates cfg, fills its defaults and returns the clean prefix.
func (cfg *Config) check() (string, error) {
	if cfg.S3 == nil {
		return "", errors.New("export: Config.S3 is required")
	}
	if err := settings.CheckBucket(cfg.Bucket); err != nil {
		return "", fmt.Errorf("export: bucket: %w", err)
	}
	prefix, err := settings.CleanPrefix(cmp.Or(cfg.Prefix, DefaultPrefix))
	if err != nil {
		return "", fmt.Errorf("export: prefix: %w", err)
	}
	if cfg.Margin < 0 {
		return "", errors.New("export: Config.Margin must not be negative")
	}
	if cfg.Margin == 0 {
		cfg.Margin = DefaultMargin
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.partSize == 0 {
		cfg.partSize = MinPartSize
	}
	cfg.abortWithin = abortTimeout
	return prefix, nil
}

// beforeDeadline returns ctx itself when it has no deadline, else a context
// that ends margin before ctx's deadline with cause as its cause. It fails
// when that moment has already passed.
func beforeDeadline(ctx context.Context, margin time.Duration, cause error) (context.Context, context.CancelFunc, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}, nil
	}
	stop := deadline.Add(-margin)
	if left := time.Until(deadline); !time.Now().Before(stop) {
		return nil, nil, fmt.Errorf("%w: %s left, and a run stops %s before its deadline",
			ErrDeadline, max(left, 0).Round(time.Millisecond), margin)
	}
	stopCtx, cancel := context.WithDeadlineCause(ctx, stop, cause)
	return stopCtx, cancel, nil
}

// runID is time-sortable and unique: the start time to the second, then
// 8 random hex digits, as in "20261126T171400Z-9f86d081".
func runID(started time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return started.Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// upload streams the users of src, read under readCtx, into the object key
// with a multipart upload whose requests run under ctx, and returns how many users it wrote and
// the object's size and SHA-256. On failure the upload is aborted and the
// count says how far the run got.
//
// The reading stops as soon as the upload fails: an S3 error cancels
// readCtx at once, rather than surface only when the writer next fills the
// pipe, which with a slow Backend API can be at the deadline, hiding it.
func upload(ctx, readCtx context.Context, src Users, cfg Config, key string) (users, size int64, sum string, err error) {
	readCtx, stopReading := context.WithCancelCause(readCtx)
	defer stopReading(nil)
	pr, pw := io.Pipe()
	hash := sha256.New()
	var counted countingWriter
	type result struct {
		n   int64
		err error
	}
	written := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			// A panic here (in OnUser, say) would kill the process with the
			// upload open; it fails the run instead.
			if p := recover(); p != nil {
				r.err = fmt.Errorf("writing the users panicked: %v", p)
			}
			pw.CloseWithError(r.err) // nil ends the stream
			written <- r
		}()
		r.n, r.err = Write(readCtx, src, io.MultiWriter(pw, hash, &counted), cfg.OnUser)
	}()

	tm := transfermanager.New(watchedS3{cfg.S3, stopReading}, func(o *transfermanager.Options) {
		o.PartSizeBytes = cfg.partSize
		o.MultipartUploadThreshold = cfg.partSize
		o.Concurrency = concurrency
		o.FailTimeout = cfg.abortWithin
	})
	_, upErr := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket:      aws.String(cfg.Bucket),
		Key:         aws.String(key),
		Body:        pr,
		ContentType: aws.String("application/gzip"),
	})
	stopReading(errUploadStopped)
	pr.CloseWithError(errUploadStopped)
	w := <-written

	switch {
	case w.err != nil && !errors.Is(w.err, errUploadStopped):
		err = deadlineError(readCtx, w.err)
	case upErr != nil:
		err = deadlineError(ctx, uploadError(upErr))
	default:
		return w.n, counted.n, hex.EncodeToString(hash.Sum(nil)), nil
	}
	return w.n, 0, "", errors.Join(err, confirmAbort(cfg, key, upErr))
}

// deadlineError is err, the error of reading the users or of writing them
// under ctx, or the run's own deadline, said plainly, when that is what
// stopped it, also before it came: when a retry of the Backend API was
// declined because its wait would have outlasted it.
func deadlineError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrDeadline) {
		return cause
	}
	if errors.Is(err, clerkapi.ErrNoTimeToRetry) { // the Backend API's retry would come after the run's stop
		return fmt.Errorf("%w: %w", ErrDeadline, err)
	}
	return err
}

// uploadError unwraps the transfer manager's error, whose text leads with the
// upload id, to the failure that caused it.
func uploadError(err error) error {
	var mpu transfermanager.MultipartUploadError
	if errors.As(err, &mpu) {
		if cause := errors.Unwrap(mpu); cause != nil {
			return cause
		}
	}
	return err
}

// confirmAbort makes sure a failed multipart upload left no parts behind.
// The transfer manager aborts it, but does not report an abort that fails
// after an earlier error; aborting again either succeeds or answers
// NoSuchUpload, which confirms the first abort. It returns nil then, and
// when no multipart upload was started.
func confirmAbort(cfg Config, key string, upErr error) error {
	var mpu transfermanager.MultipartUploadError
	if !errors.As(upErr, &mpu) || mpu.UploadID() == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.abortWithin)
	defer cancel()
	_, err := cfg.S3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(cfg.Bucket), Key: aws.String(key), UploadId: aws.String(mpu.UploadID()),
	})
	var apiErr smithy.APIError
	if err == nil || (errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchUpload") {
		return nil
	}
	return fmt.Errorf("abort the multipart upload (its parts may remain until the bucket's lifecycle rule removes them): %w", err)
}

// putManifest writes m as the manifest at key.
func putManifest(ctx context.Context, cfg Config, key string, m Manifest) error {
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	_, err = cfg.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(cfg.Bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(append(body, '\n')),
		ContentType: aws.String("application/json"),
	})
	return err
}

// watchedS3 stops the reading of users (stop) as soon as a request of the
// multipart upload fails, and names the part in the error of a failed
// UploadPart.
type watchedS3 struct {
	transfermanager.S3APIClient
	stop context.CancelCauseFunc
}

func (w watchedS3) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	out, err := w.S3APIClient.CreateMultipartUpload(ctx, in, opts...)
	return out, w.failed(err)
}

func (w watchedS3) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	out, err := w.S3APIClient.UploadPart(ctx, in, opts...)
	if err != nil {
		return nil, w.failed(fmt.Errorf("upload part %d: %w", aws.ToInt32(in.PartNumber), err))
	}
	return out, nil
}

func (w watchedS3) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	out, err := w.S3APIClient.CompleteMultipartUpload(ctx, in, opts...)
	return out, w.failed(err)
}

// failed stops the reading when err is not nil, and returns err.
func (w watchedS3) failed(err error) error {
	if err != nil {
		w.stop(errUploadStopped)
	}
	return err
}

// countingWriter counts the bytes written through it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
