// Command admin-users answers GET /admin/users, a page of Clerk users, and
// GET /admin/users/{id}, one user, to administrators only: callers whose
// active organization role is ADMIN_ORG_ROLE, or whose session token carries
// metadata.role "admin".
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

	// The route keys of the HTTP API.
	routeList = "GET /admin/users"
	routeOne  = "GET /admin/users/{id}"

	// Bounds of the list's query parameters.
	defaultLimit = 20
	maxLimit     = 100
	maxOffset    = math.MaxInt32
	maxQuery     = 256 // characters
)

func main() {
	h, err := newHandler(envvar.OS, logging.New(os.Stdout))
	if err != nil {
		fmt.Fprintln(os.Stderr, "admin-users:", err)
		os.Exit(1)
	}
	lambda.Start(h.handle)
}

// settings are the function's configuration. loadSettings reads them from
// the environment; tests adjust them before build.
type settings struct {
	skew      time.Duration
	adminRole string
	secrets   secrets.Config
	clerk     clerkapi.Config
}

// orgRoleKey is the form of a Clerk organization role key, such as org:admin.
var orgRoleKey = regexp.MustCompile(`^org:[A-Za-z0-9_-]+$`)

func loadSettings(get envvar.Lookup) (settings, error) {
	skew, err := envvar.Duration(get, "CLERK_CLOCK_SKEW", 5*time.Second)
	if err != nil {
		return settings{}, err
	}
	role := envvar.String(get, "ADMIN_ORG_ROLE", "org:admin")
	if !orgRoleKey.MatchString(role) {
		return settings{}, errors.New("ADMIN_ORG_ROLE: not an organization role key (use a form such as org:admin)")
	}
	sc, err := secrets.ConfigFromEnv(get)
	if err != nil {
		return settings{}, err
	}
	return settings{
		skew:      skew,
		adminRole: role,
		secrets:   sc,
		clerk:     clerkapi.Config{URL: envvar.String(get, "CLERK_API_URL", clerkapi.DefaultURL)},
	}, nil
}

type handler struct {
	ids       identity.Reader
	adminRole string
	secrets   *secrets.Provider
	clerk     *clerkapi.Client
	log       *slog.Logger
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
	return &handler{
		ids:       identity.Reader{Leeway: s.skew},
		adminRole: s.adminRole,
		secrets:   provider,
		clerk:     client,
		log:       logger,
	}, nil
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

// errNotAdmin is the log's reason for a 403.
var errNotAdmin = errors.New("caller is not an administrator")

func (h *handler) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	target, one := wantsOne(req)
	id, err := h.ids.HTTP(req)
	var res events.APIGatewayV2HTTPResponse
	switch {
	case err != nil:
		res = respond.Unauthenticated()
	case !id.IsAdmin(h.adminRole):
		res, err = respond.Error(http.StatusForbidden, "forbidden", "this route is for administrators only"), errNotAdmin
	case one:
		res, err = h.one(ctx, target)
	default:
		res, err = h.list(ctx, req.QueryStringParameters)
	}
	h.finish(ctx, res, id, one, target, err)
	return res, nil
}

// wantsOne reports whether req asks for one user, and which, rather than a
// page. The route key decides; for any other key (a catch-all route, an
// emulator) the presence of the id path parameter does.
func wantsOne(req events.APIGatewayV2HTTPRequest) (id string, one bool) {
	switch req.RouteKey {
	case routeList:
		return "", false
	case routeOne:
		return req.PathParameters["id"], true
	}
	id, one = req.PathParameters["id"]
	return id, one
}

// userID is the form of a Clerk user id: "user_" and base62 characters.
var userID = regexp.MustCompile(`^user_[A-Za-z0-9]{1,100}$`)

// one answers GET /admin/users/{id}.
func (h *handler) one(ctx context.Context, id string) (events.APIGatewayV2HTTPResponse, error) {
	if !userID.MatchString(id) {
		return invalid("id must be a Clerk user id: user_ followed by letters and digits")
	}
	cctx, cancel := clerkContext(ctx)
	defer cancel()
	u, err := h.clerk.User(cctx, id)
	if err != nil {
		return failure(err), err
	}
	return respond.JSON(http.StatusOK, userview.View(u)), nil
}

