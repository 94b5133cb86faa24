package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestForRequestAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	ForRequest(ctx, New(&buf)).Info("decision", "allowed", true)

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line is not JSON: %q", buf.String())
	}
	if line["requestId"] != "req-123" || line["msg"] != "decision" || line["allowed"] != true {
		t.Fatalf("log line = %v", line)
	}
}

func TestForRequestWithoutLambdaContext(t *testing.T) {
	var buf bytes.Buffer
	ForRequest(context.Background(), New(&buf)).Info("hello")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if _, ok := line["requestId"]; ok {
		t.Fatalf("unexpected requestId in %v", line)
	}
}
