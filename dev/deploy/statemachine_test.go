package deploy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// asl is the part of an Amazon States Language definition the checks read.
type asl struct {
	StartAt        string
	TimeoutSeconds float64
	States         map[string]aslState
}

type aslState struct {
	Type, Resource, Next, Default, OutputPath string
	TimeoutSeconds                            float64
	Parameters                                map[string]any
	Retry                                     []aslRetry
	Catch                                     []aslCatch
	Choices                                   []map[string]any
}

type aslRetry struct {
	ErrorEquals                               []string
	IntervalSeconds, BackoffRate, MaxAttempts *float64
}

type aslCatch struct {
	ErrorEquals      []string
	Next, ResultPath string
}

// lambdaErrors are the errors of Lambda itself that a slice is retried on
// (the export's contract): a slice killed part-way is safe to run again.
var lambdaErrors = []string{
	"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
	"Lambda.TooManyRequestsException", "Lambda.Unknown", "Sandbox.Timedout", "Runtime.ExitError", "States.Timeout",
}

// definition is the state machine's Definition, read from the template's
// YAML as the Amazon States Language it is.
func definition(t *testing.T, s *stack) asl {
	t.Helper()
	raw := lookup(s.resource(stateMachineID), "Properties", "Definition")
	b, err := json.Marshal(raw)
	var d asl
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	if err != nil || raw == nil {
		t.Fatalf("%s: Definition is not an inline States Language definition (%v): %s", stateMachineID, err, render(raw))
	}
	return d
}

// The export runs as a Standard state machine whose only right is to invoke
// the export function, exactly that one, and nothing else: no managed
// policy, no role of its own, no SAM policy template (LambdaInvokePolicy
// grants function:NAME*).
func TestExportStateMachine(t *testing.T) {
	t.Parallel()
	s := template(t)
	r := s.resource(stateMachineID)
	if lookup(r, "Type") != "AWS::Serverless::StateMachine" {
		t.Fatalf("template.yaml has no AWS::Serverless::StateMachine %s", stateMachineID)
	}
	if got := render(lookup(r, "Properties", "Type")); got != "STANDARD" {
		t.Errorf("%s: Type is %q, want STANDARD (an Express execution stops at 5 minutes)", stateMachineID, got)
	}
	for _, p := range list(lookup(r, "Properties", "Policies")) {
		if lookup(p, "Statement") == nil {
			t.Errorf("%s: policy %s is not a policy document the template writes out", stateMachineID, render(p))
		}
	}
	sts, err := s.statements(stateMachineID)
	if err != nil {
		t.Fatal(err)
	}
	var allows []string
	for _, st := range sts {
		if st["Effect"] == "Allow" {
			allows = append(allows, render(st["Action"])+" on "+render(st["Resource"]))
		}
	}
	if want := "lambda:InvokeFunction on ${" + exporterID + ".Arn}"; !slices.Equal(allows, []string{want}) {
		t.Errorf("%s is allowed %v; want only %s", stateMachineID, allows, want)
	}
	if got := render(lookup(r, "Properties", "DefinitionSubstitutions", "ExportFunctionArn")); got != "${"+exporterID+".Arn}" {
		t.Errorf("%s: DefinitionSubstitutions.ExportFunctionArn is %s, want !GetAtt %s.Arn", stateMachineID, got, exporterID)
	}
	if lookup(r, "Properties", "Logging") != nil {
		t.Errorf("%s has Logging: its delivery to CloudWatch Logs needs logs:*LogDelivery on \"*\"; say why the template grants it", stateMachineID)
	}
}

