// Command fixturefn is a Lambda function for the local API's tests. What it
// does depends on the event's "mode" (or, for an HTTP event, the mode query
// parameter): echo the event, fail, panic, exit, sleep, report its
// environment or process ids (its own and its emulator's), or answer with a
// binary body and cookies. Given an authorizer event it allows "Bearer good"
// and denies anything else.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

func handler(_ context.Context, event map[string]any) (any, error) {
	if event["type"] == "REQUEST" {
		ids, _ := event["identitySource"].([]any)
		allowed := len(ids) == 1 && ids[0] == "Bearer good"
		return map[string]any{"isAuthorized": allowed, "context": map[string]any{"userId": "user_fixture"}}, nil
	}
	param := func(name string) string {
		if v, ok := event[name].(string); ok {
			return v
		}
		q, _ := event["queryStringParameters"].(map[string]any)
		v, _ := q[name].(string)
		return v
	}
	fmt.Println("fixture mode", param("mode"))
	switch param("mode") {
	case "error":
		return nil, errors.New("boom")
	case "panic":
		panic("fixture panic")
	case "exit":
		os.Exit(3)
	case "sleep":
		ms, _ := strconv.Atoi(param("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return map[string]any{"slept": ms}, nil
	case "env":
		return map[string]string{"value": os.Getenv(param("name"))}, nil
	case "pid":
		return map[string]any{"pid": os.Getpid(), "ppid": os.Getppid(), "id": param("id")}, nil
	case "binary":
		return map[string]any{
			"statusCode":      201,
			"headers":         map[string]string{"Content-Type": "application/octet-stream"},
			"cookies":         []string{"a=1; Path=/", "b=2"},
			"isBase64Encoded": true,
			"body":            base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255}),
		}, nil
	}
	return event, nil
}

func main() { lambda.Start(handler) }
