package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"clerk-lambda/dev/emulator"
)

// maxPayload is Lambda's limit on an invocation's payload.
const maxPayload = 6 << 20

// functions runs the template's functions; *emulator.Runner does.
type functions interface {
	Invoke(ctx context.Context, name string, payload []byte) ([]byte, error)
	Functions() []string
}

// lambdaAPI is the part of the Lambda API that a function calls to start
// another: Invoke (POST /2015-03-31/functions/{name}/invocations), by the
// function's name, which locally is its logical id, as a Ref to it resolves.
// InvocationType Event answers 202 and runs the function in the background,
// as Lambda's asynchronous invocation does (without its retries);
// RequestResponse, the default, runs it and answers with its result. Errors
// have Lambda's shape, so that the AWS SDK reports them as it would in AWS.
type lambdaAPI struct {
	fns       functions
	accessKey string
	log       func(string)
	mux       *http.ServeMux

	// The invocations running in the background end with ctx.
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup
}

// newLambdaAPI serves fns to callers that sign with accessKey, logging one
// line per invocation with log.
func newLambdaAPI(fns functions, accessKey string, log func(string)) *lambdaAPI {
	l := &lambdaAPI{fns: fns, accessKey: accessKey, log: log, mux: http.NewServeMux()}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", l.serveInvoke)
	return l
}

func (l *lambdaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.mux.ServeHTTP(w, r) }

func (l *lambdaAPI) serveInvoke(w http.ResponseWriter, r *http.Request) {
	if !signedWith(r, l.accessKey) {
		lambdaError(w, http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	name := r.PathValue("name")
	if !slices.Contains(l.fns.Functions(), name) {
		l.log(fmt.Sprintf("Lambda Invoke %q 404: no such function in the template", name))
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		lambdaError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "the payload is over 6 MB, or could not be read")
		return
	}
	switch typ := r.Header.Get("X-Amz-Invocation-Type"); typ {
	case "Event":
		l.start(w, name, payload)
	case "", "RequestResponse":
		l.call(w, r.Context(), name, payload)
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
	default:
		lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", "InvocationType must be Event, RequestResponse or DryRun")
	}
}

// signedWith reports whether r is signed with this run's access key. The
// signature is not checked: the key keeps out callers that were not given
// it, web pages among them, since a browser sends no Authorization header
// to another origin without a preflight, which the local AWS APIs do not
// answer.
func signedWith(r *http.Request, accessKey string) bool {
	return strings.Contains(r.Header.Get("Authorization"), "Credential="+accessKey+"/")
}

// start answers 202 and runs the function in the background, until it ends
// or the local API stops.
func (l *lambdaAPI) start(w http.ResponseWriter, name string, payload []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		lambdaError(w, http.StatusServiceUnavailable, "ServiceException", "the local API is shutting down")
		return
	}
	l.running.Add(1)
	go func() {
		defer l.running.Done()
		began := time.Now()
		_, err := l.fns.Invoke(l.ctx, name, payload)
		took := time.Since(began).Round(time.Millisecond)
		switch {
		case l.ctx.Err() != nil:
			// The local API stopped it.
		case err != nil:
			l.log(fmt.Sprintf("Lambda %s: the Event invocation failed after %s: %v", name, took, err))
		default:
			l.log(fmt.Sprintf("Lambda %s: the Event invocation ended after %s", name, took))
		}
	}()
	w.WriteHeader(http.StatusAccepted)
	l.log(fmt.Sprintf("Lambda Invoke %s Event 202", name))
}

// call runs the function and answers with its result, or with its error
// under X-Amz-Function-Error, as Lambda does.
func (l *lambdaAPI) call(w http.ResponseWriter, ctx context.Context, name string, payload []byte) {
	answer, err := l.fns.Invoke(ctx, name, payload)
	var failed *emulator.FunctionError
	switch {
	case errors.As(err, &failed):
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		answer, _ = json.Marshal(map[string]string{"errorType": failed.Type, "errorMessage": failed.Message})
	case err != nil:
		lambdaError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	_, _ = w.Write(answer)
	l.log(fmt.Sprintf("Lambda Invoke %s RequestResponse 200", name))
}

// lambdaError answers as the Lambda API does: the error's type in the
// X-Amzn-ErrorType header, and a JSON body with the message and whose fault
// it is, the caller's (4xx) or the service's.
func lambdaError(w http.ResponseWriter, status int, typ, message string) {
	fault := "User"
	if status >= http.StatusInternalServerError {
		fault = "Service"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": fault, "Message": message})
}

// Close ends the invocations running in the background and waits for them;
// no new one starts.
func (l *lambdaAPI) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.running.Wait()
}