// The definition is the export's contract: Slice invokes the function with
// the execution's input, retried (boundedly, with backoff) on the function's
// transient error and on Lambda's, never on everything; done ends the run,
// otherwise the checkpoint goes to the next Slice; a slice that still fails
// is caught, its upload aborted when a checkpoint says there is one, and
// the execution fails.
func TestExportStateMachineDefinition(t *testing.T) {
	t.Parallel()
	s := template(t)
	d := definition(t, s)
	if d.TimeoutSeconds <= 0 {
		t.Errorf("%s: no TimeoutSeconds: a run that never reports done would run for a year", stateMachineID)
	}
	fnTimeout := s.number(t, lookup(s.resource(exporterID), "Properties", "Timeout"), true)
	for name, st := range d.States {
		for i, r := range st.Retry {
			where := fmt.Sprintf("%s: %s: Retry[%d]", stateMachineID, name, i)
			switch {
			case slices.Contains(r.ErrorEquals, "States.ALL"):
				t.Errorf("%s retries States.ALL: ExportFailed (bad input, a refused key, the upload gone) would be retried too", where)
			case r.MaxAttempts == nil || *r.MaxAttempts < 1 || *r.MaxAttempts > 10:
				t.Errorf("%s: MaxAttempts must be set, 1 to 10", where)
			case r.BackoffRate == nil || *r.BackoffRate < 1.5 || r.IntervalSeconds == nil || *r.IntervalSeconds < 1:
				t.Errorf("%s: set IntervalSeconds (at least 1) and a BackoffRate (at least 1.5): retries back off", where)
			case slices.Contains(r.ErrorEquals, "ExportFailed"):
				t.Errorf("%s retries ExportFailed, which the function reports as not retryable", where)
			}
		}
		if strings.HasSuffix(st.Resource, ":states:::lambda:invoke") {
			if got := render(st.Parameters["FunctionName"]); got != "${ExportFunctionArn}" {
				t.Errorf("%s: %s invokes %s, want ${ExportFunctionArn}", stateMachineID, name, got)
			}
			if st.TimeoutSeconds <= fnTimeout || st.TimeoutSeconds > fnTimeout+300 {
				t.Errorf("%s: %s: TimeoutSeconds %v, want a little above the function's %v s", stateMachineID, name, st.TimeoutSeconds, fnTimeout)
			}
		}
	}

	slice, ok := d.States[d.StartAt]
	if !ok || !strings.HasSuffix(slice.Resource, ":states:::lambda:invoke") {
		t.Fatalf("%s: StartAt %q is not a lambda:invoke Task", stateMachineID, d.StartAt)
	}
	if slice.Parameters["Payload.$"] != "$" || slice.OutputPath != "$.Payload" {
		t.Errorf("%s: %s must pass the input unchanged (Payload.$: $) and keep the function's answer (OutputPath: $.Payload)", stateMachineID, d.StartAt)
	}
	retried := map[string]bool{}
	for _, r := range slice.Retry {
		for _, e := range r.ErrorEquals {
			retried[e] = true
		}
	}
	for _, e := range append([]string{"ExportRetryable"}, lambdaErrors...) {
		if !retried[e] {
			t.Errorf("%s: %s is not retried on %s", stateMachineID, d.StartAt, e)
		}
	}

	// The loop: done true succeeds, otherwise the checkpoint goes round.
	done := d.States[slice.Next]
	if done.Type != "Choice" || len(done.Choices) != 1 || done.Choices[0]["Variable"] != "$.done" || done.Choices[0]["BooleanEquals"] != true ||
		d.States[render(done.Choices[0]["Next"])].Type != "Succeed" {
		t.Errorf("%s: after %s comes %q, want a Choice: $.done true → a Succeed state", stateMachineID, d.StartAt, slice.Next)
	}
	next := d.States[done.Default]
	if next.Type != "Pass" || next.Next != d.StartAt || len(next.Parameters) != 1 || next.Parameters["checkpoint.$"] != "$.checkpoint" {
		t.Errorf("%s: when not done comes %q, want a Pass of {\"checkpoint.$\": \"$.checkpoint\"} back to %s", stateMachineID, done.Default, d.StartAt)
	}

	// The failure: caught, aborted when there is a checkpoint, failed.
	if len(slice.Catch) != 1 || !slices.Equal(slice.Catch[0].ErrorEquals, []string{"States.ALL"}) || slice.Catch[0].ResultPath != "$.error" {
		t.Fatalf("%s: %s must Catch States.ALL into $.error (its input, with the checkpoint, kept)", stateMachineID, d.StartAt)
	}
	failed := func(name string) bool { return d.States[name].Type == "Fail" }
	has := d.States[slice.Catch[0].Next]
	if has.Type != "Choice" || len(has.Choices) != 1 || has.Choices[0]["Variable"] != "$.checkpoint" || has.Choices[0]["IsPresent"] != true || !failed(has.Default) {
		t.Fatalf("%s: a caught failure goes to %q, want a Choice: $.checkpoint present → the abort, otherwise a Fail state", stateMachineID, slice.Catch[0].Next)
	}
	abortName := render(has.Choices[0]["Next"])
	abort := d.States[abortName]
	if payload, _ := abort.Parameters["Payload"].(map[string]any); !strings.HasSuffix(abort.Resource, ":states:::lambda:invoke") ||
		len(payload) != 1 || payload["abort.$"] != "$.checkpoint" {
		t.Errorf("%s: %s must invoke the function with {\"abort.$\": \"$.checkpoint\"}", stateMachineID, abortName)
	}
	if !failed(abort.Next) || len(abort.Catch) != 1 || !failed(abort.Catch[0].Next) {
		t.Errorf("%s: %s must end in a Fail state, whether the abort succeeds or not", stateMachineID, abortName)
	}
}

