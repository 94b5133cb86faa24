package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"clerk-lambda/dev/emulator"
)

// minimalFn is the fixture that does nothing: the floor for any Go Lambda.
const minimalFn = "dev/cmd/benchreport/testdata/nopfn"

// fiveMB is the zipped-size target: 5 MB, in bytes.
const fiveMB = 5_000_000

// lambdaSection measures the authorizer as Lambda runs it, beside the
// minimal function: cold start and warm invocations under the emulator, and
// the deployment package's size.
func (b *bench) lambdaSection(ctx context.Context) Section {
	s := Section{
		Title: "2. The authorizer as Lambda runs it",
		How: "Each function is built for this machine as Lambda builds it (`CGO_ENABLED=0 go build -tags lambda.norpc -trimpath " +
			"-ldflags='-s -w'`) and run as the bootstrap of the AWS Lambda Runtime Interface Emulator (.tools/bin/aws-lambda-rie) on " +
			"loopback. A cold start is the time from starting the emulator process to the first answer to an invocation, including " +
			"the emulator's own start (the emulator starts the function on that first invocation, as Lambda does). For the authorizer the first answer needs everything a real cold start does: its settings, the " +
			"secret key from SSM (an AWS JSON 1.1 GetParameter endpoint on loopback, reached through AWS_ENDPOINT_URL_SSM with " +
			"dummy credentials), Clerk's JWKS (the stand-in on loopback) and a fresh token verified and allowed. The minimal function " +
			"(" + minimalFn + ") is an aws-lambda-go handler that returns an empty object. The two are started in turn. Warm " +
			"invocations are sequential invocations of one warm instance with the same event (for the authorizer, a repeated token). " +
			"Sizes are of the linux/arm64 build the template deploys, stripped, and of that binary zipped (Deflate) as the " +
			"deployment package.",
	}
	if _, err := os.Stat(b.rie); err != nil {
		s.Err = errNoRIE
		return s
	}
	k, err := startBackend()
	if err != nil {
		s.Err = err
		return s
	}
	defer k.close()
	b.progress("building the authorizer and the minimal function")
	auth, minimal, err := b.lambdaPair(ctx, k)
	if err != nil {
		s.Err = err
		return s
	}
	tok, err := k.token()
	if err != nil {
		s.Err = err
		return s
	}
	n := pick(b, 10, 3)
	b.progress("%d cold starts of each", n)
	ssmBefore := k.ssm.calls.Load()
	cold, err := b.coldStarts(ctx, []emulator.Function{minimal, auth},
		map[string][]byte{minimal.Name: []byte(`{}`), auth.Name: authorizerEvent(tok)},
		map[string]func([]byte) error{minimal.Name: checkAny, auth.Name: checkAuthorized}, n)
	if err != nil {
		s.Err = err
		return s
	}
	if calls := k.ssm.calls.Load() - ssmBefore; calls < int64(n) {
		s.Err = fmt.Errorf("the authorizer read its secret key from SSM %d times in %d cold starts: it did not start as in AWS", calls, n)
		return s
	}
	b.progress("warm invocations")
	warmFor := pick(b, 3*time.Second, time.Second)
	warmMin, err := b.warmRate(ctx, minimal, []byte(`{}`), checkAny, warmFor)
	if err != nil {
		s.Err = err
		return s
	}
	warmAuth, err := b.warmRate(ctx, auth, authorizerEvent(tok), checkAuthorized, warmFor)
	if err != nil {
		s.Err = err
		return s
	}
	b.progress("linux/arm64 builds and their zipped size")
	sizes, err := b.packageSizes(ctx, map[string]string{minimal.Name: minimalFn, auth.Name: "functions/authorizer"})
	if err != nil {
		s.Err = err
		return s
	}
	s.Tables, s.Targets = lambdaTables(cold[minimal.Name], cold[auth.Name], warmMin, warmAuth, sizes[minimal.Name], sizes[auth.Name])
	return s
}

// lambdaPair builds the authorizer and the minimal function for this
// machine, with the authorizer's environment as in AWS.
func (b *bench) lambdaPair(ctx context.Context, k *backend) (auth, minimal emulator.Function, err error) {
	authBin, err := b.hostBuild(ctx, "functions/authorizer")
	if err != nil {
		return auth, minimal, err
	}
	minBin, err := b.hostBuild(ctx, minimalFn)
	if err != nil {
		return auth, minimal, err
	}
	return lambdaFunction("authorizer", authBin, k.env()), lambdaFunction("minimal function", minBin, nil), nil
}

// hostBuild builds a function's package for this machine, as Lambda's
// provided runtime runs it. A package already built in this run is not
// built again.
func (b *bench) hostBuild(ctx context.Context, pkg string) (string, error) {
	out := filepath.Join(b.tmp, "host", filepath.Base(pkg), "bootstrap")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	env := append(os.Environ(), "CGO_ENABLED=0")
	if _, err := run(ctx, 3*time.Minute, filepath.Join(b.root, pkg), env, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, "."); err != nil {
		return "", err
	}
	return out, nil
}

