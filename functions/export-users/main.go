// Command export-users is the user export: on each EventBridge schedule
// event, and on the on-demand event of POST /admin/exports, it writes every
// Clerk user to S3 as gzipped JSON lines and, once the file is complete,
// points PREFIX/latest.json at it (see shared/export).
//
// One run at a time: a run holds the lease PREFIX/run.lock (see
// shared/exportrun) and releases it when it ends. A scheduled run takes the
// lease itself, and is skipped while another run holds it; an on-demand run
// claims the lease POST /admin/exports took for it.
//
// Settings: EXPORT_BUCKET (required) and EXPORT_PREFIX (default
// "exports/users"), EXPORT_SLICE_SECONDS and EXPORT_SLICE_PARTS (a slice's
// budget), the Clerk secret key from CLERK_SECRET_KEY or SSM
// (shared/secrets), CLERK_API_URL, and the instance's issuer, recorded in
// latest.json, from CLERK_ISSUER or CLERK_PUBLISHABLE_KEY. A missing or
// malformed setting stops the function at start with one line naming it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/export"
	"clerk-lambda/shared/exportrun"
	"clerk-lambda/shared/metrics"
	"clerk-lambda/shared/settings"
	"clerk-lambda/shared/startup"
)

func main() {
	j := startup.Init("export-users", newJob)
	lambda.Start(j.handle)
}

// config is what the function reads from its environment at start.
type config struct {
	export settings.Export
	budget export.Budget
	issuer string
	users  *clerkapi.Client
}

// configFromEnv reads and checks every setting. It makes no network call:
// the secret key is fetched when the first run needs it.
func configFromEnv(get settings.Lookup) (config, error) {
	dest, err := settings.ReadExport(get)
	if err != nil {
		return config{}, err
	}
	sliceTime, sliceParts, err := settings.ExportSlice(get)
	if err != nil {
		return config{}, err
	}
	issuer, _, err := settings.Issuer(get)
	if err != nil {
		return config{}, err
	}
	users, _, err := clerkapi.FromEnv(get)
	if err != nil {
		return config{}, err
	}
	return config{export: dest, budget: export.Budget{Time: sliceTime, Parts: sliceParts}, issuer: issuer, users: users}, nil
}

// newJob is the function's setup: its settings and the S3 client, from the
// default AWS configuration (the function's role in Lambda).
func newJob(get settings.Lookup, logger *slog.Logger) (*job, error) {
	c, err := configFromEnv(get)
	if err != nil {
		return nil, err
	}
	client, err := export.NewS3Client(context.Background())
	if err != nil {
		return nil, err
	}
	logger.Debug("export settings", "bucket", c.export.Bucket, "prefix", c.export.Prefix, "issuer", c.issuer,
		"sliceSeconds", c.budget.Time.Seconds(), "sliceParts", c.budget.Parts)
	return jobFor(c, client, logger), nil
}

// job runs export slices; one lives for the whole execution environment.
type job struct {
	users  export.Users
	cfg    export.Config
	budget export.Budget
	leases *exportrun.Store
	log    *slog.Logger
}

// s3Client is what a run writes with: the export's objects and the lease.
type s3Client interface {
	export.S3
	exportrun.S3
}

func jobFor(c config, client s3Client, logger *slog.Logger) *job {
	return &job{
		users:  c.users,
		cfg:    export.Config{S3: client, Bucket: c.export.Bucket, Prefix: c.export.Prefix, Issuer: c.issuer},
		budget: c.budget,
		leases: exportrun.New(client, c.export.Bucket, c.export.Prefix),
		log:    logger,
	}
}

// Progress is the checkpoint a slice hands the next one: the export's and
// the lease the run holds.
type Progress struct {
	Lease   string            `json:"lease"` // the run id the lease names
	Trigger exportrun.Trigger `json:"trigger"`
	export.Checkpoint
}