// The schedule starts the state machine, not the function; the function
// has no event at all (only the state machine invokes it), so nothing
// invokes it asynchronously: no EventInvokeConfig, and no failure queue.
func TestExportSchedule(t *testing.T) {
	t.Parallel()
	s := template(t)
	scheduled := 0
	for name, ev := range mapOf(lookup(s.resource(stateMachineID), "Properties", "Events")) {
		if lookup(ev, "Type") != "Schedule" {
			t.Errorf("%s: event %s is a %s, want only the Schedule", stateMachineID, name, render(lookup(ev, "Type")))
			continue
		}
		if got := render(lookup(ev, "Properties", "Schedule")); got != "${ExportSchedule}" {
			t.Errorf("%s: the schedule is %s, want !Ref ExportSchedule", stateMachineID, got)
		}
		scheduled++
	}
	if scheduled != 1 {
		t.Errorf("%s has %d Schedule events, want 1: the export would never run, or twice", stateMachineID, scheduled)
	}
	props := lookup(s.resource(exporterID), "Properties")
	for _, k := range []string{"Events", "EventInvokeConfig"} {
		if lookup(props, k) != nil {
			t.Errorf("%s has %s: only %s invokes it, synchronously, one slice at a time", exporterID, k, stateMachineID)
		}
	}
	for id, r := range s.raw["Resources"].(map[string]any) {
		if lookup(r, "Type") == "AWS::SQS::Queue" {
			t.Errorf("%s: the export has no failure queue any more; the state machine's history keeps failed runs", id)
		}
	}
	if fn := s.typed.GetAllServerlessFunctionResources()[exporterID]; fn == nil || fn.Timeout == nil || *fn.Timeout < 60 || *fn.Timeout > 900 {
		t.Errorf("%s needs its own Timeout between 60 and 900 s for a slice", exporterID)
	}
}

// A failed, timed-out or aborted export run is alarmed within 5 minutes.
func TestExportRunAlarm(t *testing.T) {
	t.Parallel()
	s := template(t)
	a, ok := s.alarms()["AWS/States ExecutionsFailed StateMachineArn=${"+stateMachineID+"}"]
	if !ok {
		t.Fatalf("no alarm watches %s's ExecutionsFailed", stateMachineID)
	}
	if a.period() != 300 || render(a.props["Threshold"]) != "1" || a.props["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" ||
		render(a.props["EvaluationPeriods"]) != "1" {
		t.Errorf("%s: want one failed run or more in 5 minutes (Period 300, Threshold 1, GreaterThanOrEqualToThreshold, 1 period)", a.id)
	}
}

// mapOf is v as a map, or an empty one.
func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
