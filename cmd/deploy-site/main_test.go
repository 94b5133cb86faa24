package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"clerk-lambda/shared/export/exporttest"
)

var s3srv *exporttest.Server

func TestMain(m *testing.M) { os.Exit(exporttest.Main(m, &s3srv)) }

// testKey is a well-formed publishable key for example.clerk.accounts.dev.
var testKey = "pk_test_" + base64.RawStdEncoding.EncodeToString([]byte("example.clerk.accounts.dev$"))

// result is what a run printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// env is a test's AWS side: the S3 server (through a proxy that may fail
// requests), and fakes of CloudFront and CloudFormation.
type env struct {
	bucket string
	s3     *s3.Client // straight to the server, to look at the bucket
	fail   atomic.Value
	cf     *fakeCloudFront
	cfnURL string
	c      *clients
}

// newEnv makes a bucket and the fakes; outputs, given the bucket, are the
// stack's outputs.
func newEnv(t *testing.T, outputs func(bucket string) map[string]string) *env {
	t.Helper()
	srv := exporttest.Need(t, s3srv)
	e := &env{bucket: srv.Bucket(t), s3: srv.Client(), cf: &fakeCloudFront{}}
	var out map[string]string
	if outputs != nil {
		out = outputs(e.bucket)
	}
	e.fail.Store(func(*http.Request) bool { return false })
	backend, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(backend)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.fail.Load().(func(*http.Request) bool)(r) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	cfSrv := httptest.NewServer(e.cf)
	t.Cleanup(cfSrv.Close)
	cfnSrv := httptest.NewServer(fakeCloudFormation(out))
	t.Cleanup(cfnSrv.Close)
	e.cfnURL = cfnSrv.URL
	creds := credentials.NewStaticCredentialsProvider(exporttest.AccessKey, exporttest.SecretKey, "")
	fast := retry.AddWithMaxBackoffDelay(retry.NewStandard(), 5*time.Millisecond)
	e.c = &clients{
		S3: srv.Client(func(o *s3.Options) { o.BaseEndpoint = aws.String(front.URL); o.Retryer = fast }),
		CloudFront: cloudfront.New(cloudfront.Options{Region: exporttest.Region, BaseEndpoint: aws.String(cfSrv.URL),
			Credentials: creds, Retryer: fast}),
		CloudFormation: cloudformation.New(cloudformation.Options{Region: exporttest.Region, BaseEndpoint: aws.String(cfnSrv.URL),
			Credentials: creds, Retryer: fast}),
	}
	return e
}

// run runs the command with e's clients.
func (e *env) run(args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(context.Context) (*clients, error) { return e.c, nil })
	return result{code, stdout.String(), stderr.String()}
}

// flags are the flags that bypass the stack, with e's bucket.
func (e *env) flags(dir string, extra ...string) []string {
	return append([]string{"-dir", dir, "-bucket", e.bucket, "-api-base", "/api", "-publishable-key", testKey, "-distribution", ""}, extra...)
}

// object is what the bucket holds under a key.
type object struct {
	body, contentType, cacheControl string
}

// objects returns every object in the bucket.
func (e *env) objects(t *testing.T) map[string]object {
	t.Helper()
	ctx := context.Background()
	out := map[string]object{}
	list, err := e.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Contents {
		got, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(got.Body)
		got.Body.Close()
		out[aws.ToString(o.Key)] = object{string(body), aws.ToString(got.ContentType), aws.ToString(got.CacheControl)}
	}
	return out
}

