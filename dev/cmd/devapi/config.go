package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/joho/godotenv"

	"clerk-lambda/dev/cmd/devapi/gateway"
	"clerk-lambda/internal/projectroot"
)

// defaultAddr is where make dev listens unless -addr or DEV_API_ADDR says
// otherwise.
const defaultAddr = "127.0.0.1:3000"

// defaultSiteAddr is where make dev serves the example site unless
// -site-addr or DEV_SITE_ADDR says otherwise: the port of Vite's dev
// server, so the origin the API accepts is the one a Vite project has too.
const defaultSiteAddr = "127.0.0.1:5173"

// serveConfig is the local API's configuration.
type serveConfig struct {
	// Root is the module root: functions are built there.
	Root string
	// Addr is where the API listens: loopback, unless AllowRemote.
	Addr string
	// AllowRemote lets Addr be an address other machines can reach.
	AllowRemote bool
	Template    string
	// SiteAddr is where the example site is served, on loopback only;
	// SiteDir is the folder served there (web/).
	SiteAddr string
	SiteDir  string
	// SiteCrossOrigin points the example site at the API's own origin, with
	// CORS, instead of /api on the site's origin.
	SiteCrossOrigin bool
	RIE             string
	// VersityGW is Versity's S3 gateway, the local S3 of the export; without
	// it the local API runs without exports.
	VersityGW string
	EnvFile   string
	CacheDir  string
	// IntegrationTimeout is API Gateway's 30 s, shorter only in tests.
	IntegrationTimeout time.Duration
	// Poll is how often source files are checked for changes; 0 turns
	// watching off.
	Poll time.Duration
	// Quiet leaves out the banner: devapi export prints its own lines.
	Quiet bool
	// Getenv reads the process environment (a map in tests).
	Getenv func(string) (string, bool)
}

// parseServeFlags reads the command line, with defaults from the
// environment that getenv reads.
func parseServeFlags(args []string, stderr io.Writer, getenv func(string) (string, bool)) (serveConfig, error) {
	root, err := moduleRoot()
	if err != nil {
		return serveConfig{}, err
	}
	cfg := serveConfig{Root: root, SiteDir: filepath.Join(root, "web"), Getenv: getenv}
	fs := flag.NewFlagSet("devapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", envOr(getenv, "DEV_API_ADDR", defaultAddr), "listen address, on loopback unless -allow-remote (also DEV_API_ADDR)")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", envOr(getenv, allowRemoteName, "") == "1",
		"let -addr be reachable from other machines (also "+allowRemoteName+"=1): the local API then serves them too")
	fs.StringVar(&cfg.SiteAddr, "site-addr", envOr(getenv, "DEV_SITE_ADDR", ""),
		"loopback address of the example site (also DEV_SITE_ADDR; default "+defaultSiteAddr+", or a free port when -addr asks for one)")
	fs.BoolVar(&cfg.SiteCrossOrigin, "site-cross-origin", envOr(getenv, "DEV_SITE_CROSS_ORIGIN", "") == "1",
		"point the example site at the API's own origin, with CORS, instead of /api on the site's origin (also DEV_SITE_CROSS_ORIGIN=1)")
	fs.StringVar(&cfg.Template, "template", filepath.Join(root, "template.yaml"), "SAM template to serve")
	fs.StringVar(&cfg.RIE, "rie", envOr(getenv, "RIE_BIN", filepath.Join(root, ".tools", "bin", "aws-lambda-rie")), "aws-lambda-rie binary (also RIE_BIN)")
	fs.StringVar(&cfg.VersityGW, "versitygw", envOr(getenv, "VERSITYGW_BIN", filepath.Join(root, ".tools", "bin", "versitygw")),
		"Versity's S3 gateway, the exports' local S3; without it POST /admin/exports answers 503 (also VERSITYGW_BIN)")
	fs.StringVar(&cfg.EnvFile, "env-file", filepath.Join(root, ".env"), "settings for the functions, if the file exists")
	fs.StringVar(&cfg.CacheDir, "cache", filepath.Join(root, ".cache", "devapi"), "folder for built binaries and the stand-in's state")
	fs.DurationVar(&cfg.IntegrationTimeout, "integration-timeout", gateway.IntegrationTimeout, "how long a route may take before 503")
	fs.DurationVar(&cfg.Poll, "poll", time.Second, "how often to look for changed sources (0: never)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, errUsage
	}
	if cfg.Template, err = filepath.Abs(cfg.Template); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "devapi: unexpected argument %q\n", fs.Arg(0))
		return cfg, errUsage
	}
	if err := checkAPIAddr(cfg.Addr, cfg.AllowRemote); err != nil {
		return cfg, err
	}
	if cfg.SiteAddr == "" {
		cfg.SiteAddr = siteAddrFor(cfg.Addr)
	}
	return cfg, nil
}

