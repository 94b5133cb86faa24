// Command private answers GET /private: the caller's identity, straight from
// the claims the authorizer verified. It makes no call to Clerk.
package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/respond"
	"clerk-lambda/shared/settings"
	"clerk-lambda/shared/startup"
)

func main() {
	h := startup.Init("private", newHandler)
	lambda.Start(h.handle)
}

type handler struct {
	ids identity.Reader
	log *slog.Logger
}

func newHandler(get settings.Lookup, logger *slog.Logger) (*handler, error) {
	skew, err := settings.ClockSkew(get)
	if err != nil {
		return nil, err
	}
	return &handler{ids: identity.Reader{Leeway: skew}, log: logger}, nil
}

// whoami is the body of GET /private.
type whoami struct {
	Message  string             `json:"message"`
	Identity *identity.Identity `json:"identity"`
}

func (h *handler) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	id, err := h.ids.HTTP(req)
	if err != nil {
		res := respond.IdentityRefused(err)
		h.log.InfoContext(ctx, "refused", "status", res.StatusCode, "error", err.Error())
		return res, nil
	}
	return respond.JSON(http.StatusOK, whoami{Message: "You are signed in.", Identity: id}), nil
}
