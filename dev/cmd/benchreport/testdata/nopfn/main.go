// Command nopfn is the smallest Go Lambda function: it answers every event
// with an empty object. cmd/benchreport measures its cold start and size as
// the floor for any Go function built with aws-lambda-go.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (struct{}, error) {
		return struct{}{}, nil
	})
}
