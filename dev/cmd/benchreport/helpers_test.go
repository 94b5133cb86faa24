package main

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"clerk-lambda/internal/proctree"
	"clerk-lambda/internal/projectroot"
)

func TestSSMEndpointWithTheSDK(t *testing.T) {
	t.Parallel()
	e, err := startSSM("/clerk/secret-key", "sk_test_abc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	client := ssm.New(ssm.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret", ""),
	})
	ctx := context.Background()
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/clerk/secret-key"), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Parameter.Value); got != "sk_test_abc" {
		t.Errorf("value = %q", got)
	}
	_, err = client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/other")})
	if err == nil || !strings.Contains(err.Error(), "ParameterNotFound") {
		t.Errorf("unknown parameter: %v, want ParameterNotFound", err)
	}
	if n := e.calls.Load(); n != 2 {
		t.Errorf("%d calls counted, want 2", n)
	}
}

func TestLoadIsBoundedAndCountsFailures(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.Header.Get("Authorization") == "Bearer bad" {
			http.Error(w, "denied", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	r := load{URL: srv.URL, Clients: 4, Duration: time.Minute, MaxRequests: 50, Token: func(i int) string {
		if i%10 == 0 {
			return "bad"
		}
		return "good"
	}}.run(context.Background())
	if r.Requests != 50 || served.Load() != 50 {
		t.Errorf("sent %d requests, server saw %d; want 50 each", r.Requests, served.Load())
	}
	if r.Failed != 5 || !strings.HasPrefix(r.FirstFailure, "status 401: denied") {
		t.Errorf("failed %d, first %q; want 5 failures with status 401", r.Failed, r.FirstFailure)
	}
	if r.PerSec <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
		t.Errorf("rate %v, p50 %v, p99 %v", r.PerSec, r.P50, r.P99)
	}
}

func TestZipSize(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	content := bytes.Repeat([]byte("not really a binary "), 5000)
	if err := os.WriteFile(bin, content, 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := zipSize(bin)
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 || n >= int64(len(content)) {
		t.Errorf("zipped %d bytes into %d", len(content), n)
	}
	if _, err := zipSize(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("no error for a missing file")
	}
}

// TestZipHoldsAnExecutableBootstrap reads back what zipSize measures.
func TestZipHoldsAnExecutableBootstrap(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	if _, err := zw.CreateHeader(h); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil || len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 {
		t.Fatalf("zip = %v, %v", zr, err)
	}
}

func TestDrawChart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "chart.png")
	err := drawChart([]bar{
		{Label: "floor: crypto/rsa", Sec: 32e-6, Ratio: 1},
		{Label: "this project, repeated", Sec: 1e-6, Ratio: 1.0 / 32},
		{Label: "clerk-sdk-go middleware", Sec: 90e-6, Ratio: 90.0 / 32},
	}, path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 200 {
		t.Errorf("chart is %dx%d", b.Dx(), b.Dy())
	}
	for i, want := range []string{"32.0 µs  (floor)", "1.00 µs  (32.0x cheaper than the floor)", "90.0 µs  (2.81x the floor)"} {
		if got := barText([]bar{{Sec: 32e-6, Ratio: 1}, {Sec: 1e-6, Ratio: 1.0 / 32}, {Sec: 90e-6, Ratio: 90.0 / 32}}[i], i); got != want {
			t.Errorf("bar %d label = %q, want %q", i, got, want)
		}
	}
}

func TestTailKeepsTheEnd(t *testing.T) {
	t.Parallel()
	tl := &tail{max: 8}
	tl.Write([]byte("0123456789"))
	tl.Write([]byte("ab"))
	if got := tl.String(); got != "456789ab" {
		t.Errorf("tail = %q", got)
	}
	if got := (&tail{max: 8}).String(); got != "(no output)" {
		t.Errorf("empty tail = %q", got)
	}
}

// TestListeningBanner reads the local API's address from its banner, as
// startDevapi does line by line.
func TestListeningBanner(t *testing.T) {
	t.Parallel()
	if m := listening.FindStringSubmatch("local API on http://127.0.0.1:4000: 5 routes"); m == nil || m[1] != "http://127.0.0.1:4000" {
		t.Errorf("listening matched %q", m)
	}
}

func TestStandInEnvironKeepsNoClerkOrAWSSetting(t *testing.T) {
	t.Setenv("CLERK_SECRET_KEY", "sk_live_real")
	t.Setenv("AWS_PROFILE", "production")
	for _, kv := range standInEnviron() {
		if strings.HasPrefix(kv, "CLERK_") || strings.HasPrefix(kv, "AWS_") {
			t.Errorf("the local API's environment keeps %s", kv)
		}
	}
}

// TestColdStartLeavesNoProcess runs the minimal function under the real
// emulator, when make tools has built it, and checks that nothing it
// started outlives the measurement.
func TestColdStartLeavesNoProcess(t *testing.T) {
	root, err := projectroot.Dir()
	if err != nil {
		t.Fatal(err)
	}
	rie := absIn(root, envOr("RIE_BIN", ".tools/bin/aws-lambda-rie"))
	if _, err := os.Stat(rie); err != nil {
		t.Skip("the Lambda Runtime Interface Emulator is not built: run make tools")
	}
	b := &bench{root: root, tmp: t.TempDir(), rie: rie, log: &strings.Builder{}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := b.hostBuild(ctx, minimalFn)
	if err != nil {
		t.Fatal(err)
	}
	fn := lambdaFunction("minimal", bin, nil)
	d, err := b.coldStart(ctx, fn, []byte(`{}`), func(out []byte) error {
		if string(out) != "{}" {
			return errors.New("answered " + string(out))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 {
		t.Errorf("cold start took %v", d)
	}
	if left := proctree.Descendants(os.Getpid()); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}
}
