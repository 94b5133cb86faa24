package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/clerk/clerk-sdk-go/v2"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/export/exporttest"
)

var s3srv *exporttest.Server

func TestMain(m *testing.M) {
	if os.Getenv(benchChildEnv) != "" {
		os.Exit(benchChild())
	}
	if os.Getenv(killedSliceEnv) != "" {
		os.Exit(killedSliceChild())
	}
	os.Exit(exporttest.Main(m, &s3srv))
}

// smallPart makes a thousand users several parts, for runs that fail before
// completing: S3 refuses parts under 5 MiB but the last, at completion.
const smallPart = 16 << 10

// target is a fresh bucket on the test server and a run configuration
// writing to it.
type target struct {
	client *s3.Client
	bucket string
	cfg    Config
}

func newTarget(t *testing.T, issuer string) target {
	t.Helper()
	srv := exporttest.Need(t, s3srv)
	client := srv.Client()
	bucket := srv.Bucket(t)
	return target{client: client, bucket: bucket, cfg: Config{S3: client, Bucket: bucket, Issuer: issuer}}
}

// object returns the bytes stored at key.
func (tg target) object(t *testing.T, key string) []byte {
	t.Helper()
	out, err := tg.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(tg.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keys lists every object key in the bucket.
func (tg target) keys(t *testing.T) []string {
	t.Helper()
	out, err := tg.client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(tg.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// openUploads counts the bucket's multipart uploads that were neither
// completed nor aborted.
func (tg target) openUploads(t *testing.T) int {
	t.Helper()
	out, err := tg.client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(tg.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// checkExport checks the export m names: it holds the users of want, each
// once; latest.json is m; m's size and SHA-256 are the stored object's; and
// no multipart upload is left open.
func (tg target) checkExport(t *testing.T, m Manifest, want []string) {
	t.Helper()
	raw := tg.object(t, m.Key)
	sum := sha256.Sum256(raw)
	if m.SHA256 != hex.EncodeToString(sum[:]) || m.Bytes != int64(len(raw)) {
		t.Errorf("manifest says %d bytes, sha256 %s; the object has %d bytes, sha256 %x", m.Bytes, m.SHA256, len(raw), sum)
	}
	exporttest.CheckUsers(t, bytes.NewReader(raw), want)
	if m.Users != int64(len(want)) {
		t.Errorf("manifest counts %d users, want %d", m.Users, len(want))
	}
	if m.Issuer != tg.cfg.Issuer || m.Issuer == "" {
		t.Errorf("manifest issuer = %q, want %q", m.Issuer, tg.cfg.Issuer)
	}
	latest, err := Latest(context.Background(), tg.client, tg.bucket, tg.cfg.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	if latest != m {
		t.Errorf("latest.json = %+v, want %+v", latest, m)
	}
	if n := tg.openUploads(t); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
}

func TestRunExportsTenThousandUsersOnce(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 10_000)
	tg := newTarget(t, fake.Issuer())
	start := time.Date(2026, 11, 26, 17, 14, 0, 0, time.UTC)
	tg.cfg.Now = func() time.Time { return start }
	m, err := Run(context.Background(), exporttest.API(t, fake), tg.cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`^exports/users/2026/11/26/users-20261126T171400Z-[0-9a-f]{8}\.jsonl\.gz$`)
	if !key.MatchString(m.Key) {
		t.Errorf("key = %q, want the form %s", m.Key, key)
	}
	if !m.Started.Equal(start) || !m.Finished.Equal(start) {
		t.Errorf("started, finished = %s, %s; want %s", m.Started, m.Finished, start)
	}
	tg.checkExport(t, m, exporttest.IDs(fake))
}

// userJSON is u as the Backend API would send it.
func userJSON(u *clerk.User) json.RawMessage {
	b, err := json.Marshal(u)
	if err != nil {
		panic(err) // a clerk.User always encodes
	}
	return b
}

// bulkyUsers is a source of users whose metadata barely compresses: 8 KiB
// of base64 noise each, Clerk's limit, so 900 of them fill more than one
// 5 MiB part.
type bulkyUsers int

func (n bulkyUsers) WalkUsers(ctx context.Context, cur *clerkapi.Cursor, fn func(json.RawMessage) error) error {
	return noisyUsers{n: int(n), noise: 6 << 10}.WalkUsers(ctx, cur, fn)
}

// noisyUsers is a source of n users, each with noise bytes of random
// metadata that is the same on every walk (seeded by the user's index), so
// two exports of it are equal byte for byte once decompressed.
type noisyUsers struct{ n, noise int }

// WalkUsers passes the users after cur, one a millisecond, moving cur as
// clerkapi's walk does.
func (u noisyUsers) WalkUsers(ctx context.Context, cur *clerkapi.Cursor, fn func(json.RawMessage) error) error {
	noise := make([]byte, u.noise)
	for i := range u.n {
		created := bulkyEpoch + int64(i)
		if cur.Started && created <= cur.Mark {
			continue
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		_, _ = mrand.NewChaCha8([32]byte{byte(i), byte(i >> 8), byte(i >> 16)}).Read(noise)
		id := bulkyUsers(0).id(i)
		cur.Started, cur.Mark, cur.AtMark = true, created, []string{id}
		err := fn(userJSON(&clerk.User{
			Object:         "user",
			ID:             id,
			EmailAddresses: []*clerk.EmailAddress{{Object: "email_address", ID: fmt.Sprintf("idn_bulky%05d", i), EmailAddress: fmt.Sprintf("bulky%d@example.com", i)}},
			PublicMetadata: []byte(`{"notes":"` + base64.StdEncoding.EncodeToString(noise) + `"}`),
			CreatedAt:      created,
			UpdatedAt:      created,
		}))
		if err != nil {
			return err
		}
	}
	return nil
}

// bulkyEpoch is the first bulky user's created_at.
const bulkyEpoch = 1764170000000

// stalling passes the users of its source, then waits for the next page
// until ctx ends, as a Backend API that has stopped answering would.
type stalling struct{ Users }

func (s stalling) WalkUsers(ctx context.Context, cur *clerkapi.Cursor, fn func(json.RawMessage) error) error {
	if err := s.Users.WalkUsers(ctx, cur, fn); err != nil {
		return err
	}
	<-ctx.Done()
	return context.Cause(ctx)
}

func (bulkyUsers) id(i int) string { return fmt.Sprintf("user_bulky%06d", i) }

func (n bulkyUsers) ids() []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = n.id(i)
	}
	return ids
}

// An export larger than a part goes up as a multipart upload that S3
// completes into one object.
func TestRunUploadsLargeExportsInParts(t *testing.T) {
	t.Parallel()
	src := bulkyUsers(900)
	tg := newTarget(t, "https://bulky.clerk.accounts.dev")
	m, err := Run(context.Background(), src, tg.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m.Bytes <= MinPartSize {
		t.Fatalf("the export is %d bytes, not more than one %d-byte part", m.Bytes, MinPartSize)
	}
	tg.checkExport(t, m, src.ids())
}

func TestRunKeepsEveryExport(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 20)
	tg := newTarget(t, fake.Issuer())
	tg.cfg.Prefix = "nightly/clerk/"
	start := time.Now()
	tg.cfg.Now = func() time.Time { return start }
	first, err := Run(context.Background(), exporttest.API(t, fake), tg.cfg)
	if err != nil {
		t.Fatal(err)
	}
	fake.AddUser(clerkfake.User{EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: "late@example.com"}}})
	tg.cfg.Now = func() time.Time { return start.Add(time.Second) }
	second, err := Run(context.Background(), exporttest.API(t, fake), tg.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if second.Key <= first.Key {
		t.Errorf("second run's key %q does not sort after the first's %q", second.Key, first.Key)
	}
	if first.Users != 20 {
		t.Errorf("first run counted %d users, want 20", first.Users)
	}
	tg.checkExport(t, second, exporttest.IDs(fake))
	if keys := tg.keys(t); !slices.Contains(keys, first.Key) || !slices.Contains(keys, "nightly/clerk/latest.json") {
		t.Errorf("bucket holds %q; want both exports and nightly/clerk/latest.json", keys)
	}
}

// statusCounter is a transport that counts the answers it sees by status.
type statusCounter struct {
	mu     sync.Mutex
	counts map[int]int
}

func (s *statusCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		s.mu.Lock()
		s.counts[resp.StatusCode]++
		s.mu.Unlock()
	}
	return resp, err
}

func (s *statusCounter) count(status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[status]
}

// During the run, at the user counts given, the stand-in starts answering
// 429s and 500s; the client waits them out and every user arrives once.
func TestRunSurvivesRateLimitsAndServerErrors(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 2_000)
	tg := newTarget(t, fake.Issuer())
	faults := map[int64]clerkfake.Failure{
		400:   {RateLimited: 2, RetryAfter: 1, Paths: []string{"/v1/users"}},
		1_000: {ServerErrors: 2, Paths: []string{"/v1/users"}},
		1_500: {ServerErrors: 1, Paths: []string{"/v1/users"}},
	}
	tg.cfg.OnUser = func(n int64) {
		if f, ok := faults[n]; ok {
			fake.Fail(f)
		}
	}
	statuses := &statusCounter{counts: map[int]int{}}
	users, err := clerkapi.New(clerkapi.Config{
		SecretKey:   func(context.Context) (string, error) { return fake.SecretKey(), nil },
		URL:         fake.URL(),
		HTTPClient:  &http.Client{Transport: statuses},
		BackoffBase: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Run(context.Background(), users, tg.cfg)
	if err != nil {
		t.Fatal(err)
	}
	tg.checkExport(t, m, exporttest.IDs(fake))
	if n429, n500 := statuses.count(http.StatusTooManyRequests), statuses.count(http.StatusInternalServerError); n429 != 2 || n500 != 3 {
		t.Errorf("the run met %d 429s and %d 500s; want 2 and 3", n429, n500)
	}
}

// Users signing up while the export runs are exported too, once each: all
// those created before the run reads its last page.
func TestRunIncludesUsersCreatedDuringTheRun(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 1_200)
	tg := newTarget(t, fake.Issuer())
	added := 0
	tg.cfg.OnUser = func(n int64) {
		// Pages of 500 (each re-reading the last user of the one before):
		// the last page is read at user 999, and what is added while it is
		// written comes after the run.
		if n%250 == 0 && n < 999 {
			for range 3 {
				added++
				fake.AddUser(clerkfake.User{EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: fmt.Sprintf("new%d@example.com", added)}}})
			}
		}
	}
	m, err := Run(context.Background(), exporttest.API(t, fake), tg.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if added != 9 {
		t.Fatalf("%d users were added during the run, want 9", added)
	}
	tg.checkExport(t, m, exporttest.IDs(fake))
}

// s3Behind is an S3 client for a reverse proxy in front of the test server
// that passes each request to front with the proxy. The client retries as
// the SDK does, only with short waits.
func s3Behind(t *testing.T, front func(w http.ResponseWriter, r *http.Request, proxy http.Handler)) *s3.Client {
	t.Helper()
	srv := exporttest.Need(t, s3srv)
	backend, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(backend)
	fs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { front(w, r, proxy) }))
	t.Cleanup(fs.Close)
	return srv.Client(func(o *s3.Options) {
		o.BaseEndpoint = aws.String(fs.URL)
		o.Retryer = retry.AddWithMaxBackoffDelay(retry.NewStandard(), 5*time.Millisecond)
	})
}

