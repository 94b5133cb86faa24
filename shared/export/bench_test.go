package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/export/exporttest"
)

// benchChildEnv, when set, turns the test binary into the exporting process
// of BenchmarkExport: it runs one export as the environment describes and
// prints a benchResult. The Clerk stand-in and the S3 server live in other
// processes, so the child's peak RSS is the export's alone.
const benchChildEnv = "EXPORT_BENCH_CHILD"

// benchCheckpointEnv, when set with benchChildEnv, names a file: the child
// then runs one slice of one part from the checkpoint in it (none: a new
// run) and leaves the next checkpoint there, or removes it once done.
const benchCheckpointEnv = "EXPORT_BENCH_CHECKPOINT"

// benchResult is what the exporting process reports.
type benchResult struct {
	// Manifest is the run's once it is done; Done is false after a slice
	// that left a checkpoint.
	Manifest Manifest `json:"manifest"`
	Done     bool     `json:"done"`
	// PeakRSS is the process's peak resident set size in bytes: VmHWM from
	// /proc/self/status on Linux. The rusage of a child (ProcessState's
	// SysUsage) is no use there: Go starts children with vfork, and Linux
	// carries the parent's peak RSS over into the child's ru_maxrss at exec,
	// so it would report the stand-in's memory too.
	PeakRSS int64 `json:"peak_rss"`
}

// benchUsersEnv lists the user counts BenchmarkExport runs, such as
// "10000,100000,300000"; unset means 10,000 and 100,000.
const benchUsersEnv = "EXPORT_BENCH_USERS"

// BenchmarkExport exports 10,000 and 100,000 users from the Clerk stand-in
// to the S3 server, each run in a process of its own, and reports users/s
// (wall time of the exporting process, start to exit) and its peak RSS
// (peak-RSS-MiB). It needs the S3 server `make tools` builds:
//
//	VERSITYGW_BIN=.tools/bin/versitygw go test -run '^$' -bench Export -benchtime 1x ./shared/export/
func BenchmarkExport(b *testing.B) {
	srv := exporttest.Need(b, s3srv)
	sizes, err := benchSizes(os.Getenv(benchUsersEnv))
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range sizes {
		fake := exporttest.Clerk(b, n)
		for _, sliced := range []bool{false, true} {
			name := fmt.Sprintf("users=%d", n)
			if sliced {
				name += "/sliced"
			}
			b.Run(name, func(b *testing.B) {
				bucket := srv.Bucket(b)
				var (
					elapsed        time.Duration
					peak           int64
					runs, children int
				)
				for b.Loop() {
					env := append(os.Environ(), benchChildEnv+"=1",
						"CLERK_API_URL="+fake.URL(), "CLERK_SECRET_KEY="+fake.SecretKey(), "EXPORT_BUCKET="+bucket)
					for k, v := range srv.Env() {
						env = append(env, k+"="+v)
					}
					if sliced {
						env = append(env, benchCheckpointEnv+"="+filepath.Join(b.TempDir(), "checkpoint.json"))
					}
					r, took, procs := benchRun(b, env)
					if r.Manifest.Users != int64(n) {
						b.Fatalf("the export holds %d users, want %d", r.Manifest.Users, n)
					}
					elapsed += took
					peak = max(peak, r.PeakRSS)
					runs++
					children += procs
				}
				b.ReportMetric(float64(n*runs)/elapsed.Seconds(), "users/s")
				b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
				b.ReportMetric(float64(children)/float64(runs), "slices")
			})
		}
	}
}

// benchRun runs the exporting process with env until its run is done, one
// process per slice when env names a checkpoint file, and returns the last
// result, with the largest peak RSS of them, the wall time and how many
// processes ran.
func benchRun(b *testing.B, env []string) (benchResult, time.Duration, int) {
	var (
		last    benchResult
		peak    int64
		elapsed time.Duration
	)
	for procs := 1; ; procs++ {
		cmd := exec.Command(os.Args[0])
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		out, err := cmd.Output()
		elapsed += time.Since(start)
		if err != nil {
			b.Fatalf("export process: %v\n%s", err, stderr.String())
		}
		if err := json.Unmarshal(out, &last); err != nil || last.PeakRSS <= 0 {
			b.Fatalf("export process printed %q; want its result and its peak RSS", out)
		}
		peak = max(peak, last.PeakRSS)
		if last.Done || procs > maxParts {
			last.PeakRSS = peak
			return last, elapsed, procs
		}
	}
}

// benchSizes parses a comma-separated list of user counts.
func benchSizes(list string) ([]int, error) {
	if list == "" {
		return []int{10_000, 100_000}, nil
	}
	var sizes []int
	for f := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a user count", benchUsersEnv, f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// peakRSS reads this process's peak resident set size, in bytes.
func peakRSS() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS (Linux only): %w", err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kib << 10, err
		}
	}
	return 0, errors.New("peak RSS: no VmHWM in /proc/self/status")
}

// benchChild is the exporting process: a Backend API client and an S3
// client from the default AWS configuration, as the Lambda builds them.
func benchChild() int {
	ctx := context.Background()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "export:", err)
		return 1
	}
	users, err := clerkapi.New(clerkapi.Config{
		SecretKey: func(context.Context) (string, error) { return os.Getenv("CLERK_SECRET_KEY"), nil },
		URL:       os.Getenv("CLERK_API_URL"),
	})
	if err != nil {
		return fail(err)
	}
	client, err := NewS3Client(ctx)
	if err != nil {
		return fail(err)
	}
	cfg := Config{S3: client, Bucket: os.Getenv("EXPORT_BUCKET")}
	var r benchResult
	if file := os.Getenv(benchCheckpointEnv); file != "" {
		r, err = benchSlice(ctx, users, cfg, file)
	} else {
		r.Manifest, err = Run(ctx, users, cfg)
		r.Done = true
	}
	if err != nil {
		return fail(err)
	}
	if r.PeakRSS, err = peakRSS(); err != nil {
		return fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return fail(err)
	}
	return 0
}

// benchSlice runs one slice of one part from the checkpoint in file, and
// leaves the next there (or none, once the run is done).
func benchSlice(ctx context.Context, users Users, cfg Config, file string) (benchResult, error) {
	var from *Checkpoint
	if b, err := os.ReadFile(file); err == nil {
		from = &Checkpoint{}
		if err := json.Unmarshal(b, from); err != nil {
			return benchResult{}, err
		}
	}
	out, err := Slice(ctx, users, cfg, from, Budget{Parts: 1})
	if err != nil {
		return benchResult{}, err
	}
	if out.Done {
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return benchResult{}, err
		}
		return benchResult{Manifest: out.Manifest, Done: true}, nil
	}
	b, err := json.Marshal(out.Checkpoint)
	if err != nil {
		return benchResult{}, err
	}
	return benchResult{}, os.WriteFile(file, b, 0o600)
}
