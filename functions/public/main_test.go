package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestHello(t *testing.T) {
	t.Parallel()
	req := events.APIGatewayV2HTTPRequest{RouteKey: "GET /public"}
	req.RequestContext.TimeEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli()
	res, err := handle(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var body hello
	if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || body.Message == "" || !body.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("got %d %s", res.StatusCode, res.Body)
	}
	if res.Headers["Content-Type"] != "application/json; charset=utf-8" {
		t.Fatalf("headers = %v", res.Headers)
	}
}
