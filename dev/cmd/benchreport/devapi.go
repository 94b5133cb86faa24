package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"clerk-lambda/dev/emulator"
	"clerk-lambda/internal/proctree"
)

// routeFunctions are the functions behind the API's routes, with the route
// each cold start is invoked for.
var routeFunctions = []struct{ dir, method, path string }{
	{"public", "GET", "/public"},
	{"private", "GET", "/private"},
	{"me", "GET", "/me"},
	{"admin-users", "GET", "/admin/users"},
}

// concurrency is the number of clients of each load run.
var concurrency = []int{1, 8, 64}

// devapiSection measures the local API (cmd/devapi, make dev) under load,
// and the cold start of each function under the emulator.
func (b *bench) devapiSection(ctx context.Context) Section {
	s := Section{Title: "3. The local API (make dev)"}
	if _, err := os.Stat(b.rie); err != nil {
		s.Err = errNoRIE
		return s
	}
	runFor := pick(b, 3*time.Second, time.Second)
	missCap := pick(b, 3000, 400)
	s.How = fmt.Sprintf("cmd/devapi is built and started as `make dev` starts it, on 127.0.0.1 with a free port, its Clerk stand-in, "+
		"no .env and no file watching; it runs every function under the emulator behind its emulated HTTP API, whose authorizer "+
		"cache keeps an answer per token. A load loop in this program sends GET /private from 1, 8 and 64 concurrent clients, each "+
		"run after a warm-up at the same concurrency, for %s or at most %s requests on a cache miss (a token the API has not "+
		"seen, minted by the running stand-in, so every request invokes the authorizer) and at most %s on a cache hit (one token "+
		"throughout); every answer must be a 200. Latency is per request, at the client. Ratios are requests per second to the "+
		"1-client cache-hit run. Cold starts are measured as in section 2, each function with the environment it has in AWS "+
		"(secret key from SSM, Clerk on loopback) and an event for its route from an administrator; the minimal function is "+
		"the floor.", runFor, thousands(int64(missCap)), thousands(50_000))
	api, err := b.startDevapi(ctx)
	if err != nil {
		s.Err = err
		return s
	}
	loads, err := b.devapiLoads(ctx, api, runFor, missCap)
	api.stop()
	if err != nil {
		s.Err = fmt.Errorf("%w; the local API's last output: %s", err, lastLines([]byte(api.output.String()), 8))
		return s
	}
	s.Tables = append(s.Tables, loadTable(loads))
	b.progress("cold start of every function")
	cold, err := b.functionColdStarts(ctx)
	if err != nil {
		s.Err = err
		return s
	}
	s.Tables = append(s.Tables, cold)
	return s
}

// devapi is a running local API.
type devapi struct {
	p      *proctree.Process
	url    string
	cache  string
	output *tail
}

func (d *devapi) stop() { d.p.Stop(os.Interrupt, 15*time.Second) }

// listening matches the banner's first line, which names the address.
var listening = regexp.MustCompile(`local API on (http://127\.0\.0\.1:[0-9]+)`)

// startDevapi builds the local API and starts it in stand-in mode, and
// waits for its banner.
func (b *bench) startDevapi(ctx context.Context) (*devapi, error) {
	b.progress("building and starting cmd/devapi")
	bin := filepath.Join(b.tmp, "devapi")
	if _, err := run(ctx, 3*time.Minute, filepath.Join(b.root, "dev"), nil, "go", "build", "-o", bin, "./cmd/devapi"); err != nil {
		return nil, err
	}
	empty := filepath.Join(b.tmp, "empty.env")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		return nil, err
	}
	d := &devapi{cache: filepath.Join(b.tmp, "devapi-cache"), output: &tail{max: 8 << 10}}
	found := make(chan string, 1)
	watch := emulator.NewLines(func(line string) {
		if m := listening.FindStringSubmatch(line); m != nil {
			select {
			case found <- m[1]:
			default:
			}
		}
	})
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-poll", "0", "-cache", d.cache, "-env-file", empty,
		"-rie", b.rie, "-template", filepath.Join(b.root, "template.yaml"))
	cmd.Dir, cmd.Env = b.root, standInEnviron()
	cmd.Stdout = io.MultiWriter(watch, d.output)
	cmd.Stderr = d.output
	var err error
	if d.p, err = proctree.Start(cmd, nil); err != nil {
		return nil, fmt.Errorf("start cmd/devapi: %w", err)
	}
	select {
	case d.url = <-found:
		return d, nil
	case <-d.p.Done():
		return nil, fmt.Errorf("cmd/devapi exited before it listened: %s", d.output)
	case <-time.After(4 * time.Minute):
		d.stop()
		return nil, fmt.Errorf("cmd/devapi did not listen within 4 minutes: %s", d.output)
	case <-ctx.Done():
		d.stop()
		return nil, ctx.Err()
	}
}