// warm is a run of sequential invocations of a warm instance.
type warm struct {
	N        int
	PerSec   float64
	P50, P99 float64 // seconds
}

// warmRate starts one instance, warms it with one invocation, then invokes
// it one call after another for the given time.
func (b *bench) warmRate(ctx context.Context, fn emulator.Function, payload []byte, check func([]byte) error, d time.Duration) (warm, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	e, err := b.startEmulated(fn)
	if err != nil {
		return warm{}, err
	}
	defer e.Stop()
	if _, err := e.call(ctx, payload, check); err != nil {
		return warm{}, fmt.Errorf("%s: %w", fn.Name, err)
	}
	var lat []time.Duration
	const maxCalls = 200_000
	start := time.Now()
	for time.Since(start) < d && len(lat) < maxCalls {
		took, err := e.call(ctx, payload, check)
		if err != nil {
			return warm{}, fmt.Errorf("%s: warm invocation: %w", fn.Name, err)
		}
		lat = append(lat, took)
	}
	elapsed := time.Since(start)
	secs := durations(lat)
	return warm{N: len(lat), PerSec: float64(len(lat)) / elapsed.Seconds(), P50: percentile(secs, 50), P99: percentile(secs, 99)}, nil
}

// pkgSize is a function's linux/arm64 binary, stripped, and its zip.
type pkgSize struct {
	Binary, Zipped int64
}

// packageSizes cross-builds each function as the template does and zips it.
func (b *bench) packageSizes(ctx context.Context, pkgs map[string]string) (map[string]pkgSize, error) {
	out := map[string]pkgSize{}
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	for name, pkg := range pkgs {
		bin := filepath.Join(b.tmp, "arm64", filepath.Base(pkg), "bootstrap")
		if _, err := run(ctx, 3*time.Minute, filepath.Join(b.root, pkg), env, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bin, "."); err != nil {
			return nil, err
		}
		st, err := os.Stat(bin)
		if err != nil {
			return nil, err
		}
		zipped, err := zipSize(bin)
		if err != nil {
			return nil, err
		}
		out[name] = pkgSize{Binary: st.Size(), Zipped: zipped}
	}
	return out, nil
}

// zipSize is the size of a deployment package holding the file as an
// executable named bootstrap, zipped in memory.
func zipSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(w, f); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}

// lambdaTables puts each figure beside the minimal function's, ratio first.
func lambdaTables(coldMin, coldAuth coldStats, warmMin, warmAuth warm, sizeMin, sizeAuth pkgSize) ([]Table, []Target) {
	cold := Table{
		Caption: fmt.Sprintf("Cold start under the emulator, median of %d:", coldAuth.N),
		Header:  []string{"function", "× minimal", "process start to first answer", "min – max"},
	}
	for _, r := range []struct {
		name string
		c    coldStats
	}{{"minimal aws-lambda-go function (**floor**)", coldMin}, {"authorizer (SSM, JWKS, fresh token)", coldAuth}} {
		cold.Rows = append(cold.Rows, []string{r.name, ratio(r.c.Median, coldMin.Median), millis(r.c.Median),
			millis(r.c.Min) + " – " + millis(r.c.Max)})
	}
	warmT := Table{
		Caption: "Warm invocations through the emulator, one after another:",
		Header:  []string{"function", "× minimal (time per call)", "invocations/s", "p50", "p99", "calls"},
	}
	for _, r := range []struct {
		name string
		w    warm
	}{{"minimal aws-lambda-go function (**floor**)", warmMin}, {"authorizer, repeated token", warmAuth}} {
		warmT.Rows = append(warmT.Rows, []string{r.name, ratio(warmMin.PerSec, r.w.PerSec), thousands(int64(r.w.PerSec)),
			millis(r.w.P50), millis(r.w.P99), thousands(int64(r.w.N))})
	}
	size := Table{
		Caption: "Deployment package (linux/arm64, stripped):",
		Header:  []string{"function", "× minimal (zipped)", "zipped", "binary"},
	}
	for _, r := range []struct {
		name string
		s    pkgSize
	}{{"minimal aws-lambda-go function (**floor**)", sizeMin}, {"authorizer", sizeAuth}} {
		size.Rows = append(size.Rows, []string{r.name, ratio(float64(r.s.Zipped), float64(sizeMin.Zipped)),
			bytesIEC(r.s.Zipped) + " (" + thousands(r.s.Zipped) + " B)", bytesIEC(r.s.Binary)})
	}
	coldRatio := coldAuth.Median / coldMin.Median
	targets := []Target{
		{Name: "authorizer cold start", Goal: "within 2x of the minimal function's",
			Measured: fmt.Sprintf("%.2fx (%s vs %s)", coldRatio, millis(coldAuth.Median), millis(coldMin.Median)), Met: coldRatio <= 2},
		{Name: "authorizer zipped size", Goal: "under 5 MB",
			Measured: fmt.Sprintf("%s B (%s)", thousands(sizeAuth.Zipped), bytesIEC(sizeAuth.Zipped)), Met: sizeAuth.Zipped < fiveMB},
	}
	return []Table{cold, warmT, size}, targets
}
