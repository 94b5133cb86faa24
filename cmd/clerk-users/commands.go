package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/clerk/clerk-sdk-go/v2"

	"clerk-lambda/cmd/internal/termtext"
	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/settings"
)

// Usage lines, one per command.
const (
	usageList   = "clerk-users list [--limit N] [--query Q]"
	usageGet    = "clerk-users get [--json] ID"
	usageExport = "clerk-users export --out FILE|s3://BUCKET/PREFIX [--checkpoint FILE] [--resume FILE]"
)

const usage = `clerk-users reads the users of a Clerk instance.

usage:
  ` + usageList + `
        one user per line: id, first email address, name (newest first;
        --limit 1..500, default 10; --query matches email, phone, username,
        name and id)
  ` + usageGet + `
        the user's first email address, or with --json the whole user
  ` + usageExport + `
        every user as gzipped JSON lines, to a local file or to S3 as the
        scheduled export writes it (PREFIX/YYYY/MM/DD/users-<run id>.jsonl.gz,
        then PREFIX/latest.json). To S3 it saves its progress in a checkpoint
        file after every part (--checkpoint, default ` + defaultCheckpoint + `);
        --resume FILE continues a run that was interrupted from that file

settings (environment, or .env in the current directory):
  CLERK_SECRET_KEY   the instance's secret key (or CLERK_SECRET_KEY_PARAMETER, in SSM)
  CLERK_API_URL      the Backend API (default https://api.clerk.com/v1)
  CLERK_PUBLISHABLE_KEY or CLERK_ISSUER   names the instance in latest.json (s3:// only)
  AWS_*              the usual AWS settings, for s3://
`

// usageError is a mistake on the command line: run prints it with the
// command's usage line and exits 2.
type usageError struct {
	err  error
	line string
}

func (e *usageError) Error() string { return e.err.Error() }

func usagef(line, format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...), line: line}
}

// cli carries what every command needs.
type cli struct {
	env            settings.Lookup
	stdout, stderr io.Writer
}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("clerk-users list|get|export ...; clerk-users help for more", "no command given")
	}
	var err error
	switch args[0] {
	case "list":
		err = c.list(ctx, args[1:])
	case "get":
		err = c.get(ctx, args[1:])
	case "export":
		err = c.export(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		err = flag.ErrHelp
	default:
		return usagef("clerk-users list|get|export ...; clerk-users help for more", "unknown command %q", args[0])
	}
	if errors.Is(err, flag.ErrHelp) { // "help", or -h after a command
		_, err = io.WriteString(c.stdout, usage)
	}
	return err
}

// parse parses args against fs, allowing flags before and after the
// positional arguments ("get ID --json"), and returns the positional ones.
func parse(fs *flag.FlagSet, line string, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil, err
		} else if err != nil {
			return nil, usagef(line, "%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// api is the Backend API client the settings describe.
func (c *cli) api() (*clerkapi.Client, error) {
	client, _, err := clerkapi.FromEnv(c.env)
	if err != nil {
		return nil, fmt.Errorf("%w (in the environment or in .env)", err)
	}
	return client, nil
}

func (c *cli) list(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	limit := fs.Int("limit", 10, "")
	query := fs.String("query", "", "")
	rest, err := parse(fs, usageList, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef(usageList, "list: unexpected argument %q", rest[0])
	}
	if *limit < 1 || *limit > 500 {
		return usagef(usageList, "list: --limit must be between 1 and 500")
	}
	api, err := c.api()
	if err != nil {
		return err
	}
	users, err := api.ListUsers(ctx, clerkapi.ListParams{Limit: *limit, Query: *query})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", termtext.Printable(u.ID), orDash(termtext.Printable(firstEmail(u))), orDash(termtext.Printable(name(u))))
	}
	return tw.Flush()
}

func (c *cli) get(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	rest, err := parse(fs, usageGet, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) == 0:
		return usagef(usageGet, "get: missing user id")
	case len(rest) > 1:
		return usagef(usageGet, "get: unexpected argument %q", rest[1])
	}
	api, err := c.api()
	if err != nil {
		return err
	}
	id := rest[0]
	u, err := api.User(ctx, id)
	switch {
	case errors.Is(err, clerkapi.ErrNotFound):
		return fmt.Errorf("no user with id %q", id)
	case err != nil:
		return err
	case *asJSON:
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(u)
	}
	email := firstEmail(u)
	if email == "" {
		return fmt.Errorf("user %s has no email address", u.ID)
	}
	_, err = fmt.Fprintln(c.stdout, termtext.Printable(email))
	return err
}

// firstEmail is the user's first email address, or "".
func firstEmail(u *clerk.User) string {
	if len(u.EmailAddresses) == 0 || u.EmailAddresses[0] == nil {
		return ""
	}
	return u.EmailAddresses[0].EmailAddress
}

// name is the user's first and last name, as far as they are set.
func name(u *clerk.User) string {
	var parts []string
	for _, p := range []*string{u.FirstName, u.LastName} {
		if p != nil && *p != "" {
			parts = append(parts, *p)
		}
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
