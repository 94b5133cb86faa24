package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/lambdaevents"
	"clerk-lambda/shared/export"
	"clerk-lambda/shared/export/exporttest"
	"clerk-lambda/shared/exportrun"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/metrics"
	"clerk-lambda/shared/metrics/metricstest"
	"clerk-lambda/shared/settings"
)

var s3srv *exporttest.Server

// runMainEnv makes the test binary run main, to see how the function stops
// at start.
const runMainEnv = "EXPORT_USERS_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) != "" {
		main()
		return
	}
	os.Exit(exporttest.Main(m, &s3srv))
}

// env is the function's environment as the template sets it, pointed at
// the stand-in.
func env(fake *clerkfake.Server, bucket string) map[string]string {
	return map[string]string{
		"CLERK_SECRET_KEY":      fake.SecretKey(),
		"CLERK_API_URL":         fake.URL(),
		"CLERK_PUBLISHABLE_KEY": fake.PublishableKey(),
		"EXPORT_BUCKET":         bucket,
		"EXPORT_PREFIX":         "users/",
	}
}

// A scheduled invocation, through aws-lambda-go's own handler plumbing,
// exports every user and answers with the run's summary.
func TestScheduledRunExportsEveryUser(t *testing.T) {
	t.Parallel()
	srv := exporttest.Need(t, s3srv)
	fake := exporttest.Clerk(t, 1_200)
	bucket := srv.Bucket(t)
	s, err := configFromEnv(settings.Map(env(fake, bucket)))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	client := srv.Client()
	j := jobFor(s, client, logging.New(&logs, slog.LevelInfo))

	event, err := os.ReadFile("testdata/scheduled-event.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	out, err := lambda.NewHandler(j.handle).Invoke(ctx, event)
	if err != nil {
		t.Fatal(err)
	}
	var sum map[string]any
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatal(err)
	}
	key, _ := sum["key"].(string)
	if sum["users"] != 1200.0 || sum["bytes"].(float64) <= 0 || sum["seconds"].(float64) < 0 ||
		!regexp.MustCompile(`^users/\d{4}/\d{2}/\d{2}/users-\d{8}T\d{6}Z-[0-9a-f]{8}\.jsonl\.gz$`).MatchString(key) {
		t.Errorf("summary = %s", out)
	}

	latest, err := export.Latest(context.Background(), client, bucket, "users")
	if err != nil {
		t.Fatal(err)
	}
	if latest.Key != key || latest.Users != 1200 || latest.Issuer != fake.Issuer() {
		t.Errorf("latest.json = %+v; want key %s, 1200 users, issuer %s", latest, key, fake.Issuer())
	}
	obj, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	exporttest.CheckUsers(t, obj.Body, exporttest.IDs(fake))

	runID, _ := sum["runId"].(string)
	if !exportrun.ValidRunID(runID) {
		t.Errorf("summary's runId = %q, want a run id", runID)
	}
	if l := lease(t, client, bucket); l != nil {
		t.Errorf("the finished run left its lease: %+v", l)
	}
	const run = `"event":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","trigger":"schedule","runId":"`
	for _, want := range []string{
		`"msg":"export started",` + run + runID + `","bucket":"` + bucket + `","prefix":"users","requestId":"req-1"}`,
		`"msg":"export finished",` + run + runID + `","users":1200,`,
		`,"requestId":"req-1"}` + "\n" + `{"time"`, // on the first line, and on the second below
		`.jsonl.gz","ExportSucceeded":1,"_aws":{`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
	if m := metricstest.Lines(t, logs.String()); len(m) != 1 || m[0].Name != metrics.ExportSucceeded || len(m[0].Dimensions) != 0 {
		t.Errorf("metrics = %+v, want one ExportSucceeded", m)
	}
	if strings.Contains(logs.String(), fake.SecretKey()) {
		t.Error("the logs contain the secret key")
	}
}

// The scheduled event in testdata/ fills the same fields of the EventBridge
// envelope as an event aws-lambda-go samples: it has no sample of a
// scheduled event itself (only an inline one in its tests), so the
// comparison is with a CodeDeploy state change, delivered in the same
// envelope.
func TestScheduledEventMatchesAWSSample(t *testing.T) {
	t.Parallel()
	event, err := os.ReadFile("testdata/scheduled-event.json")
	if err != nil {
		t.Fatal(err)
	}
	lambdaevents.SameFields[events.EventBridgeEvent](t, event, "codedeploy-deployment-event.json")
}

// A failed run returns its error to Lambda, which marks the invocation
// failed, and logs it.
func TestFailedRunIsReportedAndLogged(t *testing.T) {
	t.Parallel()
	srv := exporttest.Need(t, s3srv)
	fake := exporttest.Clerk(t, 10)
	e := env(fake, srv.Bucket(t))
	e["CLERK_SECRET_KEY"] = "sk_test_wrong"
	s, err := configFromEnv(settings.Map(e))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	bucket := e["EXPORT_BUCKET"]
	_, err = jobFor(s, srv.Client(), logging.New(&logs, slog.LevelInfo)).handle(context.Background(), json.RawMessage(`{"id":"e-2"}`))
	if err == nil || !strings.HasPrefix(err.Error(), "export stopped after 0 users: clerkapi: list users: HTTP 401 clerk_key_invalid") {
		t.Fatalf("handle: %v; want the Clerk key error", err)
	}
	if !regexp.MustCompile(`"msg":"export failed","event":"e-2","trigger":"schedule","runId":"[^"]+","error":"export stopped after 0 users: `).MatchString(logs.String()) {
		t.Errorf("logs lack the failure:\n%s", logs.String())
	}
	if l := lease(t, srv.Client(), bucket); l != nil {
		t.Errorf("the failed run left its lease: %+v", l)
	}
}

// Settings that are missing or malformed stop the function at start with
// one line naming the variable.
func TestSettingsAreChecked(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"CLERK_SECRET_KEY":      "sk_test_x",
		"CLERK_PUBLISHABLE_KEY": "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k",
		"EXPORT_BUCKET":         "exports",
	}
	for _, tc := range []struct {
		name string
		set  map[string]string
		want string
	}{
		{"no bucket", map[string]string{"EXPORT_BUCKET": ""}, "EXPORT_BUCKET must be set to the bucket the export writes to"},
		{"bad bucket", map[string]string{"EXPORT_BUCKET": "s3://exports"}, "EXPORT_BUCKET: not a valid S3 bucket name"},
		{"leading slash", map[string]string{"EXPORT_PREFIX": "/users"}, "EXPORT_PREFIX: must not start with a slash"},
		{"bad prefix", map[string]string{"EXPORT_PREFIX": "users/../secrets"}, "EXPORT_PREFIX: must be segments of"},
		{"no issuer", map[string]string{"CLERK_PUBLISHABLE_KEY": ""}, "CLERK_ISSUER or CLERK_PUBLISHABLE_KEY must be set"},
		{"no secret", map[string]string{"CLERK_SECRET_KEY": ""}, "CLERK_SECRET_KEY or CLERK_SECRET_KEY_PARAMETER must be set"},
		{"plain http to Clerk", map[string]string{"CLERK_API_URL": "http://api.example.com/v1"}, "CLERK_API_URL: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := map[string]string{}
			for k, v := range base {
				e[k] = v
			}
			for k, v := range tc.set {
				e[k] = v
			}
			_, err := configFromEnv(settings.Map(e))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("configFromEnv: %v; want one line starting %q", err, tc.want)
			}
		})
	}
	s, err := configFromEnv(settings.Map(base))
	if err != nil || s.export.Prefix != export.DefaultPrefix || s.issuer != "https://clerk.example.com" {
		t.Errorf("defaults: prefix %q, issuer %q, %v; want %q, https://clerk.example.com", s.export.Prefix, s.issuer, err, export.DefaultPrefix)
	}
}

// The function's process stops at start with one line on stderr and a
// non-zero status when EXPORT_BUCKET is missing.
func TestMissingBucketStopsTheFunctionAtStart(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{runMainEnv + "=1", "CLERK_SECRET_KEY=sk_test_x", "CLERK_PUBLISHABLE_KEY=pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("exit status %d (%v); want 1", code, err)
	}
	const want = "export-users: EXPORT_BUCKET must be set to the bucket the export writes to\n"
	if stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}
