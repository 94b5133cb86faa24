package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"clerk-lambda/dev/emulator"
)

// fakeFunctions runs ExportUsersFunction by handing its payload to the
// test, and Failing, which fails as a function does.
type fakeFunctions struct{ got chan []byte }

func (f fakeFunctions) Functions() []string { return []string{"ExportUsersFunction", "Failing"} }

func (f fakeFunctions) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	if name == "Failing" {
		return nil, &emulator.FunctionError{Function: name, Type: "errorString", Message: "boom"}
	}
	f.got <- payload
	return []byte(`{"users":3}`), nil
}

// TestLambdaAPI calls the local Lambda API with the AWS SDK's Lambda
// client, as a function does, and checks that the SDK reads each answer as
// it would Lambda's.
func TestLambdaAPI(t *testing.T) {
	t.Parallel()
	fns := fakeFunctions{got: make(chan []byte, 1)}
	api := newLambdaAPI(fns, "LOCALKEY", func(string) {})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	client := func(key string) *awslambda.Client {
		return awslambda.New(awslambda.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(key, "secret", ""),
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	invoke := func(c *awslambda.Client, name string, typ lambdatypes.InvocationType) (*awslambda.InvokeOutput, error) {
		return c.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(name), InvocationType: typ, Payload: []byte(`{"runId":"r1"}`)})
	}

	out, err := invoke(client("LOCALKEY"), "ExportUsersFunction", lambdatypes.InvocationTypeEvent)
	if err != nil || out.StatusCode != 202 {
		t.Fatalf("Event: %v, %+v; want 202", err, out)
	}
	select {
	case got := <-fns.got:
		if string(got) != `{"runId":"r1"}` {
			t.Errorf("the function got %s, want the payload sent", got)
		}
	case <-ctx.Done():
		t.Fatal("an Event invocation did not run the function")
	}

	out, err = invoke(client("LOCALKEY"), "ExportUsersFunction", lambdatypes.InvocationTypeRequestResponse)
	if err != nil || out.StatusCode != 200 || string(out.Payload) != `{"users":3}` || out.FunctionError != nil {
		t.Errorf("RequestResponse: %v, %+v; want 200 with the function's answer", err, out)
	}
	<-fns.got
	out, err = invoke(client("LOCALKEY"), "Failing", lambdatypes.InvocationTypeRequestResponse)
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), `"errorMessage":"boom"`) {
		t.Errorf("a failing function: %v, %+v; want FunctionError Unhandled with Lambda's error document", err, out)
	}

	_, err = invoke(client("LOCALKEY"), "NoSuchFunction", lambdatypes.InvocationTypeEvent)
	var notFound *lambdatypes.ResourceNotFoundException
	if !errors.As(err, &notFound) || !strings.Contains(notFound.ErrorMessage(), "Function not found: NoSuchFunction") {
		t.Errorf("an unknown function: %v; want ResourceNotFoundException naming it", err)
	}
	_, err = invoke(client("OTHERKEY"), "ExportUsersFunction", lambdatypes.InvocationTypeEvent)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnrecognizedClientException" {
		t.Errorf("another access key: %v; want UnrecognizedClientException", err)
	}
}

// blockingFunctions runs a function that runs until its context ends.
type blockingFunctions struct{ started chan struct{} }

func (blockingFunctions) Functions() []string { return []string{"Slow"} }

func (b blockingFunctions) Invoke(ctx context.Context, _ string, _ []byte) ([]byte, error) {
	close(b.started)
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestLambdaAPICloseEndsEventInvocations checks that Close ends what runs
// in the background, so that make dev stops at once.
func TestLambdaAPICloseEndsEventInvocations(t *testing.T) {
	t.Parallel()
	fns := blockingFunctions{started: make(chan struct{})}
	api := newLambdaAPI(fns, "LOCALKEY", func(string) {})
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/2015-03-31/functions/Slow/invocations", strings.NewReader("{}"))
	r.Header.Set("X-Amz-Invocation-Type", "Event")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=LOCALKEY/20260101/us-east-1/lambda/aws4_request")
	api.ServeHTTP(w, r)
	if w.Code != 202 {
		t.Fatalf("Event: %d %s, want 202", w.Code, w.Body)
	}
	<-fns.started
	api.Close()
	w = httptest.NewRecorder()
	api.ServeHTTP(w, r)
	if w.Code != 503 {
		t.Errorf("an Event invocation after Close: %d, want 503", w.Code)
	}
}

// TestStartAWSWithoutVersity checks that a missing versitygw leaves the
// local API without exports, said in one line, rather than failing.
func TestStartAWSWithoutVersity(t *testing.T) {
	t.Parallel()
	var lines []string
	a, err := startAWS(serveConfig{VersityGW: "/nonexistent/versitygw", CacheDir: t.TempDir()}, func(l string) { lines = append(lines, l) })
	if a != nil || err != nil || len(lines) != 1 || !strings.Contains(lines[0], "POST /admin/exports answers 503") {
		t.Errorf("startAWS without versitygw = %v, %v, said %q; want nothing started and one line", a, err, lines)
	}
}
