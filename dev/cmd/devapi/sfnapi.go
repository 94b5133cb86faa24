package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"clerk-lambda/dev/statemachine"
)

// localAccount is the account and region of the local ARNs.
const localAccount = "us-east-1:000000000000"

// stepFunctions is the part of the Step Functions API that
// AdminExportsFunction calls: StartExecution of the template's state
// machine, and DescribeExecution, in AWS JSON 1.0 (POST / with X-Amz-Target).
// Each execution runs in the background with the state machine runner
// against the functions under the emulator, until it ends or the local API
// stops. Errors have Step Functions' shape, so that the AWS SDK reports them
// as it would in AWS.
type stepFunctions struct {
	machine   *statemachine.Machine
	arn       string
	fns       statemachine.Invoker
	accessKey string
	log       func(string)

	ctx        context.Context
	cancel     context.CancelFunc
	mu         sync.Mutex
	closed     bool
	executions map[string]*execution
	running    sync.WaitGroup
}

// execution is one run of the state machine, as DescribeExecution tells it.
type execution struct {
	ExecutionArn    string  `json:"executionArn"`
	StateMachineArn string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Status          string  `json:"status"`
	StartDate       float64 `json:"startDate"`
	StopDate        float64 `json:"stopDate,omitempty"`
	Input           string  `json:"input"`
	Output          string  `json:"output,omitempty"`
	Error           string  `json:"error,omitempty"`
	Cause           string  `json:"cause,omitempty"`
}

// stateMachineARN is the local ARN of the state machine with logical id name.
func stateMachineARN(name string) string {
	return "arn:aws:states:" + localAccount + ":stateMachine:" + name
}

