package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"clerk-lambda/dev/apispec"
	"clerk-lambda/dev/cmd/devapi/gateway"
	"clerk-lambda/dev/emulator"
	"clerk-lambda/internal/lockedio"
)

// devOrigin is the Vite dev server's origin: in stand-in mode the local API
// accepts it for CORS and as a token's azp, whatever the template's
// AllowedOrigins say, and the tokens it prints carry it as their azp.
const devOrigin = "http://localhost:5173"

// devServer is a running local API.
type devServer struct {
	cfg       serveConfig
	out       io.Writer
	api       *apispec.API
	fns       map[string]*builtFunction
	runner    *emulator.Runner
	gw        *gateway.Gateway
	http      *http.Server
	url       string
	standIn   *standIn
	aws       *localAWS // nil without the local S3
	stopWatch context.CancelFunc
	watchDone chan struct{}

	// The example site: its server and config.json, its origins (the
	// printed one first), and the origins the local API accepts beyond the
	// template's: the site's, and in stand-in mode the Vite dev server's.
	site         *http.Server
	siteConfig   siteConfig
	siteHeaders  map[string]string
	siteLn       net.Listener
	siteOrigins  []string
	localOrigins []string
}

// builtFunction is a function the API uses, with its binary.
type builtFunction struct {
	spec      *apispec.Function
	dir       string // Go package, relative to the module root
	bootstrap string
	hash      [sha256.Size]byte
	env       map[string]string
}

// start builds and starts everything, or fails with one clear error and
// nothing left running.
func start(ctx context.Context, cfg serveConfig, stdout io.Writer) (_ *devServer, err error) {
	// One writer for the request log and the functions keeps their lines whole.
	out := lockedio.NewWriter(stdout)
	s := &devServer{cfg: cfg, out: out}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.api, err = apispec.Load(cfg.Template); err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.RIE); err != nil {
		return nil, fmt.Errorf("the Lambda Runtime Interface Emulator is not at %s: run make dev (it builds it) or set RIE_BIN", cfg.RIE)
	}
	settings, err := dotenv(cfg.EnvFile)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%s is already in use (another make dev?): stop it, or pick another address with -addr or DEV_API_ADDR", cfg.Addr)
		}
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	siteLn, err := listenSite(cfg.SiteAddr)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			siteLn.Close()
		}
	}()
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{ReadHeaderTimeout: 10 * time.Second}
	s.siteOrigins = siteOrigins(siteLn.Addr())
	s.localOrigins = s.siteOrigins
	var standInEnv map[string]string
	if setting("CLERK_SECRET_KEY", settings, cfg.Getenv) == "" {
		if s.standIn, err = startStandIn(cfg.CacheDir, s.siteOrigins); err != nil {
			return nil, err
		}
		standInEnv = s.standIn.env()
		s.localOrigins = appendNew([]string{devOrigin}, s.siteOrigins...)
		if replaced := replacedByStandIn(standInEnv, settings, cfg.Getenv); len(replaced) > 0 {
			fmt.Fprintf(out, "stand-in mode (no CLERK_SECRET_KEY): the stand-in's values replace your %s\n", strings.Join(replaced, ", "))
		}
	}
	s.acceptLocalOrigins()
	if err := s.startSite(siteLn, settings); err != nil {
		return nil, err
	}
	if s.aws, err = startAWS(cfg, func(line string) { fmt.Fprintln(out, line) }); err != nil {
		return nil, err
	}
	if err := s.prepareFunctions(settings, standInEnv); err != nil {
		return nil, err
	}
	if s.aws != nil {
		if err := s.aws.checkMachine(s.fns); err != nil {
			return nil, err
		}
		if err := s.aws.createBuckets(ctx, s.fns); err != nil {
			return nil, err
		}
	}
	if err := s.buildAll(ctx); err != nil {
		return nil, err
	}
	if err := s.checkAll(ctx); err != nil {
		return nil, err
	}
	s.runner = emulator.NewRunner(emulator.Config{RIE: cfg.RIE, Output: out})
	for _, f := range s.fns {
		s.runner.Set(f.emulated())
	}
	if s.aws != nil {
		s.aws.serve(s.runner, func(line string) { fmt.Fprintf(out, "%s %s\n", time.Now().Format("15:04:05"), line) })
	}
	s.gw = gateway.New(gateway.Config{
		API:                s.api,
		Invoker:            s.runner,
		IntegrationTimeout: cfg.IntegrationTimeout,
		Log: func(e gateway.Entry) {
			fmt.Fprintf(out, "%s %s\n", time.Now().Format("15:04:05"), e)
		},
		Warn: func(msg string) {
			fmt.Fprintf(out, "%s warning: %s\n", time.Now().Format("15:04:05"), msg)
		},
	})
	s.http.Handler = s.gw
	go func() { _ = s.http.Serve(ln) }()
	s.serveSite()
	if !cfg.Quiet {
		if err := s.printBanner(); err != nil {
			return nil, err
		}
	}
	if cfg.Poll > 0 {
		s.watch(cfg.Poll)
	}
	return s, nil
}

