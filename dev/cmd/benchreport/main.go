// Command benchreport runs every benchmark of the project beside its peers,
// in one run, and writes the report docs/benchmarks.md with the chart
// docs/benchmarks.png (make bench; make bench-quick for a short run).
//
// Sections, each run only when named in -sections:
//
//	verify  token verification per token: the bare RSA floor, this
//	        project's verifier, clerk-sdk-go alone and its HTTP middleware,
//	        and Clerk's JavaScript SDK under Node
//	lambda  the authorizer under the Lambda Runtime Interface Emulator: cold
//	        start, warm invocations per second and zipped size, beside a
//	        function that does nothing
//	devapi  the local API (cmd/devapi): requests per second and latency at
//	        1, 8 and 64 clients, and every function's cold start
//	export  the user export (shared/export) at 10k and 100k users: users
//	        per second and peak memory
//
// Every process it starts is bounded in time and ended before it exits;
// all traffic stays on 127.0.0.1.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"clerk-lambda/internal/proctree"
	"clerk-lambda/internal/projectroot"
)

// bench is one run's settings and what its sections share.
type bench struct {
	root      string // the module root
	tmp       string // scratch space, removed at the end
	quick     bool
	benchstat string // the benchstat binary
	rie       string // the aws-lambda-rie binary
	log       io.Writer
}

// progress tells the person waiting what is being measured.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "benchreport: "+format+"\n", args...)
}

// pick returns the full or the quick setting.
func pick[T any](b *bench, full, quick T) T {
	if b.quick {
		return quick
	}
	return full
}

func main() {
	os.Exit(mainStatus(os.Args[1:], os.Stdout, os.Stderr))
}

// mainStatus runs the command line and returns the exit status.
func mainStatus(args []string, stdout, stderr io.Writer) int {
	opts, status, ok := parseOptions(args, stderr)
	if !ok {
		return status
	}
	root, err := projectroot.Dir()
	if err != nil {
		fmt.Fprintln(stderr, "benchreport: run benchreport inside the project:", err)
		return 1
	}
	_ = proctree.AdoptOrphans() // where it fails, orphans go to init and may outlive the run
	defer killDescendants()
	interrupted, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(interrupted, opts.limit)
	defer cancel()

	tmp, err := os.MkdirTemp("", "benchreport-")
	if err != nil {
		fmt.Fprintln(stderr, "benchreport:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	b := &bench{root: root, tmp: tmp, quick: opts.quick, benchstat: absIn(root, opts.benchstat), rie: absIn(root, opts.rie), log: stderr}
	report, chart := b.measure(ctx, opts.sections)
	if interrupted.Err() != nil {
		fmt.Fprintln(stderr, "benchreport: interrupted; every process it started is stopped and no report is written")
		return 130
	}
	if err := write(report, chart, absIn(root, opts.out)); err != nil {
		fmt.Fprintln(stderr, "benchreport:", err)
		return 1
	}
	var md bytes.Buffer
	_ = report.Write(&md)
	stdout.Write(md.Bytes())
	failed := 0
	for _, s := range report.Sections {
		if s.Err != nil {
			fmt.Fprintf(stderr, "benchreport: %s: %v\n", s.Title, s.Err)
			failed++
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// measure runs the chosen sections in order and builds the report.
func (b *bench) measure(ctx context.Context, chosen []string) (*Report, []bar) {
	start := time.Now()
	r := &Report{Generated: start, Machine: describeMachine(ctx, b.root), Mode: b.mode()}
	var chart []bar
	for _, name := range chosen {
		b.progress("section %s", name)
		var s Section
		switch name {
		case "verify":
			s, chart = b.verifySection(ctx)
		case "lambda":
			s = b.lambdaSection(ctx)
		case "devapi":
			s = b.devapiSection(ctx)
		case "export":
			s = b.exportSection(ctx)
		}
		if s.Err != nil && ctx.Err() != nil {
			s.Err = fmt.Errorf("%w (the run was stopped: %v)", s.Err, context.Cause(ctx))
		}
		r.Sections = append(r.Sections, s)
	}
	r.Elapsed = time.Since(start)
	b.progress("measured in %s", r.Elapsed.Round(time.Second))
	return r, chart
}

func (b *bench) mode() string {
	if b.quick {
		return "quick (`make bench-quick`: go test -count 2 -benchtime 200ms, 3 cold starts, 1 s load runs): for a developer's loop, not for comparing"
	}
	return "full (`make bench`: go test -count 6, 10 cold starts, 3 s load runs)"
}

// write saves the report, and the chart beside it when there is one.
func write(r *Report, chart []bar, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if len(chart) > 0 {
		png := strings.TrimSuffix(out, filepath.Ext(out)) + ".png"
		if err := drawChart(chart, png); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		for i := range r.Sections {
			if r.Sections[i].Image == chartMarker {
				r.Sections[i].Image = filepath.Base(png)
			}
		}
	}
	var md bytes.Buffer
	if err := r.Write(&md); err != nil {
		return err
	}
	return os.WriteFile(out, md.Bytes(), 0o644)
}

// absIn resolves a path given relative to the module root.
func absIn(root, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(root, path)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