// failingS3 is s3Behind with a proxy that answers 500 to the requests fail
// picks.
func failingS3(t *testing.T, fail func(*http.Request) bool) *s3.Client {
	t.Helper()
	return s3Behind(t, func(w http.ResponseWriter, r *http.Request, proxy http.Handler) {
		if fail(r) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>`)
			return
		}
		proxy.ServeHTTP(w, r)
	})
}

// isPart reports whether r is an UploadPart request.
func isPart(r *http.Request) bool {
	q := r.URL.Query()
	return r.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId")
}

// When only latest.json cannot be written, the complete export stays, and
// the error names it.
func TestRunReportsAnUnpublishedExport(t *testing.T) {
	t.Parallel()
	fake := exporttest.Clerk(t, 20)
	tg := newTarget(t, fake.Issuer())
	tg.cfg.S3 = failingS3(t, func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/"+LatestName)
	})
	_, err := Run(context.Background(), exporttest.API(t, fake), tg.cfg)
	keys := tg.keys(t)
	if len(keys) != 1 || !strings.HasSuffix(keys[0], ".jsonl.gz") {
		t.Fatalf("bucket holds %q; want the export alone", keys)
	}
	want := "export of 20 users is complete as " + keys[0] + ", but exports/users/latest.json was not updated: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Run: %v; want an error starting %q", err, want)
	}
	exporttest.CheckUsers(t, bytes.NewReader(tg.object(t, keys[0])), exporttest.IDs(fake))
}

// A run that cannot finish leaves no trace: latest.json still names the
// previous export, no multipart upload is left open, no new object exists,
// and the error is one line that says how far the run got and why it stopped.
func TestRunFailureLeavesThePreviousExport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// run sets up the failure and makes the failing run.
		run     func(t *testing.T, fake *clerkfake.Server, tg target) error
		wantErr []string
		is      error
	}{
		{
			name: "S3 fails UploadPart after 3 parts",
			run: func(t *testing.T, fake *clerkfake.Server, tg target) error {
				var parts atomic.Int64
				tg.cfg.S3 = failingS3(t, func(r *http.Request) bool { return isPart(r) && parts.Add(1) > 3 })
				_, err := Run(context.Background(), exporttest.API(t, fake), tg.cfg)
				if parts.Load() <= 3 {
					t.Errorf("the run sent %d parts; the failure needs more than 3", parts.Load())
				}
				return err
			},
			wantErr: []string{"export stopped after ", " users: upload part ", "StatusCode: 500", "InternalError"},
		},
		{
			name: "S3 fails the first part while Clerk is slow",
			run: func(t *testing.T, _ *clerkfake.Server, tg target) error {
				tg.cfg.S3 = failingS3(t, isPart)
				// Parts larger than what reaches S3 before Clerk stalls: the
				// second part is still being filled when the first fails.
				tg.cfg.partSize = 48 << 10
				tg.cfg.Margin = time.Second
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				_, err := Run(ctx, stalling{bulkyUsers(20)}, tg.cfg)
				if errors.Is(err, ErrDeadline) {
					t.Errorf("the run read on until its deadline after S3 had failed")
				}
				return err
			},
			wantErr: []string{"export stopped after ", " users: upload part 1: ", "StatusCode: 500", "InternalError"},
		},
		{
			name: "OnUser panics",
			run: func(t *testing.T, fake *clerkfake.Server, tg target) error {
				tg.cfg.OnUser = func(n int64) {
					if n == 700 {
						panic("progress display broke")
					}
				}
				_, err := Run(context.Background(), exporttest.API(t, fake), tg.cfg)
				return err
			},
			wantErr: []string{"export stopped after ", " users: writing the users panicked: progress display broke"},
		},
		{
			name: "Clerk keeps failing",
			run: func(t *testing.T, fake *clerkfake.Server, tg target) error {
				tg.cfg.OnUser = func(n int64) {
					if n == 500 {
						fake.Fail(clerkfake.Failure{ServerErrors: 100, Paths: []string{"/v1/users"}})
					}
				}
				_, err := Run(context.Background(), exporttest.API(t, fake), tg.cfg)
				return err
			},
			wantErr: []string{"export stopped after ", " users: clerkapi: list users: gave up after 4 attempts: HTTP 500"},
		},
		{
			name: "the deadline comes first",
			run: func(t *testing.T, fake *clerkfake.Server, tg target) error {
				ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second) // time for 500 users, under the race detector too
				defer cancel()
				tg.cfg.Margin = 2 * time.Second
				// From the 500th user on, Clerk answers slower than the run has time for.
				tg.cfg.OnUser = func(n int64) {
					if n == 500 {
						fake.Fail(clerkfake.Failure{Latency: time.Hour})
					}
				}
				_, err := Run(ctx, exporttest.API(t, fake), tg.cfg)
				if ctx.Err() != nil {
					t.Errorf("the run returned after its context's deadline; it should stop %s before", tg.cfg.Margin)
				}
				return err
			},
			wantErr: []string{"export stopped after ", " users: not enough time left before the deadline (a run stops 2s before its deadline, to abort cleanly)"},
			is:      ErrDeadline,
		},
		{
			name: "Clerk asks for a wait past the deadline",
			run: func(t *testing.T, fake *clerkfake.Server, tg target) error {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				tg.cfg.Margin = time.Second
				tg.cfg.OnUser = func(n int64) {
					if n == 500 {
						fake.Fail(clerkfake.Failure{RateLimited: 1, RetryAfter: 30})
					}
				}
				_, err := Run(ctx, exporttest.API(t, fake), tg.cfg)
				return err
			},
			wantErr: []string{"export stopped after 500 users: not enough time left before the deadline: clerkapi: list users: no time left to retry before the context's deadline (a retry was due in 30s): HTTP 429 "},
			is:      ErrDeadline,
		},
		{
			name: "S3 does not answer CompleteMultipartUpload",
			run: func(t *testing.T, fake *clerkfake.Server, tg target) error {
				tg.cfg.S3 = s3Behind(t, func(w http.ResponseWriter, r *http.Request, proxy http.Handler) {
					if r.Method == http.MethodPost && r.URL.Query().Has("uploadId") {
						_, _ = io.Copy(io.Discard, r.Body) // so that the server sees the client go
						<-r.Context().Done()               // held until the client gives up
						return
					}
					proxy.ServeHTTP(w, r)
				})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // time for the users, under the race detector too
				defer cancel()
				tg.cfg.Margin = 2 * time.Second
				_, err := Run(ctx, exporttest.API(t, fake), tg.cfg)
				if ctx.Err() != nil {
					t.Errorf("the run returned after its context's deadline; it should stop writing %s before", tg.cfg.Margin/2)
				}
				return err
			},
			wantErr: []string{"export stopped after 1,000 users: not enough time left before the deadline (S3 did not answer in time; a run stops writing 1s before its deadline, to abort cleanly)"},
			is:      ErrDeadline,
		},
		{
			name: "too little time to start",
			run: func(t *testing.T, fake *clerkfake.Server, tg target) error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err := Run(ctx, exporttest.API(t, fake), tg.cfg)
				return err
			},
			wantErr: []string{"export not started: not enough time left before the deadline: ", "left, and a run stops 10s before its deadline"},
			is:      ErrDeadline,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := exporttest.Clerk(t, 1_000)
			tg := newTarget(t, fake.Issuer())
			good, err := Run(context.Background(), exporttest.API(t, fake), tg.cfg)
			if err != nil {
				t.Fatal(err)
			}
			latestKey := DefaultPrefix + "/" + LatestName
			before := tg.object(t, latestKey)
			// Small parts make the failing run's upload a multipart one
			// some parts in.
			tg.cfg.partSize = smallPart

			err = tc.run(t, fake, tg)
			if err == nil {
				t.Fatal("the run succeeded; want an error")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is more than one line", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(err, %v) = false", tc.is)
			}
			if after := tg.object(t, latestKey); !bytes.Equal(before, after) {
				t.Errorf("latest.json changed:\n%s\nbecame\n%s", before, after)
			}
			if n := tg.openUploads(t); n != 0 {
				t.Errorf("%d multipart uploads left open", n)
			}
			if keys := tg.keys(t); len(keys) != 2 {
				t.Errorf("bucket holds %q; want only the good export %s and latest.json", keys, good.Key)
			}
		})
	}
}

func TestRunChecksItsConfig(t *testing.T) {
	t.Parallel()
	client := s3.New(s3.Options{Region: "us-east-1"})
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no client", Config{Bucket: "exports"}, "export: Config.S3 is required"},
		{"no bucket", Config{S3: client}, "export: bucket: not a valid S3 bucket name"},
		{"bad bucket", Config{S3: client, Bucket: "Exports_2026"}, "export: bucket: not a valid S3 bucket name"},
		{"bad prefix", Config{S3: client, Bucket: "exports", Prefix: "/users"}, "export: prefix: must not start with a slash"},
		{"negative margin", Config{S3: client, Bucket: "exports", Margin: -time.Second}, "export: Config.Margin must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Run(context.Background(), nil, tc.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Run: %v; want an error starting %q", err, tc.want)
			}
		})
	}
}
