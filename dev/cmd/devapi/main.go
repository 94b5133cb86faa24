// Command devapi is the local development API: the whole HTTP API of
// template.yaml on this machine, in one command (make dev), without Docker,
// an AWS account or a Clerk account.
//
// It builds each function for this machine, runs the real binaries under
// the AWS Lambda Runtime Interface Emulator, and puts a local API Gateway
// HTTP API in front of them: the template's routes, its Lambda authorizer
// with caching, its CORS configuration, payload format 2.0 events and API
// Gateway's own error answers. Without a Clerk secret key in the
// environment or .env it also runs a stand-in for Clerk's Backend API and
// prints ready-to-paste curl lines with tokens for a user and an admin.
// It also serves the example site (web/) on a second origin, as CloudFront
// would, with a config.json that points the page at the local API. For the
// export, it runs a local S3 (Versity's gateway) and the template's state
// machine behind a local Step Functions API, so that POST /admin/exports
// starts the export as in AWS; devapi export runs it once from the command
// line.
//
// Usage:
//
//	devapi [-addr 127.0.0.1:3000] [-site-addr 127.0.0.1:5173] [-template template.yaml]
//	devapi token [-user user_...] [-admin] [-ttl 1h]
//	devapi export [-template template.yaml]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage is a bad command line, already explained by the flag package.
var errUsage = errors.New("usage")

// run executes the command line and returns the exit status. Every failure
// is one message on stderr, never a stack trace.
func run(args []string, stdout, stderr io.Writer) int {
	var err error
	switch {
	case len(args) > 0 && args[0] == "token":
		err = tokenCommand(args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "export":
		err = exportCommand(args[1:], stdout, stderr)
	default:
		err = serveCommand(args, stdout, stderr)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(stderr, "devapi:", err)
	return 1
}

// serveCommand runs the local API until SIGINT or SIGTERM.
func serveCommand(args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServeFlags(args, stderr, os.LookupEnv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := start(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping: ending every function process")
	return srv.Close()
}
