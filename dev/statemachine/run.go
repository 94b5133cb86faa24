package statemachine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"clerk-lambda/dev/emulator"
)

// Invoker runs a function, by the name FunctionName gives, with a JSON
// payload, and returns its answer. A failure of the function itself is an
// *emulator.FunctionError; *emulator.Runner is an Invoker.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// Options say how Run runs a state machine.
type Options struct {
	Invoker Invoker
	// WaitDivisor divides every Retry wait, so that tests of retries do not
	// sleep for minutes; 0 or 1 waits as Step Functions does.
	WaitDivisor float64
	// Observe, when set, is told of each attempt of a Task state, as it
	// ends.
	Observe func(Attempt)
}

// Attempt is one invocation of a Task state's function.
type Attempt struct {
	State, Function string
	// Try counts the invocations of this entry into the state, from 1.
	Try int
	// Output is the function's answer when it succeeded.
	Output json.RawMessage
	// Error and Cause are the error's name and cause when it failed.
	Error, Cause string
	Took         time.Duration
	// Retry is the wait before the next try, when a retrier retries it.
	Retry time.Duration
}

// Failure is how an execution fails: the error and cause of a Fail state,
// of an error no Catch handles, or of the execution's own timeout
// (States.Timeout) or a definition that does not fit its data
// (States.Runtime).
type Failure struct {
	Name, Cause string
}

func (f *Failure) Error() string { return fmt.Sprintf("%s: %s", f.Name, f.Cause) }

// taskError is a Task's error as the States Language names it.
type taskError struct{ name, cause string }

// Run runs the state machine on input, a JSON value, to its end, and
// returns the output of its Succeed state (or of its last state). It
// returns a *Failure when the execution fails, and ctx's error when ctx
// ends first.
func (m *Machine) Run(ctx context.Context, input []byte, o Options) ([]byte, error) {
	data, err := decode(input)
	if err != nil {
		return nil, &Failure{"States.Runtime", "the input is not JSON: " + err.Error()}
	}
	run := ctx
	if m.timeout > 0 {
		var cancel context.CancelFunc
		run, cancel = context.WithTimeout(ctx, m.timeout)
		defer cancel()
	}
	out, err := m.run(run, data, o)
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case run.Err() != nil:
		return nil, &Failure{"States.Timeout", fmt.Sprintf("the execution ran past its TimeoutSeconds (%s)", m.timeout)}
	case err != nil:
		return nil, err
	}
	return json.Marshal(out)
}

// run goes from state to state until one ends the execution.
func (m *Machine) run(ctx context.Context, data any, o Options) (any, error) {
	s := m.states[m.startAt]
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var next string
		var err error
		switch s.typ {
		case "Succeed":
			return data, nil
		case "Fail":
			return nil, s.fail(data)
		case "Choice":
			next, err = s.choose(data)
		case "Pass":
			next, data, err = s.pass(data)
		case "Task":
			next, data, err = s.task(ctx, data, o)
		}
		if err != nil {
			return nil, err
		}
		if next == "" {
			return data, nil
		}
		s = m.states[next]
	}
}

func (s *state) pass(input any) (string, any, error) {
	result := input
	var err error
	if s.hasParams {
		if result, err = fill(s.params, input); err != nil {
			return "", nil, s.runtime(err)
		}
	}
	if s.hasResult {
		result = s.result
	}
	out, err := s.finish(input, result)
	return s.next, out, err
}

// finish places a state's result in its input (ResultPath) and selects
// what goes on (OutputPath).
func (s *state) finish(input, result any) (any, error) {
	joined, err := s.resultPath.put(input, result)
	if err != nil {
		return nil, s.runtime(err)
	}
	out, err := s.outputPath.output(joined)
	if err != nil {
		return nil, s.runtime(err)
	}
	return out, nil
}

func (s *state) choose(input any) (string, error) {
	for _, c := range s.choices {
		v, present := c.variable.get(input)
		if !c.isBool {
			if present == c.want {
				return c.next, nil
			}
			continue
		}
		b, ok := v.(bool)
		if !ok {
			return "", s.runtime(fmt.Errorf("the Variable %s is not a boolean", c.variable))
		}
		if b == c.want {
			return c.next, nil
		}
	}
	if s.deflt == "" {
		return "", &Failure{"States.NoChoiceMatched", fmt.Sprintf("no choice of state %s matched, and it has no Default", s.name)}
	}
	return s.deflt, nil
}

func (s *state) fail(input any) error {
	f := &Failure{Name: s.errName, Cause: s.cause}
	if s.hasErrorPath {
		v, _ := s.errorPath.get(input)
		f.Name, _ = v.(string)
	}
	if s.hasCausePath {
		v, _ := s.causePath.get(input)
		f.Cause, _ = v.(string)
	}
	return f
}

