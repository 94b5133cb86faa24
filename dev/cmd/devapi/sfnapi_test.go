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
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"clerk-lambda/dev/statemachine"
)

// oneSlice is a state machine of one Task, as the export's first slice.
const oneSlice = `
Resources:
  Export:
    Type: AWS::Serverless::Function
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Slice
        States:
          Slice:
            Type: Task
            Resource: arn:aws:states:::lambda:invoke
            Parameters:
              FunctionName: ${Fn}
              Payload.$: $
            OutputPath: $.Payload
            End: true
      DefinitionSubstitutions:
        Fn: !GetAtt Export.Arn
`

// heldSlice answers each invocation of Export once the test releases it.
type heldSlice struct{ release chan struct{} }

func (s heldSlice) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return []byte(`{"done":true,"users":2}`), nil
}

// TestStepFunctionsAPI calls the local Step Functions API with the AWS
// SDK's client, as AdminExportsFunction does, and checks that the SDK reads
// each answer as it would Step Functions'.
func TestStepFunctionsAPI(t *testing.T) {
	t.Parallel()
	m, err := statemachine.ParseTemplate([]byte(oneSlice))
	if err != nil {
		t.Fatal(err)
	}
	fns := heldSlice{release: make(chan struct{})}
	api := newStepFunctions(m, fns, "LOCALKEY", func(string) {})
	t.Cleanup(api.Close)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	client := func(key string) *sfn.Client {
		return sfn.New(sfn.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(key, "secret", ""),
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	arn := stateMachineARN("Machine")
	start := func(c *sfn.Client, machine, input string) (*sfn.StartExecutionOutput, error) {
		return c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String("run1"), Input: aws.String(input)})
	}

	first, err := start(client("LOCALKEY"), arn, `{"runId":"run1"}`)
	if err != nil || !strings.HasSuffix(aws.ToString(first.ExecutionArn), ":execution:Machine:run1") || first.StartDate == nil {
		t.Fatalf("StartExecution: %v, %+v; want the execution's ARN and start", err, first)
	}
	if again, err := start(client("LOCALKEY"), arn, `{"runId":"run1"}`); err != nil || aws.ToString(again.ExecutionArn) != aws.ToString(first.ExecutionArn) {
		t.Errorf("StartExecution again while it runs, same input: %v; want the same answer", err)
	}
	var exists *sfntypes.ExecutionAlreadyExists
	if _, err := start(client("LOCALKEY"), arn, `{"other":1}`); !errors.As(err, &exists) {
		t.Errorf("StartExecution of a used name with other input: %v; want ExecutionAlreadyExists", err)
	}
	close(fns.release)
	for {
		d, err := client("LOCALKEY").DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: first.ExecutionArn})
		if err != nil {
			t.Fatalf("DescribeExecution: %v", err)
		}
		if d.Status == sfntypes.ExecutionStatusSucceeded {
			if aws.ToString(d.Output) != `{"done":true,"users":2}` || aws.ToString(d.Input) != `{"runId":"run1"}` {
				t.Errorf("DescribeExecution: input %s, output %s; want the run's", aws.ToString(d.Input), aws.ToString(d.Output))
			}
			break
		}
		if d.Status != sfntypes.ExecutionStatusRunning || ctx.Err() != nil {
			t.Fatalf("the execution is %s, want it to succeed", d.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := start(client("LOCALKEY"), arn, `{"runId":"run1"}`); !errors.As(err, &exists) {
		t.Errorf("StartExecution of an ended execution's name: %v; want ExecutionAlreadyExists", err)
	}
	var missing *sfntypes.StateMachineDoesNotExist
	if _, err := start(client("LOCALKEY"), stateMachineARN("Other"), `{}`); !errors.As(err, &missing) {
		t.Errorf("StartExecution of another state machine: %v; want StateMachineDoesNotExist", err)
	}
	var apiErr smithy.APIError
	if _, err := start(client("OTHERKEY"), arn, `{}`); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnrecognizedClientException" {
		t.Errorf("another access key: %v; want UnrecognizedClientException", err)
	}
}
