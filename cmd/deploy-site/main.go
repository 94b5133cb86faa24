// Command deploy-site publishes a static site's folder to the stack's site
// bucket and makes it live: `make deploy-site` runs it.
//
//	deploy-site -stack NAME [-dir web] [-n]
//	deploy-site -bucket BUCKET -api-base URL -publishable-key pk_... [-distribution ID] [-dir DIR] [-n]
//
// It writes config.json from the stack's outputs (never from a file edited
// by hand), uploads only the files whose content or headers changed (the
// SHA-256 of each object is kept in its metadata), uploads pages last and
// deletes what is no longer in the folder only after every upload succeeded,
// so a failure midway leaves the previous site whole. Then it asks
// CloudFront to invalidate what changed and prints the site's URL.
//
// The stack outputs it reads, by name (the template's Outputs must match):
//
//	SiteBucketName      the site bucket
//	SiteDistributionId  the CloudFront distribution (absent or empty: no invalidation)
//	SiteUrl             the site's URL, printed at the end (optional)
//	ApiBase             the API's base for the page: "/api" when same-origin
//	                    (absent or empty: ApiUrl, the API's own URL, for a site on another origin)
//	PublishableKey      the Clerk publishable key the page signs in with
//
// A flag given on the command line wins over the stack's output; with every
// value given by flags no stack is read. An explicitly empty -distribution
// skips the invalidation. AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) points
// it at another S3 server, addressed path-style.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"clerk-lambda/cmd/internal/termtext"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, awsClients))
}

// usage is the synopsis printed with a usage error.
const usage = "deploy-site -stack NAME | -bucket BUCKET -api-base URL -publishable-key KEY [-distribution ID] [-dir DIR] [-n]"

// usageError is a bad command line: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// run runs the command line args (without the program name) and returns the
// exit status: 0, 1 for a failure, 2 for a usage error. Errors are one line
// on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, newClients func(context.Context) (*clients, error)) int {
	err := deploy(ctx, args, stdout, stderr, newClients)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "deploy-site: %s (usage: %s)\n", termtext.Printable(termtext.OneLine(ue.Error())), usage)
		return 2
	default:
		fmt.Fprintln(stderr, "deploy-site:", termtext.Printable(termtext.OneLine(err.Error())))
		return 1
	}
}

// options are the command line's values; set records which flags were given.
type options struct {
	dir, stack, bucket, apiBase, publishableKey, distribution string
	dryRun                                                    bool
	set                                                       map[string]bool
}

func parseFlags(args []string) (*options, error) {
	o := &options{set: map[string]bool{}}
	fs := flag.NewFlagSet("deploy-site", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.dir, "dir", "web", "the folder to publish")
	fs.StringVar(&o.stack, "stack", "", "the CloudFormation stack whose outputs name the bucket, distribution, API base and publishable key")
	fs.StringVar(&o.bucket, "bucket", "", "the site bucket (instead of the stack's SiteBucketName)")
	fs.StringVar(&o.apiBase, "api-base", "", "the API base written to config.json (instead of the stack's ApiBase)")
	fs.StringVar(&o.publishableKey, "publishable-key", "", "the Clerk publishable key written to config.json (instead of the stack's PublishableKey)")
	fs.StringVar(&o.distribution, "distribution", "", "the CloudFront distribution to invalidate (instead of the stack's SiteDistributionId; empty: none)")
	fs.BoolVar(&o.dryRun, "n", false, "dry run: list what would be uploaded and deleted, change nothing")
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if o.dir == "" {
		return nil, usagef("-dir is empty")
	}
	if o.stack == "" {
		var missing []string
		for _, name := range []string{"bucket", "api-base", "publishable-key"} {
			if !o.set[name] {
				missing = append(missing, "-"+name)
			}
		}
		if len(missing) > 0 {
			return nil, usagef("give -stack, or %s", strings.Join(missing, " and "))
		}
	}
	return o, nil
}

// needsStack reports whether some value must come from the stack's outputs.
func (o *options) needsStack() bool {
	for _, name := range []string{"bucket", "api-base", "publishable-key", "distribution"} {
		if !o.set[name] {
			return true
		}
	}
	return false
}
