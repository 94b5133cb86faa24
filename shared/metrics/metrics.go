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
	"log/slog"
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
// the dimensions given as name, value pairs (an odd last name is dropped),
// and FunctionName, the running function's (lambdacontext.FunctionName; left
// out where there is none, as in tests).
func Count(name string, dimensions ...string) []any {
	if lambdacontext.FunctionName != "" {
		dimensions = append([]string{FunctionDimension, lambdacontext.FunctionName}, dimensions...)
	}
	dims := make([]string, 0, len(dimensions)/2)
	attrs := make([]any, 0, 2+len(dimensions)/2)
	for i := 0; i+1 < len(dimensions); i += 2 {
		dims = append(dims, dimensions[i])
		attrs = append(attrs, slog.String(dimensions[i], dimensions[i+1]))
	}
	directive := map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  Namespace,
			"Dimensions": [][]string{dims},
			"Metrics":    []map[string]string{{"Name": name, "Unit": "Count"}},
		}},
	}
	return append(attrs, slog.Int(name, 1), slog.Any("_aws", directive))
}
