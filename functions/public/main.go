// Command public answers GET /public: a small JSON hello that needs no sign-in,
// so a front end (or a health check) can tell the API is up.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"clerk-lambda/shared/respond"
	"clerk-lambda/shared/settings"
	"clerk-lambda/shared/startup"
)

func main() {
	lambda.Start(startup.Init("public", setup))
}

// setup reads nothing of its own: the route needs no settings beyond
// LOG_LEVEL, which startup checks.
func setup(settings.Lookup, *slog.Logger) (func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error), error) {
	return handle, nil
}

// hello is the body of GET /public.
type hello struct {
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

func handle(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return respond.JSON(http.StatusOK, hello{
		Message: "Hello from the public endpoint: no sign-in needed.",
		Time:    requestTime(req),
	}), nil
}

// requestTime is when API Gateway received the request, or now when the event
// does not say.
func requestTime(req events.APIGatewayV2HTTPRequest) time.Time {
	if ms := req.RequestContext.TimeEpoch; ms > 0 {
		return time.UnixMilli(ms).UTC()
	}
	return time.Now().UTC()
}
