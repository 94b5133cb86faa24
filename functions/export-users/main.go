// Command export-users is the scheduled export: on each EventBridge schedule
// event it writes every Clerk user to S3 as gzipped JSON lines and, once the
// file is complete, points PREFIX/latest.json at it (see shared/export).
//
// Settings: EXPORT_BUCKET (required) and EXPORT_PREFIX (default
// "exports/users"), the Clerk secret key from CLERK_SECRET_KEY or SSM
// (shared/secrets), CLERK_API_URL, and the instance's issuer, recorded in
// latest.json, from CLERK_ISSUER or CLERK_PUBLISHABLE_KEY. A missing or
// malformed setting stops the function at start with one line naming it.
package main

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/export"
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
	users *clerkapi.Client
	cfg   export.Config
	log   *slog.Logger
}

func jobFor(c config, client transfermanager.S3APIClient, logger *slog.Logger) *job {
	return &job{
		users: c.users,
		cfg:   export.Config{S3: client, Bucket: c.export.Bucket, Prefix: c.export.Prefix, Issuer: c.issuer},
		log:   logger,
	}
}

// Summary is what a run returns and logs.
type Summary struct {
	Users   int64   `json:"users"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Key     string  `json:"key"`
}

// handle runs one export. The schedule's event carries nothing the export
// needs; its id is logged to tie the run to the schedule's invocation. The
// run stops export.DefaultMargin before the invocation's deadline, so a run
// that cannot finish aborts its upload cleanly instead of being killed.
func (j *job) handle(ctx context.Context, event events.EventBridgeEvent) (Summary, error) {
	log := j.log.With("event", event.ID)
	log.InfoContext(ctx, "export started", "bucket", j.cfg.Bucket, "prefix", j.cfg.Prefix)
	m, err := export.Run(ctx, j.users, j.cfg)
	if err != nil {
		log.ErrorContext(ctx, "export failed", "error", err.Error())
		return Summary{}, err
	}
	s := Summary{Users: m.Users, Bytes: m.Bytes, Seconds: m.Finished.Sub(m.Started).Seconds(), Key: m.Key}
	// The line is also the ExportSucceeded metric: an alarm fires when a
	// day passes without one.
	log.InfoContext(ctx, "export finished", append([]any{"users", s.Users, "bytes", s.Bytes, "seconds", s.Seconds, "key", s.Key},
		metrics.Count(metrics.ExportSucceeded)...)...)
	return s, nil
}
