package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

const (
	invokePath = "/2015-03-31/functions/function/invocations"
	// watchdogGrace is how long past the function's timeout an invocation
	// waits for the emulator's own timeout answer before it gives up on
	// the instance.
	watchdogGrace = 5 * time.Second
)

// Invoke sends one invocation and returns the function's answer. It
// returns a *FunctionError when the function failed, and an error wrapping
// ctx.Err() when ctx ended first. Invocations of one instance must not
// overlap: like a Lambda execution environment, it runs one at a time.
func (i *Instance) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	watchdog, cancel := context.WithTimeout(ctx, i.fn.Timeout+watchdogGrace)
	defer cancel()
	req, err := http.NewRequestWithContext(watchdog, http.MethodPost, i.url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	name := i.fn.Name
	resp, err := i.client.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, &brokenError{fmt.Errorf("%s: %w", name, ctx.Err())}
		case watchdog.Err() != nil:
			return nil, &brokenError{&FunctionError{Function: name, Type: "Sandbox.Timedout",
				Message: fmt.Sprintf("no answer %s after the %s timeout; instance stopped", watchdogGrace, i.fn.Timeout)}}
		}
		return nil, &brokenError{fmt.Errorf("%s: the emulator failed: %w", name, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &brokenError{fmt.Errorf("%s: read the emulator's answer: %w", name, err)}
	}
	return interpret(name, resp.StatusCode, body)
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
