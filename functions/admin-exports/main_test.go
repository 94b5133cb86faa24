package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"clerk-lambda/internal/lockedio"
	"clerk-lambda/shared/export/exporttest"
	"clerk-lambda/shared/exportrun"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/respond"
	"clerk-lambda/shared/settings"
)

var s3srv *exporttest.Server

func TestMain(m *testing.M) { os.Exit(exporttest.Main(m, &s3srv)) }

const (
	exportFunction = "clerk-lambda-ExportUsersFunction-1A2B3C"
	allowedMachine = "mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk"
	otherMachine   = "mch_2yOtherMachineNotListed0000"
	adminOrg       = "org_2abcAdmins"
)

// env is the function's environment as the template sets it.
func env(bucket string) map[string]string {
	return map[string]string{
		"EXPORT_BUCKET":   bucket,
		"EXPORT_PREFIX":   "users/",
		"EXPORT_FUNCTION": exportFunction,
		"ADMIN_ORG_ID":    adminOrg,
		"ADMIN_MACHINES":  allowedMachine + ", mch_another",
	}
}

// invoker stands in for Lambda: it records every invocation and answers
// with err.
type invoker struct {
	mu    sync.Mutex
	calls []*awslambda.InvokeInput
	err   error
}

func (f *invoker) Invoke(_ context.Context, in *awslambda.InvokeInput, _ ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	return &awslambda.InvokeOutput{StatusCode: http.StatusAccepted}, nil
}

func (f *invoker) invocations() []*awslambda.InvokeInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*awslambda.InvokeInput(nil), f.calls...)
}

// fixture is a handler on a fresh bucket of the test server, with a fake
// Lambda and its logs.
type fixture struct {
	h      *handler
	lambda *invoker
	client *s3.Client
	bucket string
	logs   *lockedio.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := exporttest.Need(t, s3srv)
	f := &fixture{lambda: &invoker{}, client: srv.Client(), bucket: srv.Bucket(t), logs: &lockedio.Buffer{}}
	c, err := configFromEnv(settings.Map(env(f.bucket)))
	if err != nil {
		t.Fatal(err)
	}
	f.h = handlerFor(c, f.client, f.lambda, logging.New(f.logs, slog.LevelInfo))
	return f
}

// post sends POST /admin/exports from the caller whose authorizer context
// is caller.
func (f *fixture) post(t *testing.T, caller map[string]any) events.APIGatewayV2HTTPResponse {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{RouteKey: route}
	if caller != nil {
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: caller}
	}
	res, err := f.h.handle(context.Background(), req)
	if err != nil {
		t.Fatalf("handle returned an error: %v", err)
	}
	return res
}

// lease is the stored lease, or nil when there is none.
func (f *fixture) lease(t *testing.T) *exportrun.Lease {
	t.Helper()
	out, err := f.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(f.bucket), Key: aws.String("users/run.lock")})
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

// Authorizer contexts of the callers.
func exp() string { return strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10) }

func session(userID string, claims string) map[string]any {
	c := map[string]any{"userId": userID, "sessionId": "sess_1", "exp": exp()}
	if claims != "" {
		c["claims"] = claims
	}
	return c
}

func admin() map[string]any { return session("user_admin", `{"metadata":{"role":"admin"}}`) }

func machineToken(typ, subject string) map[string]any {
	c := map[string]any{"tokenType": typ, "subject": subject, "tokenId": "mt_1", "exp": exp()}
	if strings.HasPrefix(subject, "user_") {
		c["userId"] = subject
	}
	return c
}

// accepted checks a 202 and returns its run id.
func accepted(t *testing.T, res events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	var body started
	if res.StatusCode != http.StatusAccepted || json.Unmarshal([]byte(res.Body), &body) != nil || !exportrun.ValidRunID(body.RunID) {
		t.Fatalf("got %d %s; want 202 with a run id", res.StatusCode, res.Body)
	}
	return body.RunID
}

