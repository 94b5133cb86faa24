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
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

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
	stateMachine   = "arn:aws:states:us-east-1:123456789012:stateMachine:ExportStateMachine-1A2B3C"
	allowedMachine = "mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk"
	otherMachine   = "mch_2yOtherMachineNotListed0000"
	adminOrg       = "org_2abcAdmins"
)

// env is the function's environment as the template sets it.
func env(bucket string) map[string]string {
	return map[string]string{
		"EXPORT_BUCKET":        bucket,
		"EXPORT_PREFIX":        "users/",
		"EXPORT_STATE_MACHINE": stateMachine,
		"ADMIN_ORG_ID":         adminOrg,
		"ADMIN_MACHINES":       allowedMachine + ", mch_another",
	}
}

// starter stands in for Step Functions: it records every StartExecution
// and answers with err.
type starter struct {
	mu    sync.Mutex
	calls []*sfn.StartExecutionInput
	err   error
}

func (f *starter) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	arn := strings.Replace(aws.ToString(in.StateMachineArn), ":stateMachine:", ":execution:", 1) + ":" + aws.ToString(in.Name)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn), StartDate: aws.Time(time.Now())}, nil
}

func (f *starter) executions() []*sfn.StartExecutionInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*sfn.StartExecutionInput(nil), f.calls...)
}

