package settings

import (
	"strings"
	"testing"
)

// EXPORT_STATE_MACHINE takes a state machine's ARN, as StartExecution does,
// and nothing else: not a name, not a Lambda function, not an execution.
func TestExportStateMachine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, err string
	}{
		{in: "arn:aws:states:us-east-1:123456789012:stateMachine:ExportStateMachine-AbC123dEf456"},
		{in: "arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:export_users"},
		{in: "arn:aws:states:eu-west-1:123456789012:stateMachine:export:live"},
		{in: "", err: "EXPORT_STATE_MACHINE must be set to the export state machine's ARN"},
		{in: "ExportStateMachine", err: "EXPORT_STATE_MACHINE: not a Step Functions state machine ARN"},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:export", err: "EXPORT_STATE_MACHINE: not a"},
		{in: "arn:aws:states:us-east-1:123456789012:execution:export:run-1:x", err: "EXPORT_STATE_MACHINE: not a"},
		{in: "arn:aws:states:us-east-1:123456789012:stateMachine:" + strings.Repeat("a", 81), err: "EXPORT_STATE_MACHINE: not a"},
		{in: "arn:aws:states:us-east-1:123456789012:stateMachine:export users", err: "EXPORT_STATE_MACHINE: not a"},
	} {
		got, err := ExportStateMachine(Map(map[string]string{ExportStateMachineName: tc.in}))
		switch {
		case tc.err == "" && (err != nil || got != tc.in):
			t.Errorf("%q: %q, %v; want it as it is", tc.in, got, err)
		case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
			t.Errorf("%q: %q, %v; want an error starting %q", tc.in, got, err, tc.err)
		}
	}
}