// page is the body of GET /admin/users. NextOffset is the offset of the
// next page, or null when this page was the last.
type page struct {
	Data       []userview.UserView `json:"data"`
	Limit      int                 `json:"limit"`
	Offset     int                 `json:"offset"`
	NextOffset *int                `json:"next_offset"`
}

// list answers GET /admin/users: the newest users first, Clerk's order.
func (h *handler) list(ctx context.Context, query map[string]string) (events.APIGatewayV2HTTPResponse, error) {
	p, err := listParams(query)
	if err != nil {
		return invalid(err.Error())
	}
	cctx, cancel := clerkContext(ctx)
	defer cancel()
	users, err := h.clerk.ListUsers(cctx, p)
	if err != nil {
		return failure(err), err
	}
	body := page{Data: userview.Views(users), Limit: p.Limit, Offset: p.Offset}
	if len(users) == p.Limit {
		next := p.Offset + len(users)
		body.NextOffset = &next
	}
	return respond.JSON(http.StatusOK, body), nil
}

// listParams reads limit, offset and query; other parameters are ignored.
// An error is the message for the client, naming the parameter.
func listParams(q map[string]string) (clerkapi.ListParams, error) {
	limit, err := number(q, "limit", defaultLimit, 1, maxLimit)
	if err != nil {
		return clerkapi.ListParams{}, err
	}
	offset, err := number(q, "offset", 0, 0, maxOffset)
	if err != nil {
		return clerkapi.ListParams{}, err
	}
	query := strings.TrimSpace(q["query"])
	if utf8.RuneCountInString(query) > maxQuery {
		return clerkapi.ListParams{}, fmt.Errorf("query must be at most %d characters", maxQuery)
	}
	return clerkapi.ListParams{Limit: limit, Offset: offset, Query: query}, nil
}

// number reads q[name] as a whole number from lo to hi: digits only, no
// sign or spaces. An absent or empty parameter is def.
func number(q map[string]string, name string, def, lo, hi int) (int, error) {
	v := q[name]
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n < uint64(lo) || n > uint64(hi) {
		return 0, fmt.Errorf("%s must be a whole number from %d to %d", name, lo, hi)
	}
	return int(n), nil
}

// invalid answers 400 for a parameter the route refuses; message names it.
func invalid(message string) (events.APIGatewayV2HTTPResponse, error) {
	return respond.Error(http.StatusBadRequest, "invalid_parameter", message), errors.New(message)
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

// failure answers a failed Clerk call: 404 for a user Clerk does not have,
// 500 when the secret key could not be read, 502 for anything else Clerk did
// (errors after retries, no answer in time). The details go to the log,
// never to the client.
func failure(err error) events.APIGatewayV2HTTPResponse {
	switch {
	case isSecretError(err):
		return respond.Error(http.StatusInternalServerError, "secret_unavailable",
			"the server could not load its Clerk credentials")
	case errors.Is(err, clerkapi.ErrNotFound):
		return respond.Error(http.StatusNotFound, "user_not_found", "no such user")
	}
	return respond.Error(http.StatusBadGateway, "clerk_unavailable", "Clerk failed to answer; try again shortly")
}

// finish writes the request's one log line: the route, status, caller,
// the user asked for, and why the request failed when it did; a secret
// failure also names where the key comes from.
func (h *handler) finish(ctx context.Context, res events.APIGatewayV2HTTPResponse, caller *identity.Identity, one bool, target string, err error) {
	route := routeList
	if one {
		route = routeOne
	}
	attrs := []any{"status", res.StatusCode}
	if caller != nil {
		attrs = append(attrs, "userId", caller.UserID)
	}
	if one && userID.MatchString(target) {
		attrs = append(attrs, "targetUserId", target)
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
	logging.ForRequest(ctx, h.log).Log(ctx, level, route, attrs...)
}
