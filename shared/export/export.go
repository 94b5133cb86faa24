// Package export writes every Clerk user to S3 as one gzip-compressed
// JSON-lines object and publishes it only once it is complete.
//
// A run walks the users page by page from the Backend API into a multipart
// upload, so memory stays flat however many users there are: one part (a
// complete gzip member, at least 5 MiB but the last) is held at a time. It
// writes PREFIX/YYYY/MM/DD/users-<run id>.jsonl.gz, and only after S3 has
// that object whole, its size checked, does it replace PREFIX/latest.json,
// the manifest that names the newest export.
//
// A run is made of slices (Slice): each writes whole parts, then returns a
// Checkpoint from which another slice, in another process, continues
// exactly where it stopped; the last completes the upload. Run does all the
// slices of a run in one process. A slice killed mid-part is retried from
// the checkpoint before it: the part is written again under the same
// number, and parts past the checkpoint are left out of the object. A run
// that fails for good aborts its upload (Abort), leaves latest.json as it
// was, and says how far it got. A slice whose context has a deadline stops
// a margin before it.
package export

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/settings"
)

const (
	// MinPartSize is S3's smallest part of a multipart upload, and the
	// least a part of an export holds (but the last), which bounds the
	// memory a run holds: the part being filled.
	MinPartSize = 5 << 20
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

// Config says where a run writes.
type Config struct {
	// S3 is the client that writes the objects; *s3.Client is one. Required.
	S3 S3
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
	partSize int
	// abortWithin bounds each abort of a failed upload.
	abortWithin time.Duration
}

// S3 is what an export calls; *s3.Client is one.
type S3 interface {
	CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(context.Context, *s3.UploadPartInput, ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	ListParts(context.Context, *s3.ListPartsInput, ...func(*s3.Options)) (*s3.ListPartsOutput, error)
	CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
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
	// Slices is how many slices wrote the export.
	Slices int `json:"slices"`
}

// Run exports every user of src to S3 in this process, as one slice
// without a budget, and returns the manifest it published as
// PREFIX/latest.json. A run that fails, or that its context's deadline
// stops, aborts its upload. See the package documentation for what a run
// guarantees.
func Run(ctx context.Context, src Users, cfg Config) (Manifest, error) {
	out, err := Slice(ctx, src, cfg, nil, Budget{})
	if err == nil && !out.Done {
		err = out.Stopped // without a budget, only the deadline stops a slice early
	}
	if err != nil {
		if out.Checkpoint != nil {
			err = errors.Join(err, Abort(ctx, cfg, out.Checkpoint))
		}
		return Manifest{}, err
	}
	return out.Manifest, nil
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
	if cfg.abortWithin == 0 {
		cfg.abortWithin = abortTimeout
	}
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

// Abort ends the run of cp for good: its multipart upload is aborted, so no
// part remains. An upload already gone (NoSuchUpload) counts as aborted. It
// runs also when ctx was cancelled, but ends before ctx's deadline, and
// refuses a checkpoint that is not of cfg's prefix.
func Abort(ctx context.Context, cfg Config, cp *Checkpoint) error {
	prefix, err := cfg.check()
	if err != nil {
		return err
	}
	if err := cp.check(prefix); err != nil {
		return err
	}
	within := cfg.abortWithin
	if deadline, ok := ctx.Deadline(); ok {
		within = min(within, time.Until(deadline)-time.Second)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(within, time.Second))
	defer cancel()
	_, err = cfg.S3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(cfg.Bucket), Key: aws.String(cp.Key), UploadId: aws.String(cp.UploadID),
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