// writeSite writes files (path: content) into a new folder.
func writeSite(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// viteSite is a folder as a Vite build writes it.
var viteSite = map[string]string{
	"index.html":                   "<!doctype html><script type=module src=/assets/index-4f3a9c1b.js></script>",
	"assets/index-4f3a9c1b.js":     "console.log(1)",
	"assets/index-B-KPmvGN.css":    "body{}",
	"favicon.ico":                  "ico",
	"logo.svg":                     "<svg/>",
	"robots.txt":                   "User-agent: *",
	"app.webmanifest":              "{}",
	"mod.wasm":                     "\x00asm",
	"assets/index-4f3a9c1b.js.map": "{}",
	"lib.mjs":                      "export {}",
	"data.json":                    "{}",
	"photo.png":                    "png",
	"hello-world-example.js":       "1",
	".DS_Store":                    "junk",
}

func TestPublish(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	dir := writeSite(t, viteSite)
	r := e.run(e.flags(dir)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := e.objects(t)
	want := map[string][2]string{
		"index.html":                   {"text/html; charset=utf-8", cacheNone},
		"config.json":                  {"application/json", cacheNone},
		"assets/index-4f3a9c1b.js":     {"text/javascript; charset=utf-8", cacheImmutable},
		"assets/index-B-KPmvGN.css":    {"text/css; charset=utf-8", cacheImmutable},
		"assets/index-4f3a9c1b.js.map": {"application/json", cacheImmutable},
		"favicon.ico":                  {"image/x-icon", cacheShort},
		"logo.svg":                     {"image/svg+xml", cacheShort},
		"robots.txt":                   {"text/plain; charset=utf-8", cacheShort},
		"app.webmanifest":              {"application/manifest+json", cacheShort},
		"mod.wasm":                     {"application/wasm", cacheShort},
		"lib.mjs":                      {"text/javascript; charset=utf-8", cacheShort},
		"data.json":                    {"application/json", cacheShort},
		"photo.png":                    {"image/png", cacheShort},
		"hello-world-example.js":       {"text/javascript; charset=utf-8", cacheShort},
	}
	if strings.Join(keys(got), " ") != strings.Join(keys(want), " ") {
		t.Fatalf("bucket holds %v, want %v", keys(got), keys(want))
	}
	for k, w := range want {
		if got[k].contentType != w[0] || got[k].cacheControl != w[1] {
			t.Errorf("%s: Content-Type %q, Cache-Control %q; want %q, %q", k, got[k].contentType, got[k].cacheControl, w[0], w[1])
		}
		if k != configKey && got[k].body != viteSite[k] {
			t.Errorf("%s: body %q, want %q", k, got[k].body, viteSite[k])
		}
	}
	var cfg map[string]string
	if err := json.Unmarshal([]byte(got[configKey].body), &cfg); err != nil {
		t.Fatalf("config.json: %v", err)
	}
	if len(cfg) != 2 || cfg["apiUrl"] != "/api" || cfg["publishableKey"] != testKey {
		t.Errorf("config.json = %v", cfg)
	}

	// A second run with no change uploads nothing.
	var writes atomic.Int32
	e.fail.Store(func(r *http.Request) bool {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writes.Add(1)
		}
		return false
	})
	r = e.run(e.flags(dir)...)
	if n := writes.Load(); n != 0 {
		t.Errorf("the second run sent %d requests that write", n)
	}
	if r.code != 0 || strings.HasPrefix(r.stdout, "uploaded ") || strings.Contains(r.stdout, "\nuploaded ") || !strings.Contains(r.stdout, "uploaded 0, deleted 0, 14 unchanged") {
		t.Fatalf("second run: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// A changed API base rewrites config.json only.
	r = e.run(append(e.flags(dir), "-api-base", "https://api.example.com")...)
	if r.code != 0 || !strings.Contains(r.stdout, "uploaded config.json") || !strings.Contains(r.stdout, "uploaded 1, deleted 0") {
		t.Fatalf("new API base: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if body := e.objects(t)[configKey].body; !strings.Contains(body, `"apiUrl": "https://api.example.com"`) {
		t.Errorf("config.json = %s", body)
	}
}

func TestStaleFilesDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	old := writeSite(t, map[string]string{"index.html": "v1", "assets/index-11111111.js": "old", "about.html": "about"})
	if r := e.run(e.flags(old)...); r.code != 0 {
		t.Fatalf("first run: %s", r.stderr)
	}
	next := writeSite(t, map[string]string{"index.html": "v2", "assets/index-22222222.js": "new"})

	// The dry run lists and changes nothing.
	before := e.objects(t)
	r := e.run(e.flags(next, "-n")...)
	if r.code != 0 {
		t.Fatalf("dry run: %s", r.stderr)
	}
	for _, line := range []string{"would upload assets/index-22222222.js", "would upload index.html", "would delete about.html", "would delete assets/index-11111111.js", "would upload 2, delete 2, leave 1 unchanged"} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("dry run output lacks %q:\n%s", line, r.stdout)
		}
	}
	if after := e.objects(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the dry run changed the bucket: %v, was %v", after, before)
	}

	if r := e.run(e.flags(next)...); r.code != 0 {
		t.Fatalf("second run: %s", r.stderr)
	}
	got := e.objects(t)
	if strings.Join(keys(got), " ") != "assets/index-22222222.js config.json index.html" || got["index.html"].body != "v2" {
		t.Errorf("bucket after the update: %v", got)
	}
}

// A failure midway leaves the previous site whole: nothing is deleted, and
// the page still names files that are there.
func TestFailureLeavesPreviousSite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	old := writeSite(t, map[string]string{"index.html": "v1", "assets/index-11111111.js": "old"})
	if r := e.run(e.flags(old)...); r.code != 0 {
		t.Fatalf("first run: %s", r.stderr)
	}
	before := e.objects(t)
	next := map[string]string{"index.html": "v2"}
	for i := range 20 {
		next[fmt.Sprintf("assets/chunk%02d-2222222%d.js", i, i%10)] = "new"
	}
	var puts atomic.Int32
	e.fail.Store(func(r *http.Request) bool { return r.Method == http.MethodPut && puts.Add(1) > 5 })
	r := e.run(e.flags(writeSite(t, next))...)
	if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "nothing was deleted") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	got := e.objects(t)
	for k, o := range before {
		if got[k] != o {
			t.Errorf("%s changed: %v, was %v", k, got[k], o)
		}
	}
}

func TestStackAndInvalidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(bucket string) map[string]string {
		return map[string]string{
			outputBucket: bucket, outputDistribution: "E2EXAMPLE", outputSiteURL: "https://d111.cloudfront.net",
			outputAPIBase: "/api", outputPublishableKey: testKey,
		}
	})
	dir := writeSite(t, map[string]string{"index.html": "v1", "a.css": "a", "b.css": "b"})
	r := e.run("-stack", "site", "-dir", dir)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "site: https://d111.cloudfront.net") {
		t.Errorf("no site URL in %q", r.stdout)
	}
	if n := len(e.cf.batches()); n != 0 {
		t.Errorf("%d invalidations for a fresh site, want 0 (nothing changed in place)", n)
	}
	if cfg := e.objects(t)[configKey].body; !strings.Contains(cfg, testKey) {
		t.Errorf("config.json = %s", cfg)
	}

	// Changed and deleted paths are invalidated, in one batch.
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "b.css")); err != nil {
		t.Fatal(err)
	}
	if r := e.run("-stack", "site", "-dir", dir, "-n"); r.code != 0 || !strings.Contains(r.stdout, "would invalidate /index.html / /b.css in distribution E2EXAMPLE\n") {
		t.Fatalf("dry run: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if n := len(e.cf.batches()); n != 0 {
		t.Fatalf("the dry run created %d invalidations", n)
	}
	if r := e.run("-stack", "site", "-dir", dir); r.code != 0 || !strings.Contains(r.stdout, "invalidation I2EXAMPLE") {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	b := e.cf.batches()
	if len(b) != 1 || b[0].distribution != "E2EXAMPLE" || strings.Join(b[0].paths, " ") != "/index.html / /b.css" {
		t.Errorf("invalidations %+v", b)
	}

	// A flag wins over the output: an empty -distribution skips it.
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("v3"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.run("-stack", "site", "-dir", dir, "-distribution", ""); r.code != 0 || !strings.Contains(r.stdout, "no invalidation") {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if n := len(e.cf.batches()); n != 1 {
		t.Errorf("%d invalidations, want still 1", n)
	}
}

func TestMissingOutput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(string) map[string]string { return map[string]string{outputBucket: "some-bucket"} })
	r := e.run("-stack", "site", "-dir", writeSite(t, map[string]string{"index.html": "x"}))
	if r.code != 1 || r.stderr != "deploy-site: stack site has no output ApiBase, or it is empty (the stack has no site?): give -api-base\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestInvalidationPaths(t *testing.T) {
	t.Parallel()
	if got := strings.Join(invalidationPaths([]string{"a b.css", "docs/index.html"}), " "); got != "/a%20b.css /docs/index.html" {
		t.Errorf("got %s", got)
	}
	var many []string
	for i := range maxInvalidationPaths + 1 {
		many = append(many, fmt.Sprint(i))
	}
	if got := invalidationPaths(many); len(got) != 1 || got[0] != "/*" {
		t.Errorf("got %v", got)
	}
}

func TestHashed(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"index-4f3a9c1b.js": true, "index-BRd7p3Xk.js": true, "index-B-KPmvGN.css": true,
		"vendor-4f3a9c1b4f3a9c1b.js": true, "main.4f3a9c1b.js": true, "index-4f3a9c1b.js.map": true,
		"index.js": false, "hello-world-example.js": false, "hello-world-Example.js": false,
		"my-component.js": false, "index-abcdefgh.js": false, "favicon.ico": false, "README": false,
	} {
		if got := hashed(name); got != want {
			t.Errorf("hashed(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestUsageAndFolderErrors(t *testing.T) {
	t.Parallel()
	never := func(context.Context) (*clients, error) { panic("no AWS call expected") }
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-bogus"}, 2, "deploy-site: flag provided but not defined: -bogus (usage: "},
		{[]string{"-dir", "web"}, 2, "deploy-site: give -stack, or -bucket and -api-base and -publishable-key (usage: "},
		{[]string{"-stack", "s", "extra"}, 2, `deploy-site: unexpected argument "extra" (usage: `},
		{[]string{"-stack", "s", "-dir", "/nonexistent/site"}, 1, "deploy-site: /nonexistent/site: no such folder to publish (give -dir, or SITE_DIR= to make)\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr, never)
		if code != tc.code || !strings.HasPrefix(stderr.String(), tc.stderr) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tc.args, code, stderr.String(), tc.code, tc.stderr)
		}
	}
}

// TestNoCredentials runs the real configuration with no credentials
// anywhere (and the instance metadata service off, so nothing leaves the
// machine).
func TestNoCredentials(t *testing.T) {
	for _, tc := range []struct {
		region, want string
	}{
		{"us-east-1", "deploy-site: no AWS credentials: "},
		{"", "deploy-site: no AWS credentials and no AWS region: "},
	} {
		for _, name := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
			"AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
			"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_DEFAULT_REGION"} {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
		t.Setenv("AWS_REGION", tc.region)
		t.Setenv("AWS_CONFIG_FILE", os.DevNull)
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"-stack", "s", "-n", "-dir", writeSite(t, map[string]string{"index.html": "x"})},
			&stdout, &stderr, awsClients)
		if code != 1 || !strings.HasPrefix(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 || stdout.Len() != 0 {
			t.Errorf("region %q: exit %d, stdout %q, stderr %q", tc.region, code, stdout.String(), stderr.String())
		}
	}
}

// fakeCloudFront answers CreateInvalidation and records each batch.
type fakeCloudFront struct {
	mu   sync.Mutex
	seen []invalidation
}

type invalidation struct {
	distribution string
	paths        []string
}

func (f *fakeCloudFront) batches() []invalidation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]invalidation{}, f.seen...)
}