// refused checks an error answer's status and code.
func refused(t *testing.T, res events.APIGatewayV2HTTPResponse, status int, code string) respond.ErrorDetail {
	t.Helper()
	var body respond.ErrorBody
	if res.StatusCode != status || json.Unmarshal([]byte(res.Body), &body) != nil || body.Error.Code != code {
		t.Fatalf("got %d %s; want %d %s", res.StatusCode, res.Body, status, code)
	}
	return body.Error
}

// An admin's POST starts one run: 202 with its id, the lease stored for it,
// and exactly one asynchronous invocation of the export with the on-demand
// event. A second POST while that run holds the lease is 409 naming it,
// and invokes nothing.
func TestPostStartsOneRunAndRefusesAConcurrentOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	runID := accepted(t, f.post(t, admin()))

	if l := f.lease(t); l == nil || l.RunID != runID || l.Trigger != exportrun.OnDemand || !l.ExpiresAt.After(time.Now().Add(exportrun.MaxRun)) {
		t.Errorf("stored lease = %+v; want run %s, on-demand, live past a run's length", l, runID)
	}
	calls := f.lambda.invocations()
	if len(calls) != 1 {
		t.Fatalf("%d invocations, want 1", len(calls))
	}
	in := calls[0]
	if aws.ToString(in.FunctionName) != exportFunction || in.InvocationType != lambdatypes.InvocationTypeEvent {
		t.Errorf("invoked %s as %q; want %s as Event", aws.ToString(in.FunctionName), in.InvocationType, exportFunction)
	}
	if ev, ok, err := exportrun.ParseEvent(in.Payload); err != nil || !ok || ev.RunID != runID {
		t.Errorf("payload %s: %+v, %v, %v; want the on-demand event of %s", in.Payload, ev, ok, err, runID)
	}
	var payload map[string]any
	if json.Unmarshal(in.Payload, &payload) != nil || len(payload) != 3 || payload["source"] != "clerk-lambda.admin-exports" || payload["onDemand"] != true {
		t.Errorf("payload = %s", in.Payload)
	}

	e := refused(t, f.post(t, admin()), http.StatusConflict, "export_in_progress")
	if !strings.Contains(e.Message, "export "+runID+" (on-demand) is in progress") {
		t.Errorf("409 message %q does not name the run %s", e.Message, runID)
	}
	if n := len(f.lambda.invocations()); n != 1 {
		t.Errorf("%d invocations after the 409, want still 1", n)
	}
	for _, want := range []string{
		`"msg":"POST /admin/exports","status":202,"tokenType":"session_token","userId":"user_admin","runId":"` + runID + `"}`,
		`"msg":"POST /admin/exports","status":409,"tokenType":"session_token","userId":"user_admin","runId":"` + runID + `","error":"export ` + runID,
	} {
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, f.logs.String())
		}
	}
}

// A lease whose run was killed before releasing it (past its expiry) does
// not block a new run.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	old := exportrun.New(f.client, f.bucket, "users")
	old.Now = func() time.Time { return time.Now().Add(-exportrun.TTL - time.Minute) }
	stale, err := old.Take(context.Background(), exportrun.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	runID := accepted(t, f.post(t, admin()))
	if runID == stale.RunID {
		t.Fatal("the new run has the stale run's id")
	}
	if l := f.lease(t); l == nil || l.RunID != runID {
		t.Errorf("stored lease = %+v, want the new run's", l)
	}
	if n := len(f.lambda.invocations()); n != 1 {
		t.Errorf("%d invocations, want 1", n)
	}
}

