package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"clerk-lambda/internal/proctree"
)

const (
	invokePath = "/2015-03-31/functions/function/invocations"
	// startTimeout bounds how long an emulator may take to listen.
	startTimeout = 10 * time.Second
	// watchdogGrace is how long past the function's timeout the Runner waits
	// for the emulator's own timeout answer before it kills the instance.
	watchdogGrace = 5 * time.Second
)

var errClosed = errors.New("the local API is shutting down")

// brokenError marks an instance that must not serve again.
type brokenError struct{ err error }

func (e *brokenError) Error() string { return e.err.Error() }
func (e *brokenError) Unwrap() error { return e.err }

func isBroken(err error) bool {
	var b *brokenError
	return errors.As(err, &b)
}

// instance is one emulator process and, once invoked, the function's
// bootstrap process under it.
type instance struct {
	version int
	url     string
	cmd     *exec.Cmd
	// exited is closed once the emulator has exited and its output is
	// written.
	exited chan struct{}
	client *http.Client
	// kill ends the emulator's process tree, given its pid.
	kill func(pid int)

	stopOnce sync.Once
	// mu orders ended against kill: once ended is set the emulator's pid
	// may be collected and handed to another process, so it is never
	// signalled again.
	mu    sync.Mutex
	ended bool
}

// startInstance starts an emulator for fn on two free loopback ports and
// waits until it listens. A port taken between choosing and binding makes
// the emulator exit; that is retried with other ports.
func startInstance(cfg Config, fn Function, version int, out io.Writer) (*instance, error) {
	var lastErr error
	for range 3 {
		inst, err := tryStart(cfg, fn, version, out)
		if err == nil {
			return inst, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryStart(cfg Config, fn Function, version int, out io.Writer) (*instance, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	apiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	runtimeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	cmd := exec.Command(cfg.RIE,
		"--log-level", "error",
		"--runtime-interface-emulator-address", apiAddr,
		"--runtime-api-address", runtimeAddr,
		fn.Bootstrap)
	cmd.Dir = filepath.Dir(fn.Bootstrap)
	cmd.Env = environ(fn)
	w := newLineWriter(out, fn.Name)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = proctree.ChildAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the Lambda Runtime Interface Emulator: %w", err)
	}
	inst := &instance{
		version: version,
		url:     "http://" + apiAddr + invokePath,
		cmd:     cmd,
		exited:  make(chan struct{}),
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}},
		kill:    cfg.kill,
	}
	go func() {
		if awaitExit(cmd.Process.Pid) {
			inst.markEnded()
		}
		_ = cmd.Wait()
		inst.markEnded()
		w.Flush()
		close(inst.exited)
	}()
	if err := inst.awaitListening(apiAddr); err != nil {
		inst.stop()
		return nil, fmt.Errorf("%s: the Lambda Runtime Interface Emulator did not start: %w", fn.Name, err)
	}
	return inst, nil
}

func (i *instance) awaitListening(addr string) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-i.exited:
			return errors.New("it exited")
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("not listening after %s", startTimeout)
}

// invoke sends one invocation and interprets the emulator's answer.
func (i *instance) invoke(fn Function, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), fn.Timeout+watchdogGrace)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := i.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &brokenError{&FunctionError{Function: fn.Name, Type: "Sandbox.Timedout",
				Message: fmt.Sprintf("no answer %s after the %s timeout; instance stopped", watchdogGrace, fn.Timeout)}}
		}
		return nil, &brokenError{fmt.Errorf("%s: the emulator failed: %w", fn.Name, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &brokenError{fmt.Errorf("%s: read the emulator's answer: %w", fn.Name, err)}
	}
	return interpret(fn.Name, resp.StatusCode, body)
}

// interpret turns the emulator's answer into the function's answer or a
// FunctionError. The emulator does not mark errors with a header: a
// returned error comes back as 200 with Lambda's error document
// {"errorMessage", "errorType"}, a crash (panic, exit) as 502 with the same
// document, and a timeout as 200 with the text "Task timed out after N.00
// seconds".
func interpret(name string, status int, body []byte) ([]byte, error) {
	if status == http.StatusOK && bytes.HasPrefix(body, []byte("Task timed out after ")) {
		return nil, &FunctionError{Function: name, Type: "Sandbox.Timedout", Message: string(body)}
	}
	if doc, ok := errorDocument(body); ok {
		return nil, &FunctionError{Function: name, Type: doc.ErrorType, Message: doc.ErrorMessage}
	}
	if status != http.StatusOK {
		return nil, &brokenError{fmt.Errorf("%s: the emulator answered %d: %.200s", name, status, body)}
	}
	return body, nil
}