func (s *state) runtime(err error) error {
	return &Failure{"States.Runtime", fmt.Sprintf("state %s: %v", s.name, err)}
}

// task invokes the state's function, retrying as Retry says; an error
// that remains goes to the first Catch that matches it, or fails the
// execution.
func (s *state) task(ctx context.Context, input any, o Options) (string, any, error) {
	params, err := fill(s.payload, input)
	if err != nil {
		return "", nil, s.runtime(err)
	}
	payload, err := json.Marshal(params.(map[string]any)["Payload"])
	if err != nil {
		return "", nil, s.runtime(err)
	}
	answer, terr := s.invokeWithRetry(ctx, payload, o)
	if terr == nil {
		out, err := s.finish(input, map[string]any{"ExecutedVersion": "$LATEST", "Payload": answer, "StatusCode": json.Number("200")})
		return s.next, out, err
	}
	if ctx.Err() != nil {
		return "", nil, ctx.Err()
	}
	for _, c := range s.catch {
		if matches(c.errors, terr.name) {
			out, err := c.resultPath.put(input, map[string]any{"Error": terr.name, "Cause": terr.cause})
			if err != nil {
				return "", nil, s.runtime(err)
			}
			return c.next, out, nil
		}
	}
	return "", nil, &Failure{terr.name, terr.cause}
}

// invokeWithRetry invokes the function until it answers, no retrier
// matches its error, or the retrier that does has used its attempts.
func (s *state) invokeWithRetry(ctx context.Context, payload []byte, o Options) (any, *taskError) {
	used := make([]int, len(s.retry))
	for try := 1; ; try++ {
		began := time.Now()
		answer, terr := s.invoke(ctx, payload, o.Invoker)
		a := Attempt{State: s.name, Function: s.function, Try: try, Took: time.Since(began)}
		if terr == nil {
			a.Output, _ = json.Marshal(answer)
			observe(o, a)
			return answer, nil
		}
		a.Error, a.Cause = terr.name, terr.cause
		i := slices.IndexFunc(s.retry, func(r retrier) bool { return matches(r.errors, terr.name) })
		if i < 0 || used[i] >= s.retry[i].maxAttempts || ctx.Err() != nil {
			observe(o, a)
			return nil, terr
		}
		a.Retry = s.retry[i].wait(used[i], o.WaitDivisor)
		used[i]++
		observe(o, a)
		if !sleep(ctx, a.Retry) {
			return nil, terr
		}
	}
}

// invoke runs the function once, within the state's TimeoutSeconds, and
// names its error as Step Functions does.
func (s *state) invoke(ctx context.Context, payload []byte, fns Invoker) (any, *taskError) {
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	answer, err := fns.Invoke(ctx, s.function, payload)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &taskError{"States.Timeout", fmt.Sprintf("the task ran past its TimeoutSeconds (%s)", s.timeout)}
		}
		return nil, nameError(err)
	}
	v, err := decode(answer)
	if err != nil {
		return string(answer), nil
	}
	return v, nil
}

// nameError names a failed invocation: a function's error by its
// errorType, with Lambda's error document as the cause, as Step Functions
// reports it; its running past its Timeout is Sandbox.Timedout; a crash or
// exit (the Runtime.* errors) and an emulator that failed are
// Lambda.Unknown, Lambda's name for an unhandled failure.
func nameError(err error) *taskError {
	var fe *emulator.FunctionError
	if !errors.As(err, &fe) {
		return &taskError{"Lambda.Unknown", err.Error()}
	}
	cause, _ := json.Marshal(map[string]string{"errorType": fe.Type, "errorMessage": fe.Message})
	name := fe.Type
	if strings.HasPrefix(name, "Runtime.") || name == "" {
		name = "Lambda.Unknown"
	}
	return &taskError{name, string(cause)}
}

// matches reports whether an ErrorEquals list names err: States.ALL
// matches every error, States.TaskFailed every one but States.Timeout.
func matches(names []string, err string) bool {
	for _, n := range names {
		if n == err || n == "States.ALL" || n == "States.TaskFailed" && err != "States.Timeout" {
			return true
		}
	}
	return false
}

// wait is the retrier's wait before retry n (from 0): IntervalSeconds
// times BackoffRate to the n, at most MaxDelaySeconds, with FULL jitter a
// random part of that, divided by divisor.
func (r retrier) wait(n int, divisor float64) time.Duration {
	d := float64(r.interval) * math.Pow(r.backoff, float64(n))
	if r.maxDelay > 0 {
		d = math.Min(d, float64(r.maxDelay))
	}
	if r.jitter {
		d *= rand.Float64()
	}
	if divisor > 1 {
		d /= divisor
	}
	return time.Duration(d)
}

func observe(o Options, a Attempt) {
	if o.Observe != nil {
		o.Observe(a)
	}
}

// sleep waits for d, or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
