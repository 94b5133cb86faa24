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
	"bytes"
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

// handle runs one invocation: the start of a run (the schedule's event,
// {} by hand, or the on-demand event), which takes the lease and begins the
// upload; a slice, from {"checkpoint": ...}; or {"abort": ...}. A malformed
// event fails the invocation with one line (ExportFailed: nothing to
// retry).
func (j *job) handle(ctx context.Context, event json.RawMessage) (Result, error) {
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(event, &fields) // not an object: refused as a start, below
	for _, name := range []string{"checkpoint", "abort"} {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		p, err := decodeProgress(raw)
		if err != nil {
			j.log.ErrorContext(ctx, "export failed", "error", fmt.Sprintf("%s: %v", name, err))
			return Result{}, &ExportFailed{Err: fmt.Errorf("the event's %s: %w", name, err)}
		}
		if name == "abort" {
			return j.abort(ctx, p)
		}
		return j.continueRun(ctx, p)
	}
	return j.start(ctx, event)
}

// decodeProgress reads a checkpoint that comes back from the state
// machine: exactly Progress's fields, of their types, with an upload. A
// checkpoint read loosely (a mark of the wrong type dropped, say) could
// walk the users again and publish them twice.
func decodeProgress(raw json.RawMessage) (*Progress, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var p *Progress
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("not a checkpoint: %w", err)
	}
	if p == nil || p.UploadID == "" || p.Lease == "" {
		return nil, errors.New("not a checkpoint: no upload or no lease")
	}
	return p, nil
}

// start takes (or, on demand, claims) the run's lease, begins its upload and
// runs the first slice: a small instance's whole export. Once the upload
// exists, a failure that may pass is not the start's error (a retried start
// would meet its own lease): it answers the run's first checkpoint, from
// which the next slice tries again.
func (j *job) start(ctx context.Context, event json.RawMessage) (Result, error) {
	held, log, err := j.lease(ctx, event)
	var busy *exportrun.BusyError
	switch {
	case errors.As(err, &busy):
		log.InfoContext(ctx, "export skipped", "running", busy.Lease.RunID, "runningTrigger", busy.Lease.Trigger)
		return Result{Done: true, Skipped: busy.Error()}, nil
	case err != nil:
		return Result{}, j.leaseFailed(ctx, log, err)
	}
	cp, err := export.Begin(ctx, j.cfg)
	if err != nil {
		if held.Trigger == exportrun.Schedule {
			j.release(ctx, log, held) // the retry takes it again; an on-demand retry claims it again
		}
		return Result{}, j.sliceFailed(ctx, log, err)
	}
	log.InfoContext(ctx, "export started", "bucket", j.cfg.Bucket, "prefix", j.cfg.Prefix)
	first := &Progress{Lease: held.RunID, Trigger: held.Trigger, Checkpoint: *cp}
	r, err := j.slice(ctx, log, held, first)
	var retry *ExportRetryable
	if errors.As(err, &retry) {
		return Result{Checkpoint: first}, nil
	}
	return r, err
}

// continueRun renews the run's lease and runs one slice from p.
func (j *job) continueRun(ctx context.Context, p *Progress) (Result, error) {
	log := j.log.With("trigger", p.Trigger, "runId", p.Lease)
	held, err := j.leases.Claim(ctx, p.Lease)
	if errors.Is(err, exportrun.ErrNotHeld) {
		return Result{}, j.fail(ctx, log, nil, &p.Checkpoint, fmt.Errorf("export %s not continued: %w", p.Lease, err))
	}
	if err != nil {
		return Result{}, j.leaseFailed(ctx, log, err)
	}
	return j.slice(ctx, log, held, p)
}

// leaseFailed is the error of a start or a slice that could not take or
// renew its lease: retried when S3 may answer next time, not when the event
// or the lease itself is wrong.
func (j *job) leaseFailed(ctx context.Context, log *slog.Logger, err error) error {
	var failed *ExportFailed
	if errors.As(err, &failed) || errors.Is(err, exportrun.ErrNotHeld) {
		log.ErrorContext(ctx, "export failed", "error", err.Error())
		return &ExportFailed{Err: err}
	}
	log.WarnContext(ctx, "export lease unavailable; it is retried", "error", err.Error())
	return &ExportRetryable{Err: err}
}

// sliceFailed is the error of a failure that may pass: the state machine
// runs the same input again.
func (j *job) sliceFailed(ctx context.Context, log *slog.Logger, err error) error {
	var failure *export.Error
	if errors.As(err, &failure) && !failure.Retryable {
		log.ErrorContext(ctx, "export failed", "error", err.Error())
		return &ExportFailed{Err: err}
	}
	log.WarnContext(ctx, "export slice failed; it is retried", "error", err.Error())
	return &ExportRetryable{Err: err}
}

// slice runs one slice of the run p and says what comes next.
func (j *job) slice(ctx context.Context, log *slog.Logger, held *exportrun.Held, p *Progress) (Result, error) {
	out, err := export.Slice(ctx, j.users, j.cfg, &p.Checkpoint, j.budget)
	var failure *export.Error
	switch {
	case errors.As(err, &failure) && failure.Retryable:
		return Result{}, j.sliceFailed(ctx, log, err)
	case err != nil:
		return Result{}, j.fail(ctx, log, held, out.Checkpoint, err)
	case !out.Done:
		next := &Progress{Lease: p.Lease, Trigger: p.Trigger, Checkpoint: *out.Checkpoint}
		attrs := []any{"slice", next.Slices, "parts", next.Parts, "users", next.Users, "bytes", next.Bytes}
		if out.Stopped != nil {
			attrs = append(attrs, "stoppedBy", out.Stopped.Error())
		}
		log.InfoContext(ctx, "export slice done", attrs...)
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
		err = errors.Join(err, export.Abort(ctx, j.cfg, cp))
	}
	if held != nil {
		j.release(ctx, log, held)
	}
	log.ErrorContext(ctx, "export failed", "error", err.Error())
	return &ExportFailed{Err: err}
}

// abort ends the run of p after the state machine gave it up: its upload
// is aborted, and its lease given back if it still holds it.
func (j *job) abort(ctx context.Context, p *Progress) (Result, error) {
	log := j.log.With("trigger", p.Trigger, "runId", p.Lease)
	if err := export.Abort(ctx, j.cfg, &p.Checkpoint); err != nil {
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
		return nil, j.log, &ExportFailed{Err: err}
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
		return nil, j.log, &ExportFailed{Err: errors.New("the event is not an EventBridge event")}
	}
	log := j.log.With("event", scheduled.ID, "trigger", exportrun.Schedule)
	held, err := j.leases.TakeFor(ctx, exportrun.Schedule, scheduled.ID)
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
