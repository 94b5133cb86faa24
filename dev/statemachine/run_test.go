package statemachine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"clerk-lambda/dev/emulator"
)

// exportDefinition is the contract's loop, small: Slice until done, and on
// an error that remains, Abort when there is a checkpoint, then Failed.
const exportDefinition = `
StartAt: Slice
States:
  Slice:
    Type: Task
    Resource: arn:${Partition}:states:::lambda:invoke
    Parameters:
      FunctionName: ${Fn}
      Payload.$: $
    OutputPath: $.Payload
    TimeoutSeconds: 1
    Retry:
      - ErrorEquals: [ExportRetryable, Lambda.Unknown, Sandbox.Timedout, States.Timeout]
        IntervalSeconds: 10
        BackoffRate: 2
        MaxAttempts: 2
        MaxDelaySeconds: 15
    Catch:
      - ErrorEquals: [States.ALL]
        ResultPath: $.error
        Next: HasCheckpoint
    Next: Done
  Done:
    Type: Choice
    Choices:
      - Variable: $.done
        BooleanEquals: true
        Next: Exported
    Default: Continue
  Continue:
    Type: Pass
    Parameters:
      checkpoint.$: $.checkpoint
    Next: Slice
  Exported:
    Type: Succeed
  HasCheckpoint:
    Type: Choice
    Choices:
      - Variable: $.checkpoint
        IsPresent: true
        Next: Abort
    Default: Failed
  Abort:
    Type: Task
    Resource: arn:aws:states:::lambda:invoke
    Parameters:
      FunctionName: ${Fn}
      Payload:
        abort.$: $.checkpoint
    ResultPath: null
    Next: Failed
  Failed:
    Type: Fail
    ErrorPath: $.error.Error
    CausePath: $.error.Cause
`

// template wraps a definition in a template, as ExportStateMachine is.
func template(def string) []byte {
	indented := strings.ReplaceAll(strings.TrimPrefix(def, "\n"), "\n", "\n        ")
	return []byte(`
Resources:
  Export:
    Type: AWS::Serverless::Function
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        ` + indented + `
      DefinitionSubstitutions:
        Partition: !Ref AWS::Partition
        Fn: !GetAtt Export.Arn
`)
}

func load(t *testing.T, def string) *Machine {
	t.Helper()
	m, err := ParseTemplate(template(def))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// script is a fake function: each call takes the next answer, an answer
// being JSON or an error, and records the payload.
type script struct {
	mu       sync.Mutex
	answers  []any
	payloads []string
}

func (s *script) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name != "Export" {
		return nil, fmt.Errorf("invoked %s, not Export", name)
	}
	s.payloads = append(s.payloads, string(payload))
	if len(s.answers) == 0 {
		return nil, errors.New("called more often than the test expects")
	}
	next := s.answers[0]
	s.answers = s.answers[1:]
	switch a := next.(type) {
	case string:
		return []byte(a), nil
	case error:
		return nil, a
	}
	// A func blocks until ctx ends, as a function past its TimeoutSeconds.
	<-ctx.Done()
	return nil, ctx.Err()
}

func retryable(msg string) error {
	return &emulator.FunctionError{Function: "Export", Type: "ExportRetryable", Message: msg}
}

func run(t *testing.T, m *Machine, fns *script, input string) ([]byte, []Attempt, error) {
	t.Helper()
	var attempts []Attempt
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := m.Run(ctx, []byte(input), Options{Invoker: fns, WaitDivisor: 1000, Observe: func(a Attempt) { attempts = append(attempts, a) }})
	return out, attempts, err
}