type lambdaError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// errorDocument recognises Lambda's error document: an object whose only
// keys are errorMessage, errorType and stackTrace, with errorType set.
func errorDocument(body []byte) (lambdaError, bool) {
	var keys map[string]json.RawMessage
	if json.Unmarshal(body, &keys) != nil || keys["errorType"] == nil {
		return lambdaError{}, false
	}
	for k := range keys {
		if k != "errorMessage" && k != "errorType" && k != "stackTrace" {
			return lambdaError{}, false
		}
	}
	var doc lambdaError
	if json.Unmarshal(body, &doc) != nil {
		return lambdaError{}, false
	}
	return doc, true
}

// markEnded records that the emulator has exited, before its pid is
// collected where the platform allows (awaitExit), else just after.
func (i *instance) markEnded() {
	i.mu.Lock()
	i.ended = true
	i.mu.Unlock()
}

// stop ends the emulator and the function's process, and waits for them.
// It acts once however often it is called (Runner.Close and the end of a
// busy invocation both stop an instance), and an emulator that has already
// exited is not signalled at all: its pid may belong to another process by
// then, whose children killTree would otherwise kill.
func (i *instance) stop() {
	i.stopOnce.Do(func() {
		defer i.client.CloseIdleConnections()
		i.mu.Lock()
		ended := i.ended
		if !ended {
			i.kill(i.cmd.Process.Pid)
		}
		i.mu.Unlock()
		if ended {
			return
		}
		select {
		case <-i.exited:
		case <-time.After(5 * time.Second):
		}
	})
}

// killTree kills an emulator and the function processes it started. The
// emulator starts each bootstrap in a process group of its own, so the
// bootstraps are found as the emulator's children and killed by group.
// Where children cannot be listed, function processes end when they lose
// the emulator's connection.
func killTree(pid int) {
	for _, child := range proctree.Children(pid) {
		proctree.KillGroup(child)
	}
	proctree.KillGroup(pid)
}

// environ is the process environment of an emulator: the emulator passes
// its own environment to the function, so this is the function's
// environment plus what Lambda sets and what the emulator reads.
func environ(fn Function) []string {
	env := map[string]string{
		"AWS_REGION":                  "us-east-1",
		"AWS_DEFAULT_REGION":          "us-east-1",
		"AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":   "/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":  "local",
		"AWS_EXECUTION_ENV":           "AWS_Lambda_provided.al2023",
		"LAMBDA_TASK_ROOT":            filepath.Dir(fn.Bootstrap),
		"PATH":                        os.Getenv("PATH"),
		"TZ":                          ":UTC",
	}
	for k, v := range fn.Env {
		env[k] = v
	}
	// Set last: these describe the function and are Lambda's to set.
	env["AWS_LAMBDA_FUNCTION_NAME"] = fn.Name
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(fn.MemoryMB)
	env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = strconv.Itoa(timeoutSeconds(fn.Timeout))
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// timeoutSeconds rounds a timeout up to the whole seconds the emulator
// takes, at least one.
func timeoutSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// freePorts finds n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// lineWriter prefixes each complete line with the function's name and drops
// the emulator's own per-invocation START/END/REPORT lines, which the
// request log already covers.
type lineWriter struct {
	out    io.Writer
	prefix string
	buf    []byte
}

func newLineWriter(out io.Writer, name string) *lineWriter {
	return &lineWriter{out: out, prefix: name + " | "}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes a final unterminated line.
func (w *lineWriter) Flush() {
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

func (w *lineWriter) emit(line string) {
	line = strings.TrimRight(line, "\r")
	for _, noise := range []string{"START RequestId: ", "END RequestId: ", "REPORT RequestId: "} {
		if strings.HasPrefix(line, noise) {
			return
		}
	}
	if strings.TrimSpace(line) == "" {
		return
	}
	_, _ = io.WriteString(w.out, w.prefix+line+"\n")
}