func (f *fakeCloudFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dist, ok := strings.CutPrefix(r.URL.Path, "/2020-05-31/distribution/")
	dist, ok2 := strings.CutSuffix(dist, "/invalidation")
	if r.Method != http.MethodPost || !ok || !ok2 {
		http.Error(w, "not CreateInvalidation", http.StatusNotFound)
		return
	}
	var batch struct {
		CallerReference string   `xml:"CallerReference"`
		Quantity        int      `xml:"Paths>Quantity"`
		Items           []string `xml:"Paths>Items>Path"`
	}
	if err := xml.NewDecoder(r.Body).Decode(&batch); err != nil || batch.Quantity != len(batch.Items) || batch.CallerReference == "" {
		http.Error(w, fmt.Sprintf("bad batch %+v: %v", batch, err), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.seen = append(f.seen, invalidation{dist, batch.Items})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Location", "https://cloudfront.amazonaws.com/2020-05-31/distribution/"+dist+"/invalidation/I2EXAMPLE")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprint(w, `<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>I2EXAMPLE</Id><Status>InProgress</Status><CreateTime>2026-12-01T10:00:00Z</CreateTime></Invalidation>`)
}

// fakeCloudFormation answers DescribeStacks (the query protocol) for the
// stack "site" with outputs, read when the request comes.
func fakeCloudFormation(outputs map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("Action") != "DescribeStacks" {
			http.Error(w, "not DescribeStacks", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		if r.PostForm.Get("StackName") != "site" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id %s does not exist</Message></Error><RequestId>r</RequestId></ErrorResponse>`, r.PostForm.Get("StackName"))
			return
		}
		var out strings.Builder
		for _, k := range keys(outputs) {
			fmt.Fprintf(&out, "<member><OutputKey>%s</OutputKey><OutputValue>%s</OutputValue></member>", k, outputs[k])
		}
		fmt.Fprintf(w, `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>site</StackName><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>%s</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStacksResponse>`, out.String())
	})
}

// TestEndpointFromEnvironment runs the real configuration against the S3
// server named by AWS_ENDPOINT_URL_S3, as make deploy-site would.
func TestEndpointFromEnvironment(t *testing.T) {
	srv := exporttest.Need(t, s3srv)
	bucket := srv.Bucket(t)
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir := writeSite(t, map[string]string{"index.html": "x"})
	args := []string{"-dir", dir, "-bucket", bucket, "-api-base", "/api", "-publishable-key", testKey, "-distribution", ""}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr, awsClients); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "uploaded 2, deleted 0, 0 unchanged") {
		t.Errorf("stdout %q", stdout.String())
	}
}

// A stack without the site (ApiBase empty) gives the page the API's own URL;
// a stack that does not exist is one line naming it.
func TestStackWithoutSite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(bucket string) map[string]string {
		return map[string]string{outputBucket: bucket, outputAPIBase: "", outputAPIURL: "https://abc123.execute-api.eu-west-1.amazonaws.com",
			outputPublishableKey: testKey, outputDistribution: ""}
	})
	dir := writeSite(t, map[string]string{"index.html": "x"})
	if r := e.run("-stack", "site", "-dir", dir); r.code != 0 || !strings.Contains(r.stdout, "no invalidation") {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if cfg := e.objects(t)[configKey].body; !strings.Contains(cfg, `"apiUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com"`) {
		t.Errorf("config.json = %s", cfg)
	}
	r := e.run("-stack", "nope", "-dir", dir)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "deploy-site: read the outputs of stack nope: ") ||
		!strings.Contains(r.stderr, "Stack with id nope does not exist") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