// allowRemoteName is the variable that does what -allow-remote does.
const allowRemoteName = "DEV_API_ALLOW_REMOTE"

// checkAPIAddr refuses an API address off loopback unless allowed: the
// local API is for this machine. Its functions run with the developer's
// settings (a real CLERK_SECRET_KEY, perhaps), and in stand-in mode the
// tokens it prints are for anyone who can reach it. ":3000" and
// "0.0.0.0:3000" listen on every interface, so they count as remote.
func checkAPIAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("API address %q is not host:port, such as %s", addr, defaultAddr)
	}
	if allowRemote || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("API address %s is not on loopback, so other machines could call the local API: use 127.0.0.1, or add -allow-remote (or %s=1) to mean it", addr, allowRemoteName)
}

// isLoopback reports whether host names this machine only: localhost or a
// loopback IP address.
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// siteAddrFor is the site's address when none is given: the default, or a
// free port when the API's address asks for one, so that programs and
// tests that run several local APIs at once never compete for 5173.
func siteAddrFor(apiAddr string) string {
	if _, port, err := net.SplitHostPort(apiAddr); err == nil && port == "0" {
		return "127.0.0.1:0"
	}
	return defaultSiteAddr
}

// dotenv reads the .env file; a missing file is no settings.
func dotenv(path string) (map[string]string, error) {
	values, err := godotenv.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return values, nil
}

// functionEnv is a function's environment. As under SAM local and in
// Lambda, it holds only the names that the function's template environment
// declares (Globals and its own): each takes the template's value (its
// localValues entry, for a resource's name), else the .env file's, else the
// process environment's. Neither adds a name, so a secret in .env reaches
// only the functions that declare it.
//
// standIn holds the stand-in mode's values, which follow the same rule,
// since a function without CLERK_SECRET_KEY or ADMIN_ORG_ID in the template
// has none in AWS and must not seem to work locally, except for the names
// in standInEverywhere.
func functionEnv(template, dotenv, standIn map[string]string, getenv func(string) (string, bool)) map[string]string {
	env := map[string]string{}
	for k, v := range template {
		env[k] = v
		if v, ok := localValues[k]; ok {
			env[k] = v
		}
		if v, ok := dotenv[k]; ok {
			env[k] = v
		}
		if v, ok := getenv(k); ok {
			env[k] = v
		}
	}
	for k, v := range standIn {
		if _, declared := template[k]; declared || standInEverywhere[k] {
			env[k] = v
		}
	}
	return env
}

// localValues replace template values that name a resource, which has a
// name only once deployed, where a function declares them (.env and the
// environment still win): the export bucket's, a bucket of the local S3
// (see localAWS), which gives EXPORT_STATE_MACHINE the state machine's
// local ARN.
var localValues = map[string]string{"EXPORT_BUCKET": "local-exports"}

// standInEverywhere are the stand-in's values that every function gets,
// declared or not. CLERK_API_URL says where Clerk is, and holds no secret:
// a function that does not declare it calls the real Backend API's default
// URL, and locally the stand-in stands in for that, so such a function
// never sends the stand-in's key to api.clerk.com.
var standInEverywhere = map[string]bool{"CLERK_API_URL": true}

// setting is a value from the process environment, else from .env.
func setting(name string, dotenv map[string]string, getenv func(string) (string, bool)) string {
	if v, ok := getenv(name); ok {
		return v
	}
	return dotenv[name]
}

// envOr is the named variable's value, or def when it is unset or empty.
func envOr(getenv func(string) (string, bool), name, def string) string {
	if v, _ := getenv(name); v != "" {
		return v
	}
	return def
}

// moduleRoot is the project's folder, where devapi finds template.yaml,
// web/ and .env.
func moduleRoot() (string, error) {
	root, err := projectroot.Dir()
	if err != nil {
		return "", fmt.Errorf("run devapi inside the project: %w", err)
	}
	return root, nil
}
