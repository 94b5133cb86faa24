package export

import (
	"bytes"
	"clerk-lambda/shared/clerkapi"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// sliced runs a whole export in slices of budget, each from the checkpoint
// before it sent through JSON, as the state machine passes it, and returns
// the manifest and the checkpoints' largest size.
func sliced(t *testing.T, src Users, cfg Config, b Budget) (Manifest, int) {
	t.Helper()
	var cp *Checkpoint
	largest := 0
	for range 10_000 {
		out, err := Slice(context.Background(), src, cfg, cp, b)
		if err != nil {
			t.Fatalf("slice %d: %v", slicesOf(cp)+1, err)
		}
		if out.Done {
			return out.Manifest, largest
		}
		raw, err := json.Marshal(out.Checkpoint)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, len(raw))
		cp = &Checkpoint{}
		if err := json.Unmarshal(raw, cp); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("the run does not end")
	return Manifest{}, 0
}

func slicesOf(cp *Checkpoint) int {
	if cp == nil {
		return 0
	}
	return cp.Slices
}

// decompressed is the object at key, decompressed by compress/gzip (which
// reads concatenated members as one stream).
func (tg target) decompressed(t *testing.T, key string) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tg.object(t, key)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// 200,000 users in at least 10 slices make the same users, byte for byte
// once decompressed, as one slice; the object is one stream to Go's gzip and
// to the system's gzip -d, and the checkpoints stay small.
func TestSlicesWriteWhatOneRunWrites(t *testing.T) {
	t.Parallel()
	if raceDetector {
		t.Skip("minutes under the race detector: make test runs it in its race-free pass")
	}
	src := noisyUsers{n: 200_000, noise: 240}
	tg := newTarget(t, "https://sliced.clerk.accounts.dev")
	whole, err := Run(context.Background(), src, tg.cfg)
	if err != nil {
		t.Fatal(err)
	}
	one := tg.decompressed(t, whole.Key)

	m, largest := sliced(t, src, tg.cfg, Budget{Parts: 1})
	if m.Slices < 10 || whole.Slices != 1 {
		t.Fatalf("the sliced run took %d slices, the whole one %d; want at least 10 and 1", m.Slices, whole.Slices)
	}
	if largest > 2<<10 {
		t.Errorf("a checkpoint is %d bytes; it carries no part list and should stay small", largest)
	}
	many := tg.decompressed(t, m.Key)
	if !bytes.Equal(one, many) || m.Users != 200_000 {
		t.Fatalf("the sliced export (%d users, %d bytes decompressed) differs from the whole one (%d bytes)", m.Users, len(many), len(one))
	}
	tg.checkExport(t, m, src.ids())
	if _, err := exec.LookPath("gzip"); err != nil {
		t.Log("gzip is not installed: the system's gzip -d is not checked")
		return
	}
	cmd := exec.Command("gzip", "-d", "-c")
	cmd.Stdin = bytes.NewReader(tg.object(t, m.Key))
	out, err := cmd.Output()
	if err != nil || !bytes.Equal(out, many) {
		t.Errorf("gzip -d read %d bytes (%v), want the %d compress/gzip reads", len(out), err, len(many))
	}
}

// The child process of TestKilledSliceIsRetried runs a slice from the
// checkpoint in this variable until it is killed.
const killedSliceEnv = "EXPORT_TEST_KILLED_SLICE"

// killedSliceChild is that process: the slice, against the S3 endpoint its
// environment names.
func killedSliceChild() int {
	var job struct {
		Bucket       string
		Checkpoint   Checkpoint
		Users, Noise int
	}
	if err := json.Unmarshal([]byte(os.Getenv(killedSliceEnv)), &job); err != nil || job.Users == 0 {
		return 3
	}
	client, err := NewS3Client(context.Background())
	if err != nil {
		return 3
	}
	src := noisyUsers{n: job.Users, noise: job.Noise}
	_, err = Slice(context.Background(), src, Config{S3: client, Bucket: job.Bucket}, &job.Checkpoint, Budget{})
	if err != nil {
		return 1
	}
	return 0
}

// A slice killed mid-part (the process killed, with a part it uploaded
// past its checkpoint and the next on the wire) is retried from the
// checkpoint: every user once, no part but the run's in the object (a
// stray part is left out), and latest.json only at the end.
func TestKilledSliceIsRetried(t *testing.T) {
	t.Parallel()
	src := noisyUsers{n: 3_600, noise: 6 << 10} // about 5 parts
	tg := newTarget(t, "https://killed.clerk.accounts.dev")
	first, err := Slice(context.Background(), src, tg.cfg, nil, Budget{Parts: 2})
	if err != nil || first.Done {
		t.Fatalf("first slice: %+v, %v", first, err)
	}
	cp := first.Checkpoint

	srv := s3srv.Env()
	upstream, _ := url.Parse(srv["AWS_ENDPOINT_URL_S3"])
	var (
		mu    sync.Mutex
		child *exec.Cmd
		seen  = map[int]bool{}
	)
	killAt := int(cp.Parts) + 2 // part 3 goes up whole, part 4 is cut off
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, err := strconv.Atoi(r.URL.Query().Get("partNumber")); err == nil {
			mu.Lock()
			seen[n] = true
			if n == killAt {
				_ = child.Process.Kill()
			}
			mu.Unlock()
			if n == killAt {
				_, _ = io.Copy(io.Discard, r.Body)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	job, _ := json.Marshal(map[string]any{"Bucket": tg.bucket, "Checkpoint": cp, "Users": src.n, "Noise": src.noise})
	mu.Lock()
	child = exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), killedSliceEnv+"="+string(job))
	for k, v := range srv {
		child.Env = append(child.Env, k+"="+v)
	}
	child.Env = append(child.Env, "AWS_ENDPOINT_URL_S3="+front.URL)
	if err := child.Start(); err != nil {
		mu.Unlock()
		t.Fatal(err)
	}
	mu.Unlock()
	err = child.Wait()
	if st, ok := err.(*exec.ExitError); !ok || st.Exited() {
		t.Fatalf("the child slice ended with %v, not killed (parts seen %v)", err, seen)
	}
	if !seen[killAt-1] || !seen[killAt] {
		t.Fatalf("the child uploaded parts %v before it was killed; want %d and %d", seen, killAt-1, killAt)
	}
	if _, err := tg.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(tg.bucket), Key: aws.String(DefaultPrefix + "/" + LatestName)}); err == nil {
		t.Fatal("latest.json exists before the run's end")
	}
	// A stray part past the run's, as a killed slice of a longer run leaves.
	if _, err := tg.client.UploadPart(context.Background(), &s3.UploadPartInput{
		Bucket: aws.String(tg.bucket), Key: aws.String(cp.Key), UploadId: aws.String(cp.UploadID),
		PartNumber: aws.Int32(9_999), Body: strings.NewReader("stray bytes, not gzip"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}); err != nil {
		t.Fatal(err)
	}

	out, err := Slice(context.Background(), src, tg.cfg, cp, Budget{})
	if err != nil || !out.Done {
		t.Fatalf("the retried slice: %+v, %v", out, err)
	}
	tg.checkExport(t, out.Manifest, src.ids())
}

