package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"clerk-lambda/dev/apispec"
)

// printBanner tells the developer what runs where and how to call it.
func (s *devServer) printBanner() error {
	out := s.out
	fmt.Fprintf(out, "\nlocal API on %s: %d routes of %s, %d functions under the Lambda Runtime Interface Emulator\n",
		s.url, len(s.api.Routes), filepath.Base(s.cfg.Template), len(s.fns))
	fmt.Fprintln(out, s.siteLine())
	if s.standIn == nil {
		fmt.Fprintln(out, "Clerk: the real instance of CLERK_SECRET_KEY (from .env or the environment).")
		fmt.Fprintln(out, "Get a session token from your site (await clerk.session.getToken()) or with make token USER=user_..., then:")
		fmt.Fprintln(out)
		for _, r := range s.api.Routes {
			fmt.Fprintln(out, "  "+s.curl(r, "$TOKEN"))
		}
		s.printExports()
		fmt.Fprintln(out)
		return nil
	}
	fmt.Fprintf(out, "Clerk: a local stand-in at %s (no CLERK_SECRET_KEY set, so no Clerk account is used).\n", s.standIn.fake.URL())
	fmt.Fprintf(out, "Tokens below live %s (Clerk's own live 60 s); make token [USER=user_...] [ADMIN=1] mints more.\n", strings.TrimSuffix(tokenTTL.String(), "0m0s"))
	for _, who := range []struct {
		title string
		id    string
		admin bool
	}{
		{"Alice, a signed-in user (" + userID + ")", userID, false},
		{"Ada, an admin: role " + adminRole + " in organization " + adminOrg + " (" + adminID + ")", adminID, true},
	} {
		token, _, err := s.standIn.mint(who.id, who.admin, tokenTTL)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\nAs %s:\n", who.title)
		for _, r := range s.api.Routes {
			if r.Authorizer == nil {
				continue
			}
			fmt.Fprintln(out, "  "+s.curl(r, token))
		}
	}
	if err := s.printMachine(); err != nil {
		return err
	}
	s.printExports()
	fmt.Fprintln(out, "\nThe clerk-users CLI against the stand-in (its URL and key are in "+s.cliEnvPath()+" while make dev runs):")
	fmt.Fprintln(out, "  env $(cat "+s.cliEnvPath()+") go run ./cmd/clerk-users list")
	fmt.Fprintln(out, "\nWithout a token:")
	for _, r := range s.api.Routes {
		fmt.Fprintln(out, "  "+s.curl(r, ""))
	}
	fmt.Fprintln(out)
	if s.cfg.Poll > 0 {
		fmt.Fprintln(out, "Watching functions/ and shared/: a change rebuilds and restarts what it affects. Ctrl-C stops everything.")
	}
	return nil
}

// printMachine shows the stand-in's machine calling the admin routes with an
// M2M token, as a worker on another service would (ADMIN_MACHINES names it).
func (s *devServer) printMachine() error {
	token, _, err := s.standIn.m2m(context.Background(), tokenTTL)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "\nAs the machine %s (%s), with an M2M token; make token TYPE=m2m, api_key or oauth prints more:\n", devMachine, s.standIn.machine.ID)
	for _, r := range s.api.Routes {
		if r.Authorizer != nil && strings.HasPrefix(r.Path, "/admin/") {
			fmt.Fprintln(s.out, "  "+s.curl(r, token))
		}
	}
	return nil
}

// printExports says where POST /admin/exports's exports land, when the
// local S3 runs.
func (s *devServer) printExports() {
	if s.aws == nil {
		return
	}
	for _, name := range s.functionNames() {
		env := s.fns[name].env
		if bucket, ok := env["EXPORT_BUCKET"]; ok {
			fmt.Fprintf(s.out, "Exports go to s3://%s/%s in the local S3 at %s; its files are under %s\n",
				bucket, env["EXPORT_PREFIX"], s.aws.s3.URL, filepath.Join(s.relative(s.aws.s3Dir), bucket))
			return
		}
	}
}

// cliEnvPath is the stand-in's file for the CLI, relative to the project's
// root when it is inside it.
func (s *devServer) cliEnvPath() string { return s.relative(s.standIn.cliFile) }

// relative is path relative to the project's root when it is inside it.
func (s *devServer) relative(path string) string {
	if rel, err := filepath.Rel(s.cfg.Root, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// curl is a ready-to-paste command for a route.
func (s *devServer) curl(r apispec.Route, token string) string {
	var b strings.Builder
	b.WriteString("curl -i")
	if r.Method != "" && r.Method != "GET" && r.Method != "ANY" {
		b.WriteString(" -X " + r.Method)
	}
	if token != "" {
		// Double quotes, so that a shell expands "$TOKEN"; a token itself
		// holds no character the shell would treat specially there.
		b.WriteString(` -H "Authorization: Bearer ` + token + `"`)
	}
	b.WriteString(" " + s.url + examplePath(r.Path))
	return b.String()
}

// examplePath fills a route's path variables: {id} with the stand-in user
// Alice's id, others with placeholders.
func examplePath(path string) string {
	if path == apispec.DefaultRoute {
		return "/"
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		switch {
		case p == "{id}":
			parts[i] = userID
		case strings.HasSuffix(p, "+}"):
			parts[i] = "any/path"
		case strings.HasPrefix(p, "{"):
			parts[i] = "example"
		}
	}
	return strings.Join(parts, "/")
}