// Concurrent POSTs: exactly one starts a run, every other is 409 naming it,
// and the export is invoked once.
func TestConcurrentPostsStartOneRun(t *testing.T) {
	t.Parallel()
	for _, callers := range []int{2, 2, 2, 8} {
		f := newFixture(t)
		results := make([]events.APIGatewayV2HTTPResponse, callers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				<-start
				results[i] = f.post(t, admin())
			})
		}
		close(start)
		wg.Wait()
		var runs []string
		conflicts := 0
		for _, res := range results {
			switch res.StatusCode {
			case http.StatusAccepted:
				runs = append(runs, accepted(t, res))
			case http.StatusConflict:
				conflicts++
			default:
				t.Errorf("a concurrent POST got %d %s", res.StatusCode, res.Body)
			}
		}
		if len(runs) != 1 || conflicts != callers-1 {
			t.Fatalf("%d callers: %d runs started (%v), %d refused; want 1 and %d", callers, len(runs), runs, conflicts, callers-1)
		}
		for _, res := range results {
			if res.StatusCode == http.StatusConflict && !strings.Contains(res.Body, runs[0]) {
				t.Errorf("409 %s does not name the run %s", res.Body, runs[0])
			}
		}
		if n := len(f.lambda.invocations()); n != 1 {
			t.Errorf("%d callers: %d invocations, want 1", callers, n)
		}
	}
}

// Who may start an export: admins (by session), and the machines
// ADMIN_MACHINES lists, by their M2M tokens. Other sessions and machines
// are 403 forbidden; API keys and OAuth tokens are not taken at all.
func TestWhoMayStartAnExport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		caller map[string]any
		status int
		code   string
	}{
		{"metadata admin", admin(), http.StatusAccepted, ""},
		{"organization admin", func() map[string]any {
			c := session("user_orgadmin", "")
			c["orgId"], c["orgRole"] = adminOrg, "org:admin"
			return c
		}(), http.StatusAccepted, ""},
		{"allowed machine", machineToken("m2m_token", allowedMachine), http.StatusAccepted, ""},
		{"signed-in user", session("user_alice", ""), http.StatusForbidden, "forbidden"},
		{"admin of another organization", func() map[string]any {
			c := session("user_mallory", "")
			c["orgId"], c["orgRole"] = "org_2hersOwn", "org:admin"
			return c
		}(), http.StatusForbidden, "forbidden"},
		{"machine not listed", machineToken("m2m_token", otherMachine), http.StatusForbidden, "forbidden"},
		{"machine claiming admin metadata", func() map[string]any {
			c := machineToken("m2m_token", otherMachine)
			c["claims"] = `{"metadata":{"role":"admin"}}`
			return c
		}(), http.StatusForbidden, "forbidden"},
		{"an admin's API key", machineToken("api_key", "user_admin"), http.StatusForbidden, "token_type_not_accepted"},
		{"an allowed machine's API key", machineToken("api_key", allowedMachine), http.StatusForbidden, "token_type_not_accepted"},
		{"OAuth token", machineToken("oauth_token", "user_admin"), http.StatusForbidden, "token_type_not_accepted"},
		{"no authorizer context", nil, http.StatusUnauthorized, "unauthenticated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			res := f.post(t, tc.caller)
			invoked := len(f.lambda.invocations())
			if tc.status == http.StatusAccepted {
				accepted(t, res)
				if invoked != 1 {
					t.Errorf("%d invocations, want 1", invoked)
				}
				return
			}
			refused(t, res, tc.status, tc.code)
			if invoked != 0 || f.lease(t) != nil {
				t.Errorf("a refused caller invoked the export %d times, lease %+v", invoked, f.lease(t))
			}
		})
	}
}

// A machine's request is logged by the machine's id, not a user's.
func TestMachineIsLoggedByItsID(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	runID := accepted(t, f.post(t, machineToken("m2m_token", allowedMachine)))
	want := `"status":202,"tokenType":"m2m_token","machine":"` + allowedMachine + `","runId":"` + runID + `"}`
	if !strings.Contains(f.logs.String(), want) {
		t.Errorf("logs lack %s:\n%s", want, f.logs.String())
	}
}

