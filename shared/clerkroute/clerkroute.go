// Package clerkroute is what an HTTP route function needs around a call to
// Clerk's Backend API: its settings from the environment, the caller's
// identity from the authorizer context, a Backend API client that reads the
// secret key when a request needs it, the deadline of each Clerk call, the
// answer to a failed call, and the request's one log line. Route functions
// (GET /me, GET /admin/users) keep only what is theirs: who may call, which
// parameters they take and which call they make.
package clerkroute

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/metrics"
	"clerk-lambda/shared/respond"
	"clerk-lambda/shared/settings"
)

const (
	// CallTimeout bounds the Clerk call of one request, retries included,
	// well inside the functions' 10-second timeout.
	CallTimeout = 5 * time.Second
	// DeadlineMargin is kept free before the Lambda deadline, so a slow
	// Clerk is answered 502 rather than cut off by Lambda.
	DeadlineMargin = 500 * time.Millisecond
	// MaxRetryAfter is the longest Retry-After a route waits out, once.
	MaxRetryAfter = time.Second
)

// Settings are a route's configuration. LoadSettings reads them from the
// environment; tests adjust them (shorter retry backoffs, an SSM client of
// their own) before New.
type Settings struct {
	// Skew is CLERK_CLOCK_SKEW, the leeway on the expiry the authorizer
	// passed on.
	Skew time.Duration
	// Backend is the Backend API client's settings: CLERK_API_URL and the
	// secret key's.
	Backend clerkapi.Settings
}

// LoadSettings reads the clock skew and the Backend API client's settings.
// An error is one line naming the variable.
func LoadSettings(get settings.Lookup) (Settings, error) {
	skew, err := settings.ClockSkew(get)
	if err != nil {
		return Settings{}, err
	}
	backend, err := clerkapi.LoadSettings(get, 0)
	if err != nil {
		return Settings{}, err
	}
	// A request fails fast when Clerk rate-limits it: at most one retry,
	// and only when Retry-After asks for a second or less.
	backend.Client.MaxRetryAfter = MaxRetryAfter
	return Settings{Skew: skew, Backend: backend}, nil
}

// Route is what a route's handler works with. It is safe for concurrent use.
type Route struct {
	// IDs reads the caller's identity from the authorizer context.
	IDs identity.Reader
	// Clerk calls the Backend API; bound each call with CallContext.
	Clerk *clerkapi.Client

	// keySource says where the secret key comes from, for logs; never the key.
	keySource func() string
	log       *slog.Logger
}

// FromEnv builds a Route from the environment, logging to logger: what a
// function's setup calls.
func FromEnv(get settings.Lookup, logger *slog.Logger) (*Route, error) {
	s, err := LoadSettings(get)
	if err != nil {
		return nil, err
	}
	return New(s, logger)
}

// New builds a Route from s, logging to logger. It makes no network call:
// the secret key is read on the first request that needs it.
func New(s Settings, logger *slog.Logger) (*Route, error) {
	client, keys, err := clerkapi.Connect(s.Backend)
	if err != nil {
		return nil, err
	}
	logger.Debug("route settings", "apiUrl", s.Backend.Client.URL, "secretSource", keys.Source(), "clockSkew", s.Skew.String())
	return &Route{IDs: identity.Reader{Leeway: s.Skew}, Clerk: client, keySource: keys.Source, log: logger}, nil
}

// CallContext bounds a Clerk call by CallTimeout, and by the Lambda deadline
// less DeadlineMargin when that comes sooner.
func CallContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(CallTimeout)
	if d, ok := ctx.Deadline(); ok && d.Add(-DeadlineMargin).Before(deadline) {
		deadline = d.Add(-DeadlineMargin)
	}
	return context.WithDeadline(ctx, deadline)
}

// Failure answers a failed Clerk call: 503 clerk_rate_limited with a
// Retry-After header when Clerk rate-limited it past what a route waits,
// 500 secret_unavailable when the
// secret key could not be read (the server's own problem), 404
// user_not_found with notFound as its message when Clerk says the user does
// not exist, and 502 clerk_unavailable for anything else Clerk did (errors
// after retries, no answer in time). A call that looks up no single user (a
// list) passes an empty notFound: a 404 there means a wrong CLERK_API_URL,
// not a missing user. The details go to the log (Finish), never to the
// client.
func Failure(err error, notFound string) events.APIGatewayV2HTTPResponse {
	var limited *clerkapi.RateLimitedError
	switch {
	case errors.As(err, &limited):
		res := respond.Error(http.StatusServiceUnavailable, "clerk_rate_limited",
			"Clerk is rate-limiting this API; try again after the Retry-After seconds")
		res.Headers["Retry-After"] = strconv.Itoa(retryAfterSeconds(limited.RetryAfter))
		return res
	case errors.Is(err, clerkapi.ErrSecretKey):
		return respond.Error(http.StatusInternalServerError, "secret_unavailable",
			"the server could not load its Clerk credentials")
	case notFound != "" && clerkapi.NoSuchUser(err):
		return respond.Error(http.StatusNotFound, "user_not_found", notFound)
	}
	return respond.Error(http.StatusBadGateway, "clerk_unavailable", "Clerk failed to answer; try again shortly")
}

// retryAfterSeconds is the Retry-After to send a client: Clerk's, rounded up
// to whole seconds, at least 1 (and 1 when Clerk gave none).
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// Finish writes the request's one log line and returns res. The line is msg
// (the route), with the status, then attrs (key-value pairs such as the
// caller's userId), then err's text when the request failed; a failure to
// read the secret key also names where the key comes from, never the key.
// A 5xx is logged at ERROR level, and is also the ClerkFailure metric of
// the route (shared/metrics); anything else is logged at INFO. The logger
// adds the request id from ctx.
func (r *Route) Finish(ctx context.Context, msg string, res events.APIGatewayV2HTTPResponse, err error, attrs ...any) events.APIGatewayV2HTTPResponse {
	all := append([]any{"status", res.StatusCode}, attrs...)
	if err != nil {
		all = append(all, "error", err.Error())
	}
	if errors.Is(err, clerkapi.ErrSecretKey) {
		all = append(all, "secretSource", r.keySource())
	}
	level := slog.LevelInfo
	if res.StatusCode >= http.StatusInternalServerError {
		level = slog.LevelError
		all = append(all, metrics.Count(metrics.ClerkFailure, "Route", msg)...)
	}
	r.log.Log(ctx, level, msg, all...)
	return res
}
