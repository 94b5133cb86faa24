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
// "exports/users"), the Clerk secret key from CLERK_SECRET_KEY or SSM
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
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"

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
	issuer, _, err := settings.Issuer(get)
	if err != nil {
		return config{}, err
	}
	users, _, err := clerkapi.FromEnv(get)
	if err != nil {
		return config{}, err
	}
	return config{export: dest, issuer: issuer, users: users}, nil
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
	logger.Debug("export settings", "bucket", c.export.Bucket, "prefix", c.export.Prefix, "issuer", c.issuer)
	return jobFor(c, client, logger), nil
}

// job runs exports; one lives for the whole execution environment.
type job struct {
	users  *clerkapi.Client
	cfg    export.Config
	leases *exportrun.Store
	log    *slog.Logger
}

// s3Client is what a run writes with: the export's objects and the lease.
type s3Client interface {
	transfermanager.S3APIClient
	exportrun.S3
}

func jobFor(c config, client s3Client, logger *slog.Logger) *job {
	return &job{
		users:  c.users,
		cfg:    export.Config{S3: client, Bucket: c.export.Bucket, Prefix: c.export.Prefix, Issuer: c.issuer},
		leases: exportrun.New(client, c.export.Bucket, c.export.Prefix),
		log:    logger,
	}
}

// Summary is what a run returns and logs. A skipped run's names the run in
// progress in Skipped, and counts nothing.
type Summary struct {
	RunID   string  `json:"runId,omitempty"`
	Users   int64   `json:"users"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Key     string  `json:"key"`
	Skipped string  `json:"skipped,omitempty"`
}

// releaseTimeout bounds the release of the lease, on a fresh context so
// that it happens also when the run's was cancelled.
const releaseTimeout = 5 * time.Second

// handle runs one export, for the schedule's event (whose id is logged to
// tie the run to the schedule's invocation; an invocation by hand with {}
// is one too) or for POST /admin/exports's on-demand event. A malformed
// event fails the invocation with one line. The run stops
// export.DefaultMargin before the invocation's deadline, so a run that
// cannot finish aborts its upload cleanly instead of being killed, and
// releases its lease.
func (j *job) handle(ctx context.Context, event json.RawMessage) (Summary, error) {
	held, log, err := j.lease(ctx, event)
	var busy *exportrun.BusyError
	switch {
	case errors.As(err, &busy):
		log.InfoContext(ctx, "export skipped", "running", busy.Lease.RunID, "runningTrigger", busy.Lease.Trigger)
		return Summary{Skipped: busy.Error()}, nil
	case err != nil:
		log.ErrorContext(ctx, "export failed", "error", err.Error())
		return Summary{}, err
	}
	defer j.release(ctx, log, held)
	log.InfoContext(ctx, "export started", "bucket", j.cfg.Bucket, "prefix", j.cfg.Prefix)
	m, err := export.Run(ctx, j.users, j.cfg)
	if err != nil {
		log.ErrorContext(ctx, "export failed", "error", err.Error())
		return Summary{}, err
	}
	s := Summary{RunID: held.RunID, Users: m.Users, Bytes: m.Bytes, Seconds: m.Finished.Sub(m.Started).Seconds(), Key: m.Key}
	// The line is also the ExportSucceeded metric: an alarm fires when a
	// day passes without one.
	log.InfoContext(ctx, "export finished", append([]any{"users", s.Users, "bytes", s.Bytes, "seconds", s.Seconds, "key", s.Key},
		metrics.Count(metrics.ExportSucceeded)...)...)
	return s, nil
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