// A part that another writer put in place of one of the run's (two slices
// run at once from one checkpoint), even of the same size, is found by its
// checksum: the run is not completed with it.
func TestForeignPartIsRefused(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, "https://foreign.clerk.accounts.dev")
	src := noisyUsers{n: 1_600, noise: 6 << 10} // two parts
	first, err := Slice(context.Background(), src, tg.cfg, nil, Budget{Parts: 1})
	if err != nil || first.Done {
		t.Fatalf("first slice: %+v, %v", first, err)
	}
	cp := first.Checkpoint
	other := bytes.Repeat([]byte{'x'}, int(cp.Bytes))
	if _, err := tg.client.UploadPart(context.Background(), &s3.UploadPartInput{
		Bucket: aws.String(tg.bucket), Key: aws.String(cp.Key), UploadId: aws.String(cp.UploadID),
		PartNumber: aws.Int32(1), Body: bytes.NewReader(other), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}); err != nil {
		t.Fatal(err)
	}
	_, err = Slice(context.Background(), src, tg.cfg, cp, Budget{})
	var failure *Error
	if !errors.As(err, &failure) || failure.Retryable || !strings.Contains(err.Error(), "not the ones this run wrote") {
		t.Fatalf("a foreign part 1: %v, want a failure that will not pass", err)
	}
	if _, err := Latest(context.Background(), tg.client, tg.bucket, ""); err == nil {
		t.Error("latest.json was written over a foreign part")
	}
}

// A slice that fails for good says so (Retryable false); Run then aborts
// the upload, leaving no part and the previous latest.json.
func TestSliceFailureThatWillNotPass(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, "https://broken.clerk.accounts.dev")
	src := noisyUsers{n: 2_000, noise: 6 << 10}
	first, err := Slice(context.Background(), src, tg.cfg, nil, Budget{Parts: 1})
	if err != nil || first.Done {
		t.Fatalf("first slice: %+v, %v", first, err)
	}
	_, err = Slice(context.Background(), notJSONAfter{src, 1_000}, tg.cfg, first.Checkpoint, Budget{})
	var failure *Error
	if !errors.As(err, &failure) || failure.Retryable || !strings.Contains(err.Error(), "is not JSON") {
		t.Fatalf("a user that is not JSON: %v, want a failure that will not pass", err)
	}
	if err := Abort(context.Background(), tg.cfg, first.Checkpoint); err != nil {
		t.Fatal(err)
	}
	if n := tg.openUploads(t); n != 0 {
		t.Errorf("%d uploads left open after the abort", n)
	}
	if keys := tg.keys(t); len(keys) != 0 {
		t.Errorf("the bucket holds %v after a failed run", keys)
	}
	if err := Abort(context.Background(), tg.cfg, first.Checkpoint); err != nil {
		t.Errorf("aborting twice: %v", err)
	}
}

// ids are the source's user ids, in order.
func (u noisyUsers) ids() []string { return bulkyUsers(u.n).ids() }

// notJSONAfter passes src's users, then a broken one after the skip-th.
type notJSONAfter struct {
	src  noisyUsers
	skip int
}

func (n notJSONAfter) WalkUsers(ctx context.Context, cur *clerkapi.Cursor, fn func(json.RawMessage) error) error {
	seen := 0
	return n.src.WalkUsers(ctx, cur, func(raw json.RawMessage) error {
		if seen++; seen == n.skip {
			return fn(json.RawMessage(`{"id":`))
		}
		return fn(raw)
	})
}