// newStepFunctions serves m, running its functions with fns, to callers
// that sign with accessKey, logging one line as each execution starts and
// ends.
func newStepFunctions(m *statemachine.Machine, fns statemachine.Invoker, accessKey string, log func(string)) *stepFunctions {
	s := &stepFunctions{machine: m, arn: stateMachineARN(m.Name), fns: fns, accessKey: accessKey, log: log,
		executions: map[string]*execution{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

func (s *stepFunctions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		sfnError(w, http.StatusNotFound, "UnknownOperationException", "POST / with X-Amz-Target")
		return
	}
	if !signedWith(r, s.accessKey) {
		sfnError(w, http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		sfnError(w, http.StatusRequestEntityTooLarge, "ValidationException", "the request is over 1 MB, or could not be read")
		return
	}
	switch r.Header.Get("X-Amz-Target") {
	case "AWSStepFunctions.StartExecution":
		s.startExecution(w, body)
	case "AWSStepFunctions.DescribeExecution":
		s.describeExecution(w, body)
	default:
		sfnError(w, http.StatusBadRequest, "UnknownOperationException", "the local Step Functions API answers StartExecution and DescribeExecution")
	}
}

func (s *stepFunctions) startExecution(w http.ResponseWriter, body []byte) {
	var in struct{ StateMachineArn, Name, Input string }
	if err := json.Unmarshal(body, &in); err != nil {
		sfnError(w, http.StatusBadRequest, "SerializationException", "the request is not JSON")
		return
	}
	if in.StateMachineArn != s.arn {
		sfnError(w, http.StatusBadRequest, "StateMachineDoesNotExist", "State Machine Does Not Exist: '"+in.StateMachineArn+"'")
		return
	}
	if in.Input == "" {
		in.Input = "{}"
	}
	if !json.Valid([]byte(in.Input)) {
		sfnError(w, http.StatusBadRequest, "InvalidExecutionInput", "Invalid State Machine Execution Input: the input is not JSON")
		return
	}
	if in.Name == "" {
		in.Name = newExecutionName()
	}
	e, refused := s.start(in.Name, in.Input)
	if refused != nil {
		sfnError(w, refused.status, refused.typ, refused.message)
		return
	}
	sfnJSON(w, map[string]any{"executionArn": e.ExecutionArn, "startDate": e.StartDate})
}

// start records and starts an execution. As in AWS, a name already used
// is ExecutionAlreadyExists, unless it is a running execution's with the
// same input: then the call is answered as the first was.
func (s *stepFunctions) start(name, input string) (execution, *sfnRefusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return execution{}, &sfnRefusal{http.StatusServiceUnavailable, "ServiceUnavailable", "the local API is shutting down"}
	}
	arn := executionARN(s.machine.Name, name)
	if e, ok := s.executions[arn]; ok {
		if e.Status == "RUNNING" && e.Input == input {
			return *e, nil
		}
		return execution{}, &sfnRefusal{http.StatusBadRequest, "ExecutionAlreadyExists", "Execution Already Exists: '" + arn + "'"}
	}
	e := &execution{ExecutionArn: arn, StateMachineArn: s.arn, Name: name, Status: "RUNNING", StartDate: epoch(time.Now()), Input: input}
	s.executions[arn] = e
	s.running.Add(1)
	go s.run(e)
	s.log(fmt.Sprintf("Step Functions StartExecution %s %s", s.machine.Name, name))
	return *e, nil
}

// sfnRefusal is an error answer of the API.
type sfnRefusal struct {
	status       int
	typ, message string
}

// run runs an execution to its end and records how it ended.
func (s *stepFunctions) run(e *execution) {
	defer s.running.Done()
	began := time.Now()
	out, err := s.machine.Run(s.ctx, []byte(e.Input), statemachine.Options{Invoker: s.fns})
	s.mu.Lock()
	defer s.mu.Unlock()
	e.StopDate = epoch(time.Now())
	var failed *statemachine.Failure
	switch {
	case errors.As(err, &failed):
		e.Status, e.Error, e.Cause = "FAILED", failed.Name, failed.Cause
	case err != nil:
		e.Status = "ABORTED"
	default:
		e.Status, e.Output = "SUCCEEDED", string(out)
	}
	took := time.Since(began).Round(time.Millisecond)
	line := fmt.Sprintf("Step Functions %s %s %s after %s", s.machine.Name, e.Name, e.Status, took)
	if e.Error != "" {
		line += ": " + e.Error
	}
	s.log(line)
}

func (s *stepFunctions) describeExecution(w http.ResponseWriter, body []byte) {
	var in struct{ ExecutionArn string }
	if err := json.Unmarshal(body, &in); err != nil {
		sfnError(w, http.StatusBadRequest, "SerializationException", "the request is not JSON")
		return
	}
	s.mu.Lock()
	e, ok := s.executions[in.ExecutionArn]
	var copied execution
	if ok {
		copied = *e
	}
	s.mu.Unlock()
	if !ok {
		sfnError(w, http.StatusBadRequest, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+in.ExecutionArn+"'")
		return
	}
	sfnJSON(w, copied)
}

// Close ends the running executions and waits for them; no new one starts.
func (s *stepFunctions) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.running.Wait()
}

func executionARN(machine, name string) string {
	return "arn:aws:states:" + localAccount + ":execution:" + machine + ":" + name
}

// newExecutionName is a fresh name, as Step Functions gives an execution
// started without one.
func newExecutionName() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// epoch is t as AWS JSON's timestamps: seconds since 1970, fractional.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func sfnJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(v)
}

// sfnError answers as AWS JSON 1.0 services do: the error's type in
// __type, and its message.
func sfnError(w http.ResponseWriter, status int, typ, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": message})
}

// functions runs the template's functions; *emulator.Runner does.
type functions interface {
	Invoke(ctx context.Context, name string, payload []byte) ([]byte, error)
	Functions() []string
}

// signedWith reports whether r is signed with this run's access key. The
// signature is not checked: the key keeps out callers that were not given
// it, web pages among them, since a browser sends no Authorization header
// to another origin without a preflight, which the local AWS API does not
// answer.
func signedWith(r *http.Request, accessKey string) bool {
	return strings.Contains(r.Header.Get("Authorization"), "Credential="+accessKey+"/")
}
