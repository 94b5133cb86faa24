package export

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/export/exporttest"
)

// benchChildEnv, when set, turns the test binary into the exporting process
// of BenchmarkExport: it runs one export as the environment describes and
// prints the manifest. The Clerk stand-in and the S3 server live in other
// processes, so the child's peak RSS is the export's alone.
const benchChildEnv = "EXPORT_BENCH_CHILD"

// BenchmarkExport exports 10,000 and 100,000 users from the Clerk stand-in
// to the S3 server, each run in a process of its own, and reports users/s
// and the exporting process's peak RSS (peak-RSS-MiB). Run it with
//
//	make bench-export
func BenchmarkExport(b *testing.B) {
	srv := exporttest.Need(b, s3srv)
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			fake := exporttest.Clerk(b, n)
			bucket := srv.Bucket(b)
			var (
				elapsed time.Duration
				peak    int64
				runs    int
			)
			for b.Loop() {
				cmd := exec.Command(os.Args[0])
				cmd.Env = append(os.Environ(), benchChildEnv+"=1",
					"CLERK_API_URL="+fake.URL(), "CLERK_SECRET_KEY="+fake.SecretKey(), "EXPORT_BUCKET="+bucket)
				for k, v := range srv.Env() {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
				start := time.Now()
				out, err := cmd.CombinedOutput()
				elapsed += time.Since(start)
				if err != nil {
					b.Fatalf("export process: %v\n%s", err, out)
				}
				var m Manifest
				if err := json.Unmarshal(out, &m); err != nil || m.Users != int64(n) {
					b.Fatalf("export process printed %q; want a manifest of %d users", out, n)
				}
				peak = max(peak, maxRSS(cmd.ProcessState))
				runs++
			}
			b.ReportMetric(float64(n*runs)/elapsed.Seconds(), "users/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
		})
	}
}

// maxRSS is a finished process's peak resident set size in bytes.
func maxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" { // bytes there, KiB on Linux
		return ru.Maxrss
	}
	return ru.Maxrss << 10
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
	m, err := Run(ctx, users, Config{S3: client, Bucket: os.Getenv("EXPORT_BUCKET")})
	if err != nil {
		return fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(m); err != nil {
		return fail(err)
	}
	return 0
}