func TestLoopUntilDone(t *testing.T) {
	t.Parallel()
	fns := &script{answers: []any{
		`{"done":false,"checkpoint":{"n":1}}`,
		`{"done":false,"checkpoint":{"n":2}}`,
		`{"done":true,"users":3,"key":"users/x.jsonl.gz"}`,
	}}
	out, _, err := run(t, load(t, exportDefinition), fns, `{"source":"s","runId":"r1"}`)
	if err != nil || string(out) != `{"done":true,"key":"users/x.jsonl.gz","users":3}` {
		t.Fatalf("Run = %s, %v; want the last slice's answer", out, err)
	}
	want := []string{`{"runId":"r1","source":"s"}`, `{"checkpoint":{"n":1}}`, `{"checkpoint":{"n":2}}`}
	if strings.Join(fns.payloads, " ") != strings.Join(want, " ") {
		t.Errorf("payloads %q, want %q", fns.payloads, want)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	fns := &script{answers: []any{retryable("clerk down"), `{"done":true,"users":1}`}}
	out, attempts, err := run(t, load(t, exportDefinition), fns, `{}`)
	if err != nil || string(out) != `{"done":true,"users":1}` {
		t.Fatalf("Run = %s, %v; want success after a retry", out, err)
	}
	if len(attempts) != 2 || attempts[0].Error != "ExportRetryable" || attempts[0].Retry != 10*time.Millisecond || attempts[1].Try != 2 {
		t.Errorf("attempts %+v; want ExportRetryable retried after 10 s / 1000, then a second try", attempts)
	}
	if fns.payloads[0] != fns.payloads[1] {
		t.Errorf("the retry sent %s, not the same input %s", fns.payloads[1], fns.payloads[0])
	}
}

func TestRetriesExhaustedThenAbort(t *testing.T) {
	t.Parallel()
	fns := &script{answers: []any{
		`{"done":false,"checkpoint":{"n":1}}`,
		retryable("1"), retryable("2"), retryable("3"),
		`{"done":true,"aborted":true}`,
	}}
	_, attempts, err := run(t, load(t, exportDefinition), fns, `{}`)
	var f *Failure
	if !errors.As(err, &f) || f.Name != "ExportRetryable" || !strings.Contains(f.Cause, `"errorMessage":"3"`) {
		t.Fatalf("Run = %v; want the execution failed with the slice's last error", err)
	}
	if got := fns.payloads[len(fns.payloads)-1]; got != `{"abort":{"n":1}}` {
		t.Errorf("the last invocation was %s, want the abort of the checkpoint", got)
	}
	// 10 s, then 20 s capped at MaxDelaySeconds 15, divided by 1000.
	if attempts[1].Retry != 10*time.Millisecond || attempts[2].Retry != 15*time.Millisecond || attempts[3].Retry != 0 {
		t.Errorf("waits %v %v %v, want 10ms 15ms and none", attempts[1].Retry, attempts[2].Retry, attempts[3].Retry)
	}
}

func TestNotRetryableGoesToCatch(t *testing.T) {
	t.Parallel()
	fns := &script{answers: []any{&emulator.FunctionError{Type: "ExportFailed", Message: "refused"}}}
	_, attempts, err := run(t, load(t, exportDefinition), fns, `{"runId":"r"}`)
	var f *Failure
	if !errors.As(err, &f) || f.Name != "ExportFailed" || len(attempts) != 1 {
		t.Fatalf("Run = %v after %d attempts; want ExportFailed at once, without an abort (no checkpoint)", err, len(attempts))
	}
}

func TestErrorNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		what   string
		answer any
		want   string
	}{
		{"an exit", &emulator.FunctionError{Type: "Runtime.ExitError"}, "Lambda.Unknown"},
		{"the function's timeout", &emulator.FunctionError{Type: "Sandbox.Timedout"}, "Sandbox.Timedout"},
		{"a broken emulator", errors.New("the emulator failed"), "Lambda.Unknown"},
		{"the task's TimeoutSeconds", func() {}, "States.Timeout"},
	} {
		fns := &script{answers: []any{tc.answer, tc.answer, tc.answer}}
		_, attempts, _ := run(t, load(t, exportDefinition), fns, `{}`)
		if attempts[0].Error != tc.want || len(attempts) != 3 {
			t.Errorf("%s: named %s after %d attempts, want %s, retried", tc.what, attempts[0].Error, len(attempts), tc.want)
		}
	}
}

func TestRefused(t *testing.T) {
	t.Parallel()
	for def, want := range map[string]string{
		"StartAt: W\nStates:\n  W:\n    Type: Wait\n    Seconds: 1\n    End: true":                                                   `Type "Wait" is not supported`,
		"StartAt: T\nStates:\n  T:\n    Type: Task\n    Resource: arn:aws:states:::sqs:sendMessage\n    End: true":                   "Resource arn:aws:states:::sqs:sendMessage is not supported",
		"StartAt: P\nStates:\n  P:\n    Type: Pass\n    InputPath: $.a\n    End: true":                                               "field InputPath is not supported",
		"StartAt: P\nStates:\n  P:\n    Type: Pass\n    Parameters:\n      a.$: $.b[0]\n    End: true":                               `path "$.b[0]" is not supported`,
		"StartAt: P\nStates:\n  P:\n    Type: Pass\n    Next: Q":                                                                     "goes to Q, which is not a state",
		"StartAt: C\nStates:\n  C:\n    Type: Choice\n    Choices:\n      - Variable: $.a\n        StringEquals: x\n        Next: C": "field StringEquals is not supported",
		"StartAt: P\nStates:\n  P:\n    Type: Pass\n    Result: ${Unknown}\n    End: true":                                           "${Unknown}, which DefinitionSubstitutions does not give",
	} {
		_, err := ParseTemplate(template(def))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s\nParseTemplate: %v; want one line saying %q", def, err, want)
		}
	}
	if _, err := ParseTemplate([]byte("Resources: {}")); !errors.Is(err, ErrNone) {
		t.Errorf("a template without a state machine: %v, want ErrNone", err)
	}
}

func TestProjectTemplate(t *testing.T) {
	t.Parallel()
	m, err := Load("../../template.yaml")
	if errors.Is(err, ErrNone) {
		t.Skip("template.yaml has no state machine yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Functions(); len(got) != 1 || got[0] != "ExportUsersFunction" {
		t.Errorf("%s invokes %v, want ExportUsersFunction", m.Name, got)
	}
}
