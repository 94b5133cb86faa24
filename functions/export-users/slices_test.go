package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/export"
	"clerk-lambda/shared/export/exporttest"
	"clerk-lambda/shared/exportrun"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/settings"
)

// slicedJob is a job whose slices write one part each, over a stand-in of
// n users bulky enough that they fill several 5 MiB parts.
func slicedJob(t *testing.T, n int, logs *bytes.Buffer) (*job, *s3.Client, string, *clerkfake.Server) {
	t.Helper()
	srv := exporttest.Need(t, s3srv)
	fake := exporttest.Clerk(t, 0)
	noise := make([]byte, 6<<10)
	for range n {
		_, _ = rand.Read(noise)
		fake.AddUser(clerkfake.User{PublicMetadata: map[string]any{"notes": base64.StdEncoding.EncodeToString(noise)}})
	}
	bucket := srv.Bucket(t)
	vars := env(fake, bucket)
	vars[settings.ExportSlicePartsName] = "1"
	c, err := configFromEnv(settings.Map(vars))
	if err != nil {
		t.Fatal(err)
	}
	return jobFor(c, srv.Client(), logging.New(logs, slog.LevelInfo)), srv.Client(), bucket, fake
}

// started is a sliced job of n users whose run has begun: its first slice
// ran, and in is the next slice's input.
func started(t *testing.T, n int) (j *job, client *s3.Client, bucket string, in []byte) {
	t.Helper()
	var logs bytes.Buffer
	j, client, bucket, _ = slicedJob(t, n, &logs)
	out, err := invoke(t, j, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	_, in = next(t, out)
	return j, client, bucket, in
}

// invoke runs the handler as Lambda does, JSON in and out.
func invoke(t *testing.T, j *job, event []byte) ([]byte, error) {
	t.Helper()
	return lambda.NewHandler(j.handle).Invoke(context.Background(), event)
}

// next is the state machine's Pass state: the input of the slice after out.
func next(t *testing.T, out []byte) (done bool, in []byte) {
	t.Helper()
	var r struct {
		Done       bool            `json:"done"`
		Checkpoint json.RawMessage `json:"checkpoint"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	in, _ = json.Marshal(map[string]json.RawMessage{"checkpoint": r.Checkpoint})
	return r.Done, in
}

func openUploads(t *testing.T, client *s3.Client, bucket string) int {
	t.Helper()
	out, err := client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// The state machine's loop, played here: each slice's checkpoint is the
// next one's input, the lease is held from the first slice to the last,
// and latest.json appears only at the end, naming every user once.
func TestSlicesThroughTheirCheckpoints(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	j, client, bucket, fake := slicedJob(t, 2_500, &logs)
	event, err := os.ReadFile("testdata/scheduled-event.json")
	if err != nil {
		t.Fatal(err)
	}
	// Users change while the run goes on: the last user is deleted before
	// it is reached, one already written is deleted, two sign up. The
	// users there for the whole run appear once each; the sign-ups come at
	// the end, as in one slice.
	before := exporttest.IDs(fake)
	gone, written := before[len(before)-1], before[0]
	want := slices.Clone(before[:len(before)-1])
	in, n := event, 0
	for done := false; !done; n++ {
		if n > 20 {
			t.Fatal("the run does not end")
		}
		if n == 1 {
			fake.DeleteUser(gone)
			fake.DeleteUser(written)
			for range 2 {
				want = append(want, fake.AddUser(clerkfake.User{FirstName: "New"}).ID)
			}
		}
		if _, err := export.Latest(context.Background(), client, bucket, "users"); err == nil {
			t.Fatalf("latest.json exists before slice %d", n+1)
		}
		if n > 0 && lease(t, client, bucket) == nil {
			t.Fatalf("no lease held before slice %d", n+1)
		}
		out, err := invoke(t, j, in)
		if err != nil {
			t.Fatalf("slice %d: %v", n+1, err)
		}
		done, in = next(t, out)
	}
	latest, err := export.Latest(context.Background(), client, bucket, "users")
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 || latest.Slices != n || latest.Users != int64(len(want)) {
		t.Errorf("%d slices; latest.json = %+v", n, latest)
	}
	obj, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(latest.Key)})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	exporttest.CheckUsers(t, obj.Body, want)
	if l := lease(t, client, bucket); l != nil {
		t.Errorf("the lease %+v is still held after the last slice", l)
	}
	if n := strings.Count(logs.String(), `"ExportSucceeded":1`); n != 1 {
		t.Errorf("ExportSucceeded counted %d times, want once", n)
	}
}

// A failure that will not pass, mid-run, ends the run for good: the error
// is ExportFailed (what the state machine does not retry), the upload is
// aborted, the lease given back and latest.json untouched. So does the
// state machine's abort after a slice that failed too often.
func TestFailedRunIsAborted(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"a user that is not JSON", "the abort input"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			j, client, bucket, in := started(t, 1_500)
			if how == "the abort input" {
				abort := bytes.Replace(in, []byte(`"checkpoint"`), []byte(`"abort"`), 1)
				out, err := invoke(t, j, abort)
				if err != nil || !bytes.Contains(out, []byte(`"aborted":true`)) {
					t.Fatalf("abort: %s, %v", out, err)
				}
			} else {
				j.users = brokenUsers{j.users}
				_, err := invoke(t, j, in)
				// aws-lambda-go reports the error's type name as its
				// errorType, which the state machine matches on.
				var failed *ExportFailed
				if !errors.As(err, &failed) || reflect.TypeOf(err).Elem().Name() != "ExportFailed" || !strings.Contains(err.Error(), "not JSON") {
					t.Fatalf("error %#v, want an ExportFailed", err)
				}
			}
			if n := openUploads(t, client, bucket); n != 0 {
				t.Errorf("%d uploads left open", n)
			}
			if l := lease(t, client, bucket); l != nil {
				t.Errorf("the lease %+v is still held", l)
			}
			if _, err := export.Latest(context.Background(), client, bucket, "users"); err == nil {
				t.Error("latest.json was written by a failed run")
			}
		})
	}
}

// brokenUsers passes one user that is not JSON.
type brokenUsers struct{ export.Users }

func (brokenUsers) WalkUsers(_ context.Context, _ *clerkapi.Cursor, fn func(json.RawMessage) error) error {
	return fn(json.RawMessage(`{"id":`))
}

// A checkpoint that comes back changed is refused whole (ExportFailed), not
// read loosely: a cursor mark of the wrong type would walk the users again
// and publish them twice. An abort or a checkpoint of null is refused too.
func TestCheckpointsAreReadStrictly(t *testing.T) {
	t.Parallel()
	j, client, bucket, in := started(t, 1_500)
	for name, event := range map[string][]byte{
		"a mark of the wrong type": regexp.MustCompile(`"mark":(\d+)`).ReplaceAll(in, []byte(`"mark":"$1"`)),
		"an unknown field":         bytes.Replace(in, []byte(`"parts":`), []byte(`"extra":1,"parts":`), 1),
		"a null checkpoint":        []byte(`{"checkpoint":null}`),
		"a null abort":             []byte(`{"abort":null}`),
		"no upload":                []byte(`{"checkpoint":{"lease":"20261201T000000Z-0000000000000000"}}`),
	} {
		_, err := invoke(t, j, event)
		var failed *ExportFailed
		if !errors.As(err, &failed) {
			t.Errorf("%s: %v, want ExportFailed", name, err)
		}
	}
	if _, err := export.Latest(context.Background(), client, bucket, "users"); err == nil {
		t.Error("latest.json was written from a changed checkpoint")
	}
}

// Failures that may pass are the state machine's to retry, and leave the
// run as it was: S3 not answering the lease's renewal, and Clerk failing in
// the first slice, after which the start answers the run's first
// checkpoint (a retried start would meet its own lease).
func TestFailuresThatMayPassKeepTheRun(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	j, client, bucket, fake := slicedJob(t, 1_500, &logs)
	fake.Fail(clerkfake.Failure{ServerErrors: 1_000, Paths: []string{"/v1/users"}})
	out, err := invoke(t, j, []byte(`{}`))
	if err != nil {
		t.Fatalf("a start whose first slice Clerk fails: %v, want its first checkpoint", err)
	}
	done, in := next(t, out)
	if done || !bytes.Contains(in, []byte(`"parts":0`)) || lease(t, client, bucket) == nil {
		t.Fatalf("the start answered %s; want the run's first checkpoint, its lease held", out)
	}
	fake.Fail(clerkfake.Failure{})

	flaky := &leaseOutage{Client: client}
	flaky.failing.Store(true)
	j.leases = exportrun.New(flaky, bucket, "users")
	_, err = invoke(t, j, in)
	var retry *ExportRetryable
	if !errors.As(err, &retry) || openUploads(t, client, bucket) != 1 {
		t.Fatalf("the lease unreadable: %v, %d uploads open; want ExportRetryable and the upload kept", err, openUploads(t, client, bucket))
	}
	flaky.failing.Store(false)
	for !done {
		if out, err = invoke(t, j, in); err != nil {
			t.Fatal(err)
		}
		done, in = next(t, out)
	}
	if latest, err := export.Latest(context.Background(), client, bucket, "users"); err != nil || latest.Users != 1_500 {
		t.Errorf("latest.json = %+v, %v", latest, err)
	}
}

// leaseOutage is S3 failing every read of the lease while failing is set.
type leaseOutage struct {
	*s3.Client
	failing atomic.Bool
}

func (l *leaseOutage) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if l.failing.Load() {
		return nil, errors.New("dial tcp: i/o timeout")
	}
	return l.Client.GetObject(ctx, in, opts...)
}

// The state machine retries a start whose answer it lost (a Lambda service
// error after the start ran): the retry takes the run's lease again rather
// than skip the night's export as another run's.
func TestRetriedScheduledStartIsNotSkipped(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	j, _, _, _ := slicedJob(t, 1_500, &logs)
	event, err := os.ReadFile("testdata/scheduled-event.json")
	if err != nil {
		t.Fatal(err)
	}
	var runs []string
	for range 2 {
		out, err := invoke(t, j, event)
		if err != nil {
			t.Fatal(err)
		}
		var r Result
		if err := json.Unmarshal(out, &r); err != nil || r.Skipped != "" || r.Checkpoint == nil {
			t.Fatalf("start: %s, %v; want a checkpoint, not skipped", out, err)
		}
		runs = append(runs, r.Checkpoint.Lease)
	}
	if runs[0] != runs[1] {
		t.Errorf("the retried start holds lease %s, the first %s; want the same run", runs[1], runs[0])
	}
}
