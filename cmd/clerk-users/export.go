package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/export"
	"clerk-lambda/shared/settings"
)

func (c *cli) export(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	out := fs.String("out", "", "")
	checkpoint := fs.String("checkpoint", defaultCheckpoint, "")
	resume := fs.String("resume", "", "")
	rest, err := parse(fs, usageExport, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return usagef(usageExport, "export: unexpected argument %q", rest[0])
	case *out == "":
		return usagef(usageExport, "export: --out is required")
	case *resume != "" && !strings.HasPrefix(*out, "s3://"):
		return usagef(usageExport, "export: --resume continues an export to s3:// only")
	}
	var bucket, prefix string
	toS3 := strings.HasPrefix(*out, "s3://")
	if toS3 {
		if bucket, prefix, err = export.ParseS3URL(*out); err != nil {
			return usagef(usageExport, "export: --out %v", err)
		}
	}
	api, err := c.api()
	if err != nil {
		return err
	}
	run := func(onUser func(int64)) (string, error) {
		n, size, err := exportFile(ctx, api, *out, onUser)
		return fmt.Sprintf("%d users (%s) to %s", n, megabytes(size), *out), err
	}
	if toS3 {
		files := checkpointFiles{save: *checkpoint, resume: *resume}
		if run, err = c.s3Export(ctx, api, bucket, prefix, files); err != nil {
			return err
		}
	}
	bar := c.startProgress(ctx, api)
	started := time.Now()
	summary, err := run(bar.set)
	bar.stop()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "exported %s in %s\n", summary, time.Since(started).Round(10*time.Millisecond))
	return err
}

// exportFile writes the export to path through a temporary file in the same
// directory, renamed into place once complete, so path is never half
// written. It returns the users and bytes written.
func exportFile(ctx context.Context, api *clerkapi.Client, path string, onUser func(int64)) (users, size int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, 0, fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if users, err = export.Write(ctx, api, tmp, onUser); err != nil {
		return users, 0, fmt.Errorf("export stopped after %d users: %w", users, err)
	}
	if size, err = finish(tmp, path); err != nil {
		return users, 0, fmt.Errorf("write %s: %w", path, err)
	}
	return users, size, nil
}

// finish flushes tmp to disk, closes it and renames it to path, and returns
// its size.
func finish(tmp *os.File, path string) (int64, error) {
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	info, err := tmp.Stat()
	if err != nil {
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	return info.Size(), os.Rename(tmp.Name(), path)
}

// s3Export prepares the scheduled export's run against the default AWS
// configuration. The issuer it records comes from CLERK_ISSUER or
// CLERK_PUBLISHABLE_KEY, as for the function.
func (c *cli) s3Export(ctx context.Context, api *clerkapi.Client, bucket, prefix string, files checkpointFiles) (func(func(int64)) (string, error), error) {
	issuer, _, err := settings.Issuer(c.env)
	if err != nil {
		return nil, err
	}
	from, err := files.load()
	if err != nil {
		return nil, err
	}
	client, err := export.NewS3Client(ctx)
	if err != nil {
		return nil, err
	}
	return func(onUser func(int64)) (string, error) {
		cfg := export.Config{S3: client, Bucket: bucket, Prefix: prefix, Issuer: issuer, OnUser: onUser}
		m, err := runSlices(ctx, api, cfg, from, files)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d users (%s) to s3://%s/%s, named by %s/%s", m.Users, megabytes(m.Bytes), bucket, m.Key, prefix, export.LatestName), nil
	}, nil
}

// startProgress shows a progress bar on stderr when it is a terminal, with
// the total from one count of the users; otherwise it shows nothing.
func (c *cli) startProgress(ctx context.Context, api *clerkapi.Client) *progress {
	f, ok := c.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return startProgress(f, progressTotal(ctx, api, countTimeout), 200*time.Millisecond)
}

// countTimeout bounds the count of the users for the progress bar, which
// must not hold up the export (a rate-limited count would wait out Retry-After).
const countTimeout = 5 * time.Second

// progressTotal is how many users there are, or 0 (the bar then shows the
// count and rate only) when Clerk does not say so within timeout.
func progressTotal(ctx context.Context, api *clerkapi.Client, timeout time.Duration) int64 {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	total, err := api.CountUsers(ctx, "")
	if err != nil {
		return 0
	}
	return total
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
