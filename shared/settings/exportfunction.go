package settings

import (
	"fmt"
	"regexp"
)

// ExportFunctionName names the variable holding the export function's name,
// which POST /admin/exports invokes.
const ExportFunctionName = "EXPORT_FUNCTION"

// lambdaFunction is what Lambda's Invoke takes as a function: a name, or a
// function's ARN, either with an optional version or alias.
var lambdaFunction = regexp.MustCompile(`^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$`)

// ExportFunction reads EXPORT_FUNCTION: the name or ARN of the export
// function (the template's !Ref ExportUsersFunction). Required.
func ExportFunction(get Lookup) (string, error) {
	name := String(get, ExportFunctionName, "")
	switch {
	case name == "":
		return "", fmt.Errorf("%s must be set to the export function's name", ExportFunctionName)
	case !lambdaFunction.MatchString(name):
		return "", fmt.Errorf("%s: not a Lambda function name or ARN", ExportFunctionName)
	}
	return name, nil
}
