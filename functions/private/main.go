// Command private answers GET /private: the caller's identity, straight from
// the claims the authorizer verified. It makes no call to Clerk.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"clerk-lambda/shared/envvar"
	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/respond"
)

func main() {
	h, err := newHandler(envvar.OS, logging.New(os.Stdout))
	if err != nil {
		fmt.Fprintln(os.Stderr, "private:", err)
		os.Exit(1)
	}
	lambda.Start(h.handle)
}

type handler struct {
	ids identity.Reader
	log *slog.Logger
}

func newHandler(get envvar.Lookup, logger *slog.Logger) (*handler, error) {
	skew, err := identity.LeewayFromEnv(get)
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
		logging.ForRequest(ctx, h.log).Info("unauthenticated", "status", http.StatusUnauthorized, "error", err.Error())
		return respond.Unauthenticated(), nil
	}
	return respond.JSON(http.StatusOK, whoami{Message: "You are signed in.", Identity: id}), nil
}
