// Package metrics makes a function's JSON log line also a CloudWatch metric,
// in the Embedded Metric Format: CloudWatch Logs reads the "_aws" member of
// the line and records the metric it names, with no SDK and no extra call.
//
//	logger.InfoContext(ctx, "denied", metrics.Count("Denied", "Reason", reason)...)
//
// Every metric also has the dimension FunctionName, the Lambda function that
// recorded it (as AWS/Lambda's own metrics do), so two stacks in one account
// and region never add up, and an alarm names exactly its stack's function.
// Other dimension values must come from a small, fixed set (a reason, a
// route key): each distinct value is a metric of its own, and CloudWatch
// bills them.
package metrics

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Namespace is the CloudWatch namespace of every metric the project
// records; the template's alarms watch it.
const Namespace = "ClerkLambda"

// The metrics the project records.
const (
	// Allowed and Denied count the authorizer's decisions; Denied has the
	// dimension Reason, one of clerkauth's reasons.
	Allowed = "Allowed"
	Denied  = "Denied"
	// ClerkFailure counts route requests that Clerk failed (5xx answers),
	// with the dimension Route, the route key.
	ClerkFailure = "ClerkFailure"
	// ExportSucceeded counts completed exports; an alarm fires when a day
	// passes without one.
	ExportSucceeded = "ExportSucceeded"
)

// FunctionDimension names the function that recorded a metric.
const FunctionDimension = "FunctionName"

// Count returns the log attributes that record one occurrence of name, with
// the dimensions given as name, value pairs (an odd last name is dropped;
// names are the project's constants, printable ASCII),
// and FunctionName, the running function's (lambdacontext.FunctionName; left
// out where there is none, as in tests).
func Count(name string, dimensions ...string) []any {
	if lambdacontext.FunctionName != "" {
		dimensions = append([]string{FunctionDimension, lambdacontext.FunctionName}, dimensions...)
	}
	attrs := make([]any, 0, 2+len(dimensions)/2)
	// The directive is written as JSON here, not built from maps for slog
	// to encode: the authorizer writes one per decision.
	b := make([]byte, 0, 192)
	b = append(b, `{"Timestamp":`...)
	b = strconv.AppendInt(b, time.Now().UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":`...)
	b = strconv.AppendQuote(b, Namespace)
	b = append(b, `,"Dimensions":[[`...)
	for i := 0; i+1 < len(dimensions); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, dimensions[i])
		attrs = append(attrs, slog.String(dimensions[i], dimensions[i+1]))
	}
	b = append(b, `]],"Metrics":[{"Name":`...)
	b = strconv.AppendQuote(b, name)
	b = append(b, `,"Unit":"Count"}]}]}`...)
	return append(attrs, slog.Int(name, 1), slog.Any("_aws", json.RawMessage(b)))
}
