package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"clerk-lambda/dev/cmd/devapi/gateway/gatewaytest"
	"clerk-lambda/dev/statemachine"
	"clerk-lambda/shared/export/exporttest"
)

// TestExportOnDemand starts the export as the banner's curl line does,
// POST /admin/exports with the dev machine's M2M token, and follows it
// through the local Step Functions API, which runs the template's state
// machine, to the export function and the local S3: 202, 409 while the run
// holds the lease, the export's file, and 202 again once the run has ended.
func TestExportOnDemand(t *testing.T) {
	t.Parallel()
	versitygwBin(t)
	s, log := startProject(t)
	if s.aws == nil {
		t.Fatal("the local API started without the local S3")
	}
	checkAWSEnv(t, s)
	if want := "Exports go to s3://local-exports/users/ in the local S3 at " + s.aws.s3.URL; len(log.linesFor(want)) != 1 {
		t.Errorf("the banner does not say where exports go (%s)", want)
	}
	// Each run waits here before the export function starts, so that the
	// second POST meets the first run's lease whatever the timing.
	if s.aws.sfn == nil {
		t.Fatal("the local API started without the local Step Functions API")
	}
	held := &heldInvocations{Invoker: s.aws.sfn.fns, release: make(chan struct{}), ended: make(chan []byte, 2)}
	s.aws.sfn.fns = held
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token, _, err := s.standIn.m2m(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	post := func() (int, string) {
		resp, body := gatewaytest.Call(t, "POST", s.URL()+"/admin/exports", map[string]string{"Authorization": "Bearer " + token})
		return resp.StatusCode, body
	}

	status, body := post()
	var first started
	if err := json.Unmarshal([]byte(body), &first); status != 202 || err != nil || first.RunID == "" {
		t.Fatalf("POST /admin/exports = %d %s, want 202 with a run id", status, body)
	}
	if status, body := post(); status != 409 || !strings.Contains(body, "export_in_progress") || !strings.Contains(body, first.RunID) {
		t.Errorf("POST /admin/exports while %s runs = %d %s, want 409 export_in_progress naming it", first.RunID, status, body)
	}
	close(held.release)
	summary := held.wait(t, ctx)
	if summary.RunID != first.RunID || summary.Users != len(s.standIn.fake.Users()) {
		t.Errorf("the export answered %+v, want run %s with the stand-in's %d users", summary, first.RunID, len(s.standIn.fake.Users()))
	}
	checkExport(t, ctx, s)

	status, body = post()
	var second started
	if err := json.Unmarshal([]byte(body), &second); status != 202 || err != nil || second.RunID == first.RunID {
		t.Errorf("POST /admin/exports after the run = %d %s, want 202 with a new run id", status, body)
	} else {
		held.wait(t, ctx)
	}
	secret := s.aws.s3.Env()["AWS_SECRET_ACCESS_KEY"]
	for _, l := range log.all() {
		if strings.Contains(l, secret) || strings.Contains(l, token) {
			t.Errorf("a secret reached the log: %s", l)
		}
	}
}

// started is the 202's body.
type started struct {
	RunID string `json:"runId"`
}

// summary is what the export function answers: the run and its users.
type summary struct {
	RunID string `json:"runId"`
	Users int    `json:"users"`
}

// heldInvocations holds each invocation until release is closed, and hands
// each answer to ended.
type heldInvocations struct {
	statemachine.Invoker
	release chan struct{}
	ended   chan []byte
}

func (h *heldInvocations) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	select {
	case <-h.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	answer, err := h.Invoker.Invoke(ctx, name, payload)
	h.ended <- answer
	return answer, err
}

// wait returns the answer of the next invocation to end.
func (h *heldInvocations) wait(t *testing.T, ctx context.Context) summary {
	t.Helper()
	select {
	case answer := <-h.ended:
		var s summary
		if err := json.Unmarshal(answer, &s); err != nil {
			t.Fatalf("the export answered %q: %v", answer, err)
		}
		return s
	case <-ctx.Done():
		t.Fatal("the export did not end in time")
		return summary{}
	}
}

// checkAWSEnv checks that the functions that use the export, and they
// alone, reach the local S3, and that the one that starts it reaches the
// local Step Functions API.
func checkAWSEnv(t *testing.T, s *devServer) {
	t.Helper()
	for name, f := range s.fns {
		_, exports := f.spec.Env["EXPORT_BUCKET"]
		if got := f.env["AWS_ENDPOINT_URL_S3"]; (got == s.aws.s3.URL) != exports {
			t.Errorf("%s: AWS_ENDPOINT_URL_S3 %q; declares EXPORT_BUCKET %v", name, got, exports)
		}
	}
	env := s.fns["AdminExportsFunction"].env
	if s.aws.machine == nil {
		t.Fatal("the template has no state machine")
	}
	if got := env["AWS_ENDPOINT_URL_SFN"]; got != s.aws.sfnURL() {
		t.Errorf("AdminExportsFunction: AWS_ENDPOINT_URL_SFN %q, want the local Step Functions API's %s", got, s.aws.sfnURL())
	}
	if got, want := env["EXPORT_STATE_MACHINE"], stateMachineARN(s.aws.machine.Name); got != want {
		t.Errorf("AdminExportsFunction: EXPORT_STATE_MACHINE %q, want %s", got, want)
	}
}

// checkExport reads latest.json from the local S3 and checks that the
// object it names holds every user of the stand-in.
func checkExport(t *testing.T, ctx context.Context, s *devServer) {
	t.Helper()
	env := s.fns["ExportUsersFunction"].env
	bucket, prefix := env["EXPORT_BUCKET"], strings.TrimSuffix(env["EXPORT_PREFIX"], "/")
	client := s.aws.s3.Client()
	latest, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + "/latest.json")})
	if err != nil {
		t.Fatalf("read latest.json: %v", err)
	}
	defer latest.Body.Close()
	var manifest struct {
		Key   string `json:"key"`
		Users int    `json:"users"`
	}
	if err := json.NewDecoder(latest.Body).Decode(&manifest); err != nil || manifest.Users != len(s.standIn.fake.Users()) {
		t.Fatalf("latest.json: %+v, %v; want the stand-in's %d users", manifest, err, len(s.standIn.fake.Users()))
	}
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(manifest.Key)})
	if err != nil {
		t.Fatalf("read the export %s: %v", manifest.Key, err)
	}
	defer obj.Body.Close()
	exporttest.CheckUsers(t, obj.Body, exporttest.IDs(s.standIn.fake))
}

// versitygwBin is Versity's S3 gateway, or skips the test without it.
func versitygwBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv(exporttest.EnvBin)
	if _, err := os.Stat(bin); bin == "" || err != nil {
		t.Skip(exporttest.EnvBin + " is not set: run make test (it builds the S3 server)")
	}
	return bin
}