// Result is what a slice returns and logs. A skipped run's names the run in
// progress in Skipped, and counts nothing.
type Result struct {
	Done       bool      `json:"done"`
	Checkpoint *Progress `json:"checkpoint,omitempty"`
	RunID      string    `json:"runId,omitempty"`
	Users      int64     `json:"users,omitempty"`
	Bytes      int64     `json:"bytes,omitempty"`
	Seconds    float64   `json:"seconds,omitempty"`
	Key        string    `json:"key,omitempty"`
	Slices     int       `json:"slices,omitempty"`
	Skipped    string    `json:"skipped,omitempty"`
	Aborted    bool      `json:"aborted,omitempty"`
}

// ExportRetryable is the error of a slice worth running again with the same
// input; Step Functions sees its name as the error.
type ExportRetryable struct{ Err error }

func (e *ExportRetryable) Error() string { return e.Err.Error() }
func (e *ExportRetryable) Unwrap() error { return e.Err }

// ExportFailed is the error of a run that failed for good: its upload was
// aborted and its lease given back.
type ExportFailed struct{ Err error }

func (e *ExportFailed) Error() string { return e.Err.Error() }
func (e *ExportFailed) Unwrap() error { return e.Err }

// releaseTimeout bounds the release of the lease, on a fresh context so
// that it happens also when the run's was cancelled.
const releaseTimeout = 5 * time.Second

// input is an invocation's event, told apart by its one field: a
// continuation, an abort, or else the start of a run.
type input struct {
	Checkpoint *Progress `json:"checkpoint"`
	Abort      *Progress `json:"abort"`
}

// handle runs one slice. A malformed event fails the invocation with one
// line (ExportFailed: nothing to retry).
func (j *job) handle(ctx context.Context, event json.RawMessage) (Result, error) {
	var in input
	_ = json.Unmarshal(event, &in) // an event of another shape starts a run, or is refused there
	switch {
	case in.Abort != nil:
		return j.abort(ctx, in.Abort)
	case in.Checkpoint != nil:
		log := j.log.With("trigger", in.Checkpoint.Trigger, "runId", in.Checkpoint.Lease)
		held, err := j.leases.Claim(ctx, in.Checkpoint.Lease)
		if err != nil {
			return Result{}, j.fail(ctx, log, nil, &in.Checkpoint.Checkpoint, fmt.Errorf("export %s not continued: %w", in.Checkpoint.Lease, err))
		}
		return j.slice(ctx, log, held, in.Checkpoint)
	}
	held, log, err := j.lease(ctx, event)
	var busy *exportrun.BusyError
	switch {
	case errors.As(err, &busy):
		log.InfoContext(ctx, "export skipped", "running", busy.Lease.RunID, "runningTrigger", busy.Lease.Trigger)
		return Result{Done: true, Skipped: busy.Error()}, nil
	case err != nil:
		return Result{}, j.fail(ctx, log, nil, nil, err)
	}
	log.InfoContext(ctx, "export started", "bucket", j.cfg.Bucket, "prefix", j.cfg.Prefix)
	return j.slice(ctx, log, held, &Progress{Lease: held.RunID, Trigger: held.Trigger})
}

// slice runs one slice of the run p and says what comes next. The first
// slice's p has no upload yet.
func (j *job) slice(ctx context.Context, log *slog.Logger, held *exportrun.Held, p *Progress) (Result, error) {
	var from *export.Checkpoint
	if p.UploadID != "" {
		from = &p.Checkpoint
	}
	out, err := export.Slice(ctx, j.users, j.cfg, from, j.budget)
	var failure *export.Error
	switch {
	case errors.As(err, &failure) && failure.Retryable:
		if from == nil {
			// A retry starts the run afresh: it takes the lease again and
			// makes an upload of its own.
			j.drop(ctx, log, held, out.Checkpoint)
		}
		log.WarnContext(ctx, "export slice failed; it is retried", "error", err.Error())
		return Result{}, &ExportRetryable{Err: err}
	case err != nil:
		return Result{}, j.fail(ctx, log, held, out.Checkpoint, err)
	case !out.Done:
		next := &Progress{Lease: p.Lease, Trigger: p.Trigger, Checkpoint: *out.Checkpoint}
		log.InfoContext(ctx, "export slice done", "slice", next.Slices, "parts", next.Parts, "users", next.Users, "bytes", next.Bytes)
		return Result{Checkpoint: next}, nil
	}
	j.release(ctx, log, held)
	m := out.Manifest
	r := Result{Done: true, RunID: p.Lease, Users: m.Users, Bytes: m.Bytes, Seconds: m.Finished.Sub(m.Started).Seconds(), Key: m.Key, Slices: m.Slices}
	// The line is also the ExportSucceeded metric: an alarm fires when a
	// day passes without one.
	log.InfoContext(ctx, "export finished", append([]any{"users", r.Users, "bytes", r.Bytes, "seconds", r.Seconds, "slices", r.Slices, "key", r.Key},
		metrics.Count(metrics.ExportSucceeded)...)...)
	return r, nil
}