// standInEnviron is this process's environment without Clerk and AWS
// settings, so the local API runs its stand-in and can reach nothing else.
func standInEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "CLERK_") || strings.HasPrefix(name, "AWS_") || name == "DEV_API_ADDR" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// loadRun is one load run's settings and result.
type loadRun struct {
	Clients int
	Miss    bool
	Result  loadResult
}

// devapiLoads runs GET /private at each concurrency, cache hit then miss.
func (b *bench) devapiLoads(ctx context.Context, api *devapi, runFor time.Duration, missCap int) ([]loadRun, error) {
	mint, err := api.minter()
	if err != nil {
		return nil, err
	}
	hit, err := mint.tokens(ctx, 1)
	if err != nil {
		return nil, err
	}
	url := api.url + "/private"
	var runs []loadRun
	for _, clients := range concurrency {
		warmup := 2 * clients
		b.progress("GET /private, %d clients: cache hit", clients)
		hitLoad := load{URL: url, Clients: clients, Token: func(int) string { return hit[0] }}
		hitLoad.MaxRequests, hitLoad.Duration = warmup, runFor
		if r := hitLoad.run(ctx); r.Failed > 0 {
			return nil, fmt.Errorf("GET /private with a valid token failed during warm-up: %s", r.FirstFailure)
		}
		hitLoad.MaxRequests = 50_000
		r := hitLoad.run(ctx)
		if r.Failed > 0 {
			return nil, fmt.Errorf("GET /private, %d clients, cache hit: %d of %d requests failed, the first with %s", clients, r.Failed, r.Requests, r.FirstFailure)
		}
		runs = append(runs, loadRun{Clients: clients, Result: r})

		b.progress("GET /private, %d clients: cache miss (minting %d tokens)", clients, warmup+missCap)
		fresh, err := mint.tokens(ctx, warmup+missCap)
		if err != nil {
			return nil, err
		}
		missLoad := load{URL: url, Clients: clients, Duration: runFor, MaxRequests: warmup,
			Token: func(i int) string { return fresh[i] }}
		if r := missLoad.run(ctx); r.Failed > 0 {
			return nil, fmt.Errorf("GET /private with fresh tokens failed during warm-up: %s", r.FirstFailure)
		}
		missLoad.MaxRequests = missCap
		missLoad.Token = func(i int) string { return fresh[warmup+i] }
		r = missLoad.run(ctx)
		if r.Failed > 0 {
			return nil, fmt.Errorf("GET /private, %d clients, cache miss: %d of %d requests failed, the first with %s", clients, r.Failed, r.Requests, r.FirstFailure)
		}
		runs = append(runs, loadRun{Clients: clients, Miss: true, Result: r})
	}
	return runs, nil
}