// When the export cannot be invoked the lease is given back, so the next
// request can start it, and the answer is 502.
func TestFailedInvokeReleasesTheLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.lambda.err = errors.New("TooManyRequestsException: Rate Exceeded")
	refused(t, f.post(t, admin()), http.StatusBadGateway, "export_not_started")
	if l := f.lease(t); l != nil {
		t.Errorf("the lease stayed after the failed invocation: %+v", l)
	}
	if !strings.Contains(f.logs.String(), `"level":"ERROR","msg":"POST /admin/exports","status":502,`) ||
		!strings.Contains(f.logs.String(), `"error":"invoke the export: TooManyRequestsException: Rate Exceeded"}`) {
		t.Errorf("logs lack the failure:\n%s", f.logs.String())
	}
	f.lambda.err = nil
	accepted(t, f.post(t, admin()))
}

// When S3 cannot be reached, or refuses, no export is invoked and the
// answer is 503.
func TestLeaseFailureInvokesNothing(t *testing.T) {
	t.Parallel()
	srv := exporttest.Need(t, s3srv)
	c, err := configFromEnv(settings.Map(env("no-such-bucket-here")))
	if err != nil {
		t.Fatal(err)
	}
	fake := &invoker{}
	var logs bytes.Buffer
	h := handlerFor(c, srv.Client(), fake, logging.New(&logs, slog.LevelInfo))
	req := events.APIGatewayV2HTTPRequest{RouteKey: route}
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: admin()}
	res, _ := h.handle(context.Background(), req)
	refused(t, res, http.StatusServiceUnavailable, "export_unavailable")
	if n := len(fake.invocations()); n != 0 {
		t.Errorf("%d invocations, want none", n)
	}
	if !strings.Contains(logs.String(), `"error":"take the export lease: `) {
		t.Errorf("logs lack S3's error:\n%s", logs.String())
	}
}

// Settings that are missing or malformed stop the function at start with
// one line naming the variable; the rest have defaults.
func TestSettingsAreChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  map[string]string
		want string
	}{
		{"no function", map[string]string{"EXPORT_FUNCTION": ""}, "EXPORT_FUNCTION must be set to the export function's name"},
		{"bad function", map[string]string{"EXPORT_FUNCTION": "export users"}, "EXPORT_FUNCTION: not a Lambda function name or ARN"},
		{"no bucket", map[string]string{"EXPORT_BUCKET": ""}, "EXPORT_BUCKET must be set"},
		{"bad prefix", map[string]string{"EXPORT_PREFIX": "/users"}, "EXPORT_PREFIX: must not start with a slash"},
		{"bad machine", map[string]string{"ADMIN_MACHINES": "user_123"}, `ADMIN_MACHINES: "user_123" is not a machine id`},
		{"bad organization", map[string]string{"ADMIN_ORG_ID": "admins"}, "ADMIN_ORG_ID: not an organization id"},
		{"bad skew", map[string]string{"CLERK_CLOCK_SKEW": "soon"}, "CLERK_CLOCK_SKEW: "},
	} {
		e := env("exports")
		for k, v := range tc.set {
			e[k] = v
		}
		_, err := configFromEnv(settings.Map(e))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line starting %q", tc.name, err, tc.want)
		}
	}
	for _, fn := range []string{"ExportUsersFunction", "arn:aws:lambda:us-east-1:123456789012:function:clerk-lambda-ExportUsersFunction-1A2B3C:live"} {
		e := env("exports")
		e["EXPORT_FUNCTION"] = fn
		c, err := configFromEnv(settings.Map(e))
		if err != nil || c.function != fn || c.export.Prefix != "users" || len(c.machines) != 2 {
			t.Errorf("EXPORT_FUNCTION=%s: %+v, %v", fn, c, err)
		}
	}
	if _, err := newHandler(settings.Map(env("exports")), logging.New(&bytes.Buffer{}, slog.LevelInfo)); err != nil {
		t.Errorf("newHandler: %v", err)
	}
}
