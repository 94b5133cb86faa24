// Command me answers GET /me: the caller's Clerk user, read from the Backend
// API with the secret key, for the user id the authorizer verified.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/envvar"
	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/respond"
	"clerk-lambda/shared/secrets"
	"clerk-lambda/shared/userview"
)

const (
	// clerkTimeout bounds the Clerk call of one request, retries included,
	// well inside the function's 10-second timeout.
	clerkTimeout = 5 * time.Second
	// deadlineMargin is kept free before the Lambda deadline, so a slow
	// Clerk is answered 502 rather than cut off by Lambda.
	deadlineMargin = 500 * time.Millisecond
)

func main() {
	h, err := newHandler(envvar.OS, logging.New(os.Stdout))
	if err != nil {
		fmt.Fprintln(os.Stderr, "me:", err)
		os.Exit(1)
	}
	lambda.Start(h.handle)
}

// settings are the function's configuration. loadSettings reads them from
// the environment; tests adjust them before build.
type settings struct {
	skew    time.Duration
	secrets secrets.Config
	clerk   clerkapi.Config
}

func loadSettings(get envvar.Lookup) (settings, error) {
	skew, err := envvar.Duration(get, "CLERK_CLOCK_SKEW", 5*time.Second)
	if err != nil {
		return settings{}, err
	}
	sc, err := secrets.ConfigFromEnv(get)
	if err != nil {
		return settings{}, err
	}
	return settings{
		skew:    skew,
		secrets: sc,
		clerk:   clerkapi.Config{URL: envvar.String(get, "CLERK_API_URL", clerkapi.DefaultURL)},
	}, nil
}

type handler struct {
	ids     identity.Reader
	secrets *secrets.Provider
	clerk   *clerkapi.Client
	log     *slog.Logger
}

func newHandler(get envvar.Lookup, logger *slog.Logger) (*handler, error) {
	s, err := loadSettings(get)
	if err != nil {
		return nil, err
	}
	return s.build(logger)
}

// build makes the handler. It makes no network call: the secret key is read
// on the first request that needs it.
func (s settings) build(logger *slog.Logger) (*handler, error) {
	provider, err := secrets.New(s.secrets)
	if err != nil {
		return nil, err
	}
	cfg := s.clerk
	cfg.SecretKey = secretKey(provider)
	client, err := clerkapi.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("CLERK_API_URL: %w", err)
	}
	return &handler{ids: identity.Reader{Leeway: s.skew}, secrets: provider, clerk: client, log: logger}, nil
}

// secretError marks a failure to read the secret key: the server's own
// problem (500), not Clerk's (502). Its text is the provider's, which names
// the parameter and never holds the key.
type secretError struct{ err error }

func (e *secretError) Error() string { return e.err.Error() }
func (e *secretError) Unwrap() error { return e.err }

// isSecretError reports whether err comes from reading the secret key.
func isSecretError(err error) bool {
	var se *secretError
	return errors.As(err, &se)
}

// secretKey hands provider's key to the Clerk client, marking its failures.
func secretKey(provider *secrets.Provider) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		key, err := provider.SecretKey(ctx)
		if err != nil {
			return "", &secretError{err}
		}
		return key, nil
	}
}

func (h *handler) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	id, err := h.ids.HTTP(req)
	if err != nil {
		return h.finish(ctx, respond.Unauthenticated(), "", err), nil
	}
	cctx, cancel := clerkContext(ctx)
	defer cancel()
	u, err := h.clerk.User(cctx, id.UserID)
	if err != nil {
		return h.finish(ctx, failure(err), id.UserID, err), nil
	}
	return h.finish(ctx, respond.JSON(http.StatusOK, userview.View(u)), id.UserID, nil), nil
}

// clerkContext bounds a Clerk call by clerkTimeout, and by the Lambda
// deadline less deadlineMargin when that comes sooner.
func clerkContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(clerkTimeout)
	if d, ok := ctx.Deadline(); ok && d.Add(-deadlineMargin).Before(deadline) {
		deadline = d.Add(-deadlineMargin)
	}
	return context.WithDeadline(ctx, deadline)
}

// failure answers a failed Clerk call: 404 for a user Clerk does not have
// (deleted since the token was issued), 500 when the secret key could not be
// read, 502 for anything else Clerk did (errors after retries, no answer in
// time). The details go to the log, never to the client.
func failure(err error) events.APIGatewayV2HTTPResponse {
	switch {
	case isSecretError(err):
		return respond.Error(http.StatusInternalServerError, "secret_unavailable",
			"the server could not load its Clerk credentials")
	case errors.Is(err, clerkapi.ErrNotFound):
		return respond.Error(http.StatusNotFound, "user_not_found", "no such user: it may have been deleted")
	}
	return respond.Error(http.StatusBadGateway, "clerk_unavailable", "Clerk failed to answer; try again shortly")
}

// finish writes the request's one log line and returns res. err, when not
// nil, says why the request failed; a secret failure also names where the
// key comes from.
func (h *handler) finish(ctx context.Context, res events.APIGatewayV2HTTPResponse, userID string, err error) events.APIGatewayV2HTTPResponse {
	attrs := []any{"status", res.StatusCode}
	if userID != "" {
		attrs = append(attrs, "userId", userID)
	}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	if isSecretError(err) {
		attrs = append(attrs, "secretSource", h.secrets.Source())
	}
	level := slog.LevelInfo
	if res.StatusCode >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	logging.ForRequest(ctx, h.log).Log(ctx, level, "GET /me", attrs...)
	return res
}