// loadTable shows each run's rate as a ratio to the 1-client hit first.
func loadTable(runs []loadRun) Table {
	t := Table{
		Caption: "GET /private through the local API:",
		Header:  []string{"clients", "authorizer cache", "× 1-client hit (req/s)", "requests/s", "p50", "p99", "requests"},
	}
	base := runs[0].Result.PerSec
	for _, r := range runs {
		cache := "hit (same token)"
		if r.Miss {
			cache = "miss (a new token each request)"
		}
		t.Rows = append(t.Rows, []string{fmt.Sprint(r.Clients), cache, fmt.Sprintf("%.2fx", r.Result.PerSec/base),
			thousands(int64(r.Result.PerSec)), millis(r.Result.P50), millis(r.Result.P99), thousands(int64(r.Result.Requests))})
	}
	return t
}

// standInMinter mints tokens from the running local API's stand-in, the
// way `devapi token` does: through the loopback token endpoint and key the
// local API records in its cache folder.
type standInMinter struct {
	URL string `json:"tokenUrl"`
	Key string `json:"key"`
}

func (d *devapi) minter() (*standInMinter, error) {
	data, err := os.ReadFile(filepath.Join(d.cache, "standin.json"))
	if err != nil {
		return nil, fmt.Errorf("the local API left no token endpoint: %w", err)
	}
	var m standInMinter
	if err := json.Unmarshal(data, &m); err != nil || !strings.HasPrefix(m.URL, "http://127.0.0.1:") || m.Key == "" {
		return nil, errors.New("the local API's standin.json does not name a loopback token endpoint")
	}
	return &m, nil
}

// tokens mints n distinct tokens for the stand-in's default user, two at a
// time.
func (m *standInMinter) tokens(ctx context.Context, n int) ([]string, error) {
	out := make([]string, n)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 2 {
				if out[i], errs[w] = m.token(ctx); errs[w] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mint tokens from the local API's stand-in: %w", err)
	}
	return out, nil
}

func (m *standInMinter) token(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader([]byte(`{"ttl":"15m"}`)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+m.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var answer struct {
		Token string `json:"token"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&answer); err != nil || answer.Token == "" {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, answer.Error)
	}
	return answer.Token, nil
}

// functionColdStarts measures every function's cold start under the
// emulator, beside the minimal function's.
func (b *bench) functionColdStarts(ctx context.Context) (Table, error) {
	k, err := startBackend()
	if err != nil {
		return Table{}, err
	}
	defer k.close()
	tok, err := k.token()
	if err != nil {
		return Table{}, err
	}
	auth, minimal, err := b.lambdaPair(ctx, k)
	if err != nil {
		return Table{}, err
	}
	fns := []emulator.Function{minimal, auth}
	payloads := map[string][]byte{minimal.Name: []byte(`{}`), auth.Name: authorizerEvent(tok)}
	checks := map[string]func([]byte) error{minimal.Name: checkAny, auth.Name: checkAuthorized}
	for _, r := range routeFunctions {
		pkg := "functions/" + r.dir
		if _, err := os.Stat(filepath.Join(b.root, pkg)); err != nil {
			continue
		}
		bin, err := b.hostBuild(ctx, pkg)
		if err != nil {
			return Table{}, err
		}
		name := r.dir + " (" + r.method + " " + r.path + ")"
		fns = append(fns, lambdaFunction(name, bin, k.env()))
		payloads[name] = routeEvent(r.method, r.path)
		checks[name] = checkOK
	}
	n := pick(b, 10, 3)
	cold, err := b.coldStarts(ctx, fns, payloads, checks, n)
	if err != nil {
		return Table{}, err
	}
	t := Table{
		Caption: fmt.Sprintf("Cold start of each function under the emulator, median of %d:", n),
		Header:  []string{"function", "× minimal", "process start to first answer", "min – max"},
	}
	floor := cold[minimal.Name].Median
	for _, fn := range fns {
		c := cold[fn.Name]
		name := fn.Name
		if fn.Name == minimal.Name {
			name = "minimal aws-lambda-go function (**floor**)"
		}
		t.Rows = append(t.Rows, []string{name, ratio(c.Median, floor), millis(c.Median), millis(c.Min) + " – " + millis(c.Max)})
	}
	return t, nil
}
