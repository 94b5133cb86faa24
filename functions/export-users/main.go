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
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/clerkauth"
	"clerk-lambda/shared/envvar"
	"clerk-lambda/shared/export"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/secrets"
)

func main() {
	s, err := settingsFromEnv(envvar.OS)
	if err != nil {
		exit(err)
	}
	client, err := export.NewS3Client(context.Background())
	if err != nil {
		exit(err)
	}
	lambda.Start(newJob(s, client, logging.New(os.Stdout)).handle)
}

// exit stops the function at start with one line saying why.
func exit(err error) {
	fmt.Fprintln(os.Stderr, "export-users:", err)
	os.Exit(1)
}

// settings is what the function reads from its environment at start.
type settings struct {
	bucket, prefix string
	issuer         string
	users          *clerkapi.Client
}

// settingsFromEnv reads and checks every setting. It makes no network call:
// the secret key is fetched when the first run needs it.
func settingsFromEnv(get envvar.Lookup) (settings, error) {
	s := settings{bucket: envvar.String(get, "EXPORT_BUCKET", "")}
	if s.bucket == "" {
		return settings{}, errors.New("EXPORT_BUCKET must be set to the bucket the export writes to")
	}
	if err := export.CheckBucket(s.bucket); err != nil {
		return settings{}, fmt.Errorf("EXPORT_BUCKET: %w", err)
	}
	var err error
	if s.prefix, err = export.CleanPrefix(envvar.String(get, "EXPORT_PREFIX", export.DefaultPrefix)); err != nil {
		return settings{}, fmt.Errorf("EXPORT_PREFIX: %w", err)
	}
	clerk, err := clerkauth.ConfigFromEnv(get)
	if err != nil {
		return settings{}, err
	}
	s.issuer = clerk.Issuer
	scfg, err := secrets.ConfigFromEnv(get)
	if err != nil {
		return settings{}, err
	}
	keys, err := secrets.New(scfg)
	if err != nil {
		return settings{}, err
	}
	if s.users, err = clerkapi.New(clerkapi.Config{SecretKey: keys.SecretKey, URL: clerk.APIURL}); err != nil {
		return settings{}, fmt.Errorf("CLERK_API_URL: %w", err)
	}
	return s, nil
}

// job runs exports; one lives for the whole execution environment.
type job struct {
	users *clerkapi.Client
	cfg   export.Config
	log   *slog.Logger
}

func newJob(s settings, client transfermanager.S3APIClient, logger *slog.Logger) *job {
	return &job{
		users: s.users,
		cfg:   export.Config{S3: client, Bucket: s.bucket, Prefix: s.prefix, Issuer: s.issuer},
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
	log := logging.ForRequest(ctx, j.log).With("event", event.ID)
	log.Info("export started", "bucket", j.cfg.Bucket, "prefix", j.cfg.Prefix)
	m, err := export.Run(ctx, j.users, j.cfg)
	if err != nil {
		log.Error("export failed", "error", err.Error())
		return Summary{}, err
	}
	s := Summary{Users: m.Users, Bytes: m.Bytes, Seconds: m.Finished.Sub(m.Started).Seconds(), Key: m.Key}
	log.Info("export finished", "users", s.Users, "bytes", s.Bytes, "seconds", s.Seconds, "key", s.Key)
	return s, nil
}