// fixture is a handler on a fresh bucket of the test server, with a fake
// Step Functions and its logs.
type fixture struct {
	h      *handler
	sfn    *starter
	client *s3.Client
	bucket string
	logs   *lockedio.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := exporttest.Need(t, s3srv)
	f := &fixture{sfn: &starter{}, client: srv.Client(), bucket: srv.Bucket(t), logs: &lockedio.Buffer{}}
	c, err := configFromEnv(settings.Map(env(f.bucket)))
	if err != nil {
		t.Fatal(err)
	}
	f.h = handlerFor(c, f.client, f.sfn, logging.New(f.logs, slog.LevelInfo))
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
// and exactly one execution of the state machine, named by the run's id,
// with the on-demand event as its input. A second POST while that run holds
// the lease is 409 naming it, and starts nothing.
func TestPostStartsOneRunAndRefusesAConcurrentOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	runID := accepted(t, f.post(t, admin()))

	if l := f.lease(t); l == nil || l.RunID != runID || l.Trigger != exportrun.OnDemand || !l.ExpiresAt.After(time.Now().Add(exportrun.MaxRun)) {
		t.Errorf("stored lease = %+v; want run %s, on-demand, live past a run's length", l, runID)
	}
	calls := f.sfn.executions()
	if len(calls) != 1 {
		t.Fatalf("%d executions, want 1", len(calls))
	}
	in := calls[0]
	if aws.ToString(in.StateMachineArn) != stateMachine || aws.ToString(in.Name) != runID {
		t.Errorf("started %s named %q; want %s named %s", aws.ToString(in.StateMachineArn), aws.ToString(in.Name), stateMachine, runID)
	}
	input := []byte(aws.ToString(in.Input))
	if ev, ok, err := exportrun.ParseEvent(input); err != nil || !ok || ev.RunID != runID {
		t.Errorf("input %s: %+v, %v, %v; want the on-demand event of %s", input, ev, ok, err, runID)
	}
	var payload map[string]any
	if json.Unmarshal(input, &payload) != nil || len(payload) != 3 || payload["source"] != "clerk-lambda.admin-exports" || payload["onDemand"] != true {
		t.Errorf("input = %s", input)
	}

	e := refused(t, f.post(t, admin()), http.StatusConflict, "export_in_progress")
	if !strings.Contains(e.Message, "export "+runID+" (on-demand) is in progress") {
		t.Errorf("409 message %q does not name the run %s", e.Message, runID)
	}
	if n := len(f.sfn.executions()); n != 1 {
		t.Errorf("%d executions after the 409, want still 1", n)
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
	if n := len(f.sfn.executions()); n != 1 {
		t.Errorf("%d executions, want 1", n)
	}
}

// Concurrent POSTs: exactly one starts a run, every other is 409 naming it,
// and the state machine is started once.
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
		if n := len(f.sfn.executions()); n != 1 {
			t.Errorf("%d callers: %d executions, want 1", callers, n)
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
			started := len(f.sfn.executions())
			if tc.status == http.StatusAccepted {
				accepted(t, res)
				if started != 1 {
					t.Errorf("%d executions, want 1", started)
				}
				return
			}
			refused(t, res, tc.status, tc.code)
			if started != 0 || f.lease(t) != nil {
				t.Errorf("a refused caller started the export %d times, lease %+v", started, f.lease(t))
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

// When the state machine cannot be started the lease is given back, so the
// next request can start it, and the answer is 502.
func TestFailedStartReleasesTheLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sfn.err = &sfntypes.StateMachineDoesNotExist{Message: aws.String("State Machine Does Not Exist")}
	refused(t, f.post(t, admin()), http.StatusBadGateway, "export_not_started")
	if l := f.lease(t); l != nil {
		t.Errorf("the lease stayed after the failed start: %+v", l)
	}
	if !strings.Contains(f.logs.String(), `"level":"ERROR","msg":"POST /admin/exports","status":502,`) ||
		!strings.Contains(f.logs.String(), `"error":"start the export: StateMachineDoesNotExist: State Machine Does Not Exist"}`) {
		t.Errorf("logs lack the failure:\n%s", f.logs.String())
	}
	f.sfn.err = nil
	accepted(t, f.post(t, admin()))
}

// An execution already named by the run is that run, started: the answer
// is 409 naming it, as for any run in progress, and its lease stays.
func TestExistingExecutionIsARunInProgress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sfn.err = &sfntypes.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists")}
	e := refused(t, f.post(t, admin()), http.StatusConflict, "export_in_progress")
	l := f.lease(t)
	if l == nil || !strings.Contains(e.Message, "export "+l.RunID+" (on-demand) is in progress") {
		t.Errorf("409 %q, lease %+v; want the lease kept and named", e.Message, l)
	}
	if !strings.Contains(f.logs.String(), `"level":"INFO","msg":"POST /admin/exports","status":409,`) {
		t.Errorf("logs lack the 409:\n%s", f.logs.String())
	}
}

// When S3 cannot be reached, or refuses, no export is started and the
// answer is 503.
func TestLeaseFailureInvokesNothing(t *testing.T) {
	t.Parallel()
	srv := exporttest.Need(t, s3srv)
	c, err := configFromEnv(settings.Map(env("no-such-bucket-here")))
	if err != nil {
		t.Fatal(err)
	}
	fake := &starter{}
	var logs bytes.Buffer
	h := handlerFor(c, srv.Client(), fake, logging.New(&logs, slog.LevelInfo))
	req := events.APIGatewayV2HTTPRequest{RouteKey: route}
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: admin()}
	res, _ := h.handle(context.Background(), req)
	refused(t, res, http.StatusServiceUnavailable, "export_unavailable")
	if n := len(fake.executions()); n != 0 {
		t.Errorf("%d executions, want none", n)
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
		{"no state machine", map[string]string{"EXPORT_STATE_MACHINE": ""}, "EXPORT_STATE_MACHINE must be set to the export state machine's ARN"},
		{"a function", map[string]string{"EXPORT_STATE_MACHINE": "ExportUsersFunction"}, "EXPORT_STATE_MACHINE: not a Step Functions state machine ARN"},
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
	c, err := configFromEnv(settings.Map(env("exports")))
	if err != nil || c.machine != stateMachine || c.export.Prefix != "users" || len(c.machines) != 2 {
		t.Errorf("%+v, %v", c, err)
	}
	if _, err := newHandler(settings.Map(env("exports")), logging.New(&bytes.Buffer{}, slog.LevelInfo)); err != nil {
		t.Errorf("newHandler: %v", err)
	}
}
