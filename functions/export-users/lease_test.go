package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"clerk-lambda/shared/export"
	"clerk-lambda/shared/export/exporttest"
	"clerk-lambda/shared/exportrun"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/metrics/metricstest"
	"clerk-lambda/shared/settings"
)

// lease reads the lease object under the test environment's prefix, or nil
// when there is none.
func lease(t *testing.T, client *s3.Client, bucket string) *exportrun.Lease {
	t.Helper()
	out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(exportrun.Key("users"))})
	var missing *s3types.NoSuchKey
	if errors.As(err, &missing) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	var l exportrun.Lease
	if err := json.NewDecoder(out.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	return &l
}

// testJob is a job on a fresh bucket with a small Clerk stand-in, logging
// to logs, and the lease store POST /admin/exports would use.
func testJob(t *testing.T, logs *bytes.Buffer) (*job, *exportrun.Store, string) {
	t.Helper()
	srv := exporttest.Need(t, s3srv)
	bucket := srv.Bucket(t)
	c, err := configFromEnv(settings.Map(env(exporttest.Clerk(t, 30), bucket)))
	if err != nil {
		t.Fatal(err)
	}
	return jobFor(c, srv.Client(), logging.New(logs, slog.LevelInfo)), exportrun.New(srv.Client(), bucket, "users"), bucket
}

// The on-demand event of POST /admin/exports runs the export for the lease
// taken for it, and the run releases it.
func TestOnDemandRunReleasesItsLease(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	j, leases, bucket := testJob(t, &logs)
	held, err := leases.Take(context.Background(), exportrun.OnDemand)
	if err != nil {
		t.Fatal(err)
	}
	out, err := lambda.NewHandler(j.handle).Invoke(context.Background(), exportrun.NewEvent(held.RunID))
	if err != nil {
		t.Fatal(err)
	}
	var sum Result
	if err := json.Unmarshal(out, &sum); err != nil || sum.RunID != held.RunID || sum.Users != 30 || sum.Skipped != "" {
		t.Errorf("summary = %s; want run %s with 30 users", out, held.RunID)
	}
	if l := lease(t, j.cfg.S3.(*s3.Client), bucket); l != nil {
		t.Errorf("the finished run left its lease: %+v", l)
	}
	latest, err := export.Latest(context.Background(), j.cfg.S3.(*s3.Client), bucket, "users")
	if err != nil || latest.Key != sum.Key {
		t.Errorf("latest.json = %+v, %v; want the run's export %s", latest, err, sum.Key)
	}
	run := `"trigger":"on-demand","runId":"` + held.RunID + `"`
	for _, want := range []string{`"msg":"export started",` + run + `,"bucket"`, `"msg":"export finished",` + run + `,"users":30,`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
	if m := metricstest.Lines(t, logs.String()); len(m) != 1 {
		t.Errorf("metrics = %+v, want one ExportSucceeded", m)
	}
}

// A scheduled event while another run holds the lease is skipped: no
// export, no error (the running export's success is the day's), one log
// line naming the run in progress, and the lease left as it was.
func TestScheduledRunSkipsWhileAnotherRuns(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	j, leases, bucket := testJob(t, &logs)
	held, err := leases.Take(context.Background(), exportrun.OnDemand)
	if err != nil {
		t.Fatal(err)
	}
	event, err := os.ReadFile("testdata/scheduled-event.json")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := j.handle(context.Background(), event)
	if err != nil || !strings.Contains(sum.Skipped, held.RunID+" (on-demand) is in progress") || sum.Key != "" {
		t.Errorf("handle = %+v, %v; want skipped for %s", sum, err, held.RunID)
	}
	if l := lease(t, j.cfg.S3.(*s3.Client), bucket); l == nil || *l != held.Lease {
		t.Errorf("lease after the skip = %+v, want %+v", l, held.Lease)
	}
	want := `"msg":"export skipped","event":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","trigger":"schedule","running":"` + held.RunID + `","runningTrigger":"on-demand"}`
	if !strings.Contains(logs.String(), want) || strings.Count(logs.String(), "\n") != 1 {
		t.Errorf("logs = %s; want the one line %s", logs.String(), want)
	}
	if _, err := export.Latest(context.Background(), j.cfg.S3.(*s3.Client), bucket, "users"); err == nil {
		t.Error("a skipped run wrote latest.json")
	}
}

// An on-demand event whose run does not hold the lease (it expired and
// another run took it, or it was released) fails without exporting.
func TestOnDemandRunWithoutItsLeaseFails(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	j, leases, _ := testJob(t, &logs)
	other, err := leases.Take(context.Background(), exportrun.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	id := exportrun.NewRunID(other.StartedAt)
	_, err = j.handle(context.Background(), exportrun.NewEvent(id))
	if !errors.Is(err, exportrun.ErrNotHeld) || !strings.HasPrefix(err.Error(), "on-demand export "+id+" not started: ") {
		t.Errorf("handle: %v; want ErrNotHeld for %s", err, id)
	}
	if !strings.Contains(logs.String(), `"msg":"export failed","trigger":"on-demand","runId":"`+id+`","error":"on-demand export `) {
		t.Errorf("logs lack the failure:\n%s", logs.String())
	}
}

// A malformed event fails the invocation with one line, through
// aws-lambda-go's own plumbing, and starts nothing.
func TestMalformedEventsAreRefused(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	j, _, bucket := testJob(t, &logs)
	for event, want := range map[string]string{
		`[1]`:  "the event is not a JSON object",
		`"go"`: "the event is not a JSON object",
		`{"source":"clerk-lambda.admin-exports","runId":"20261126T171400Z-9f86d081884c7d65","onDemand":true,"force":true}`: `on-demand event: unknown field "force"`,
		`{"onDemand":true}`:            `on-demand event: source must be`,
		`{"id":7}`:                     "the event is not an EventBridge event",
		`{"time":"yesterday at noon"}`: "the event is not an EventBridge event",
	} {
		_, err := lambda.NewHandler(j.handle).Invoke(context.Background(), []byte(event))
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("event %s: %v; want one line starting %q", event, err, want)
		}
	}
	if l := lease(t, j.cfg.S3.(*s3.Client), bucket); l != nil {
		t.Errorf("a refused event took the lease: %+v", l)
	}
}