// replacedByStandIn lists the settings, from .env or the environment, that
// stand-in mode sets otherwise.
func replacedByStandIn(standInEnv, dotenv map[string]string, getenv func(string) (string, bool)) []string {
	var names []string
	for name, v := range standInEnv {
		if own := setting(name, dotenv, getenv); own != "" && own != v {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// URL is the local API's base URL.
func (s *devServer) URL() string { return s.url }

// Close stops serving and ends every process the local API started.
func (s *devServer) Close() error {
	if s.stopWatch != nil {
		s.stopWatch()
		<-s.watchDone
	}
	for _, srv := range []*http.Server{s.http, s.site} {
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
			_ = srv.Close()
		}
	}
	// The background invocations end before the functions stop.
	if s.aws != nil {
		s.aws.Close()
	}
	if s.runner != nil {
		_ = s.runner.Close()
	}
	if s.standIn != nil {
		s.standIn.Close()
	}
	return nil
}

// acceptLocalOrigins adds the local origins to the CORS allowed origins, so
// that the example site works out of the box. An API without CORS stays
// without, as it would be in AWS, and "*" already allows them.
func (s *devServer) acceptLocalOrigins() {
	c := s.api.CORS
	if c == nil || contains(c.AllowOrigins, "*") {
		return
	}
	c.AllowOrigins = appendNew(c.AllowOrigins, s.localOrigins...)
}

// prepareFunctions finds every function of the template, routed or not
// (POST /admin/exports invokes ExportUsersFunction), and their
// environments.
func (s *devServer) prepareFunctions(settings, standInEnv map[string]string) error {
	for _, r := range s.api.Routes {
		names := []string{r.Function}
		if r.Authorizer != nil {
			names = append(names, r.Authorizer.Function)
		}
		for _, name := range names {
			if s.api.Functions[name] == nil {
				return fmt.Errorf("%s is routed but is not an AWS::Serverless::Function of the template", name)
			}
		}
	}
	s.fns = map[string]*builtFunction{}
	templateDir := filepath.Dir(s.cfg.Template)
	for name, spec := range s.api.Functions {
		dir, err := filepath.Rel(s.cfg.Root, filepath.Join(templateDir, spec.Dir))
		if err != nil || strings.HasPrefix(dir, "..") {
			return fmt.Errorf("%s: %s is outside the module", name, spec.Dir)
		}
		if st, err := os.Stat(filepath.Join(s.cfg.Root, dir)); err != nil || !st.IsDir() {
			return fmt.Errorf("%s: its code folder %s does not exist", name, dir)
		}
		env := functionEnv(spec.Env, settings, standInEnv, s.cfg.Getenv)
		// An empty list accepts any azp, so only a list is extended.
		if parties := env["CLERK_AUTHORIZED_PARTIES"]; strings.TrimSpace(parties) != "" {
			env["CLERK_AUTHORIZED_PARTIES"] = withItems(parties, s.localOrigins)
		}
		if s.aws != nil {
			s.aws.addEnv(env)
		}
		s.fns[name] = &builtFunction{
			spec:      spec,
			dir:       dir,
			bootstrap: filepath.Join(s.cfg.CacheDir, "bin", name, "bootstrap"),
			env:       env,
		}
	}
	return nil
}

// buildAll builds every used function, two at a time.
func (s *devServer) buildAll(ctx context.Context) error {
	names := s.functionNames()
	fmt.Fprintf(s.out, "building %d functions for this machine (the first build takes about a minute): %s\n", len(names), strings.Join(names, ", "))
	errs := make([]error, len(names))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			_, errs[i] = s.build(ctx, s.fns[name])
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// build compiles one function and reports whether its binary changed.
func (s *devServer) build(ctx context.Context, f *builtFunction) (changed bool, err error) {
	if err := emulator.Build(ctx, s.cfg.Root, f.dir, f.bootstrap); err != nil {
		return false, fmt.Errorf("%s: %w", f.spec.Name, err)
	}
	data, err := os.ReadFile(f.bootstrap)
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(data)
	changed = sum != f.hash
	f.hash = sum
	return changed, nil
}

// checkAll runs each function's own start-up check once (bootstrap -check,
// see shared/startup) with the environment it will have, so that a bad
// setting stops make dev with the function's one line instead of every
// request answering 500. A function that is not built on shared/startup
// prints no report; it is said so and started unchecked.
func (s *devServer) checkAll(ctx context.Context) error {
	for _, name := range s.functionNames() {
		checked, err := s.fns[name].check(ctx)
		if err != nil {
			return err
		}
		if !checked {
			fmt.Fprintf(s.out, "%s has no start-up check (its main does not use shared/startup): its settings are not checked before it serves\n", name)
		}
	}
	return nil
}

// check runs the function's start-up check, and reports whether it has one.
func (f *builtFunction) check(ctx context.Context) (bool, error) {
	r, ok := emulator.Check(ctx, f.bootstrap, f.env)
	if ok && r.Error != "" {
		return true, fmt.Errorf("%s will not start: %s (fix it in .env, the environment or template.yaml)", f.spec.Name, r.Error)
	}
	return ok, nil
}

func (f *builtFunction) emulated() emulator.Function {
	return emulator.Function{
		Name:      f.spec.Name,
		Bootstrap: f.bootstrap,
		Env:       f.env,
		Timeout:   f.spec.Timeout,
		MemoryMB:  f.spec.MemoryMB,
	}
}

func (s *devServer) functionNames() []string {
	names := make([]string, 0, len(s.fns))
	for name := range s.fns {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

// appendNew appends the items that list does not hold yet.
func appendNew(list []string, items ...string) []string {
	for _, item := range items {
		if !contains(list, item) {
			list = append(list, item)
		}
	}
	return list
}

// withItems adds items to a comma-separated list, each unless it is there.
func withItems(list string, items []string) string {
	var have []string
	for _, v := range strings.Split(list, ",") {
		if v = strings.TrimSpace(v); v != "" {
			have = append(have, v)
		}
	}
	return strings.Join(appendNew(have, items...), ",")
}
