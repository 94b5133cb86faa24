// Command clerk-users reads Clerk users from a developer's terminal: a page
// of them, one of them, or all of them exported to a gzipped JSON-lines file
// or to S3 exactly as the scheduled export writes them.
//
//	clerk-users list [--limit N] [--query Q]
//	clerk-users get [--json] ID
//	clerk-users export --out FILE|s3://BUCKET/PREFIX
//
// The secret key comes from CLERK_SECRET_KEY (or CLERK_SECRET_KEY_PARAMETER,
// read from SSM), the Backend API from CLERK_API_URL; both may be set in the
// environment or in a .env file in the current directory, and the
// environment wins.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"github.com/joho/godotenv"

	"clerk-lambda/cmd/internal/termtext"
	"clerk-lambda/shared/settings"
)

func main() {
	// Load sets only what the environment does not, so the environment wins.
	if err := godotenv.Load(".env"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(os.Stderr, "clerk-users: .env:", err)
		os.Exit(1)
	}
	os.Exit(run(os.Args[1:], settings.OS, os.Stdout, os.Stderr))
}

// run runs the command line args (without the program name) and returns the
// exit status: 0, 1 for a failure, 2 for a usage error. Errors are one line
// on stderr.
func run(args []string, env settings.Lookup, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &cli{env: env, stdout: stdout, stderr: stderr}
	err := c.dispatch(ctx, args)
	var usage *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		// The error may echo an argument: its control characters are not
		// passed to the terminal.
		fmt.Fprintf(stderr, "clerk-users: %s (usage: %s)\n", termtext.Printable(termtext.OneLine(usage.err.Error())), usage.line)
		return 2
	default:
		fmt.Fprintln(stderr, "clerk-users:", termtext.Printable(termtext.OneLine(err.Error())))
		return 1
	}
}