// fail ends a run for good: it aborts the upload of cp (when there is one)
// and gives the lease back (when held), logs why, and returns the
// ExportFailed error.
func (j *job) fail(ctx context.Context, log *slog.Logger, held *exportrun.Held, cp *export.Checkpoint, err error) error {
	if cp != nil && cp.UploadID != "" {
		err = errors.Join(err, export.Abort(j.cfg, cp))
	}
	if held != nil {
		j.release(ctx, log, held)
	}
	log.ErrorContext(ctx, "export failed", "error", err.Error())
	return &ExportFailed{Err: err}
}

// drop gives up a first slice's upload, if it made one, and its lease.
func (j *job) drop(ctx context.Context, log *slog.Logger, held *exportrun.Held, cp *export.Checkpoint) {
	if cp != nil {
		if err := export.Abort(j.cfg, cp); err != nil {
			log.WarnContext(ctx, "export upload not aborted", "error", err.Error())
		}
	}
	j.release(ctx, log, held)
}

// abort ends the run of p after the state machine gave it up: its upload
// is aborted, and its lease given back if it still holds it.
func (j *job) abort(ctx context.Context, p *Progress) (Result, error) {
	log := j.log.With("trigger", p.Trigger, "runId", p.Lease)
	if err := export.Abort(j.cfg, &p.Checkpoint); err != nil {
		log.ErrorContext(ctx, "export abort failed", "error", err.Error())
		return Result{}, &ExportRetryable{Err: err}
	}
	if held, err := j.leases.Claim(ctx, p.Lease); err == nil {
		j.release(ctx, log, held)
	}
	log.ErrorContext(ctx, "export aborted", "users", p.Users, "parts", p.Parts)
	return Result{Done: true, Aborted: true, RunID: p.Lease}, nil
}

// lease reads the event and gets the run its lease: a scheduled run takes
// it, an on-demand run claims the one taken for it. It returns the logger of
// the run, which names the trigger and the run id; the error of a scheduled
// run that another run's lease keeps out is an *exportrun.BusyError.
func (j *job) lease(ctx context.Context, event json.RawMessage) (*exportrun.Held, *slog.Logger, error) {
	ev, onDemand, err := exportrun.ParseEvent(event)
	if err != nil {
		return nil, j.log, err
	}
	if onDemand {
		log := j.log.With("trigger", exportrun.OnDemand, "runId", ev.RunID)
		held, err := j.leases.Claim(ctx, ev.RunID)
		if err != nil {
			return nil, log, fmt.Errorf("on-demand export %s not started: %w", ev.RunID, err)
		}
		return held, log, nil
	}
	var scheduled events.EventBridgeEvent
	if err := json.Unmarshal(event, &scheduled); err != nil {
		return nil, j.log, errors.New("the event is not an EventBridge event")
	}
	log := j.log.With("event", scheduled.ID, "trigger", exportrun.Schedule)
	held, err := j.leases.Take(ctx, exportrun.Schedule)
	if err != nil {
		return nil, log, fmt.Errorf("export not started: %w", err)
	}
	return held, log.With("runId", held.RunID), nil
}

// release gives the run's lease back, so the next run may start at once. A
// lease that cannot be released expires on its own (exportrun.TTL).
func (j *job) release(ctx context.Context, log *slog.Logger, held *exportrun.Held) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := j.leases.Release(rctx, held); err != nil {
		log.ErrorContext(ctx, "export lease not released", "error", err.Error(), "expiresAt", held.ExpiresAt.Format(time.RFC3339))
	}
}
