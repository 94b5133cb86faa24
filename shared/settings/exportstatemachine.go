package settings

import (
	"fmt"
	"regexp"
)

// ExportStateMachineName names the variable holding the ARN of the export's
// state machine, which POST /admin/exports starts.
const ExportStateMachineName = "EXPORT_STATE_MACHINE"

// stateMachineARN is what Step Functions' StartExecution takes: a state
// machine's ARN (names are 1 to 80 letters, digits, - and _), with an
// optional version or alias.
var stateMachineARN = regexp.MustCompile(`^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[A-Za-z0-9_-]{1,80}(:[A-Za-z0-9_-]{1,80})?$`)

// ExportStateMachine reads EXPORT_STATE_MACHINE: the ARN of the export's
// state machine (the template's !Ref ExportStateMachine). Required.
func ExportStateMachine(get Lookup) (string, error) {
	arn := String(get, ExportStateMachineName, "")
	switch {
	case arn == "":
		return "", fmt.Errorf("%s must be set to the export state machine's ARN", ExportStateMachineName)
	case !stateMachineARN.MatchString(arn):
		return "", fmt.Errorf("%s: not a Step Functions state machine ARN", ExportStateMachineName)
	}
	return arn, nil
}
