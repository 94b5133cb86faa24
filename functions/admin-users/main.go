// Command admin-users answers GET /admin/users, a page of Clerk users, and
// GET /admin/users/{id}, one user, to administrators only: callers whose
// active organization role is ADMIN_ORG_ROLE, or whose session token carries
// metadata.role "admin"; machines of ADMIN_MACHINES with their M2M tokens;
// and API keys of users whose public metadata role is "admin".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/clerkroute"
	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/respond"
	"clerk-lambda/shared/settings"
	"clerk-lambda/shared/startup"
	"clerk-lambda/shared/userview"
)

const (
	// The route keys of the HTTP API.
	routeList = "GET /admin/users"
	routeOne  = "GET /admin/users/{id}"

	// Bounds of the list's query parameters.
	defaultLimit = 20
	maxLimit     = 100
	maxOffset    = math.MaxInt32
	maxQuery     = 256 // characters

	// noSuchUser is the message of a 404.
	noSuchUser = "no such user"
)

func main() {
	h := startup.Init("admin-users", newHandler)
	lambda.Start(h.handle)
}

type handler struct {
	*clerkroute.Route
	admins   identity.AdminPolicy // ADMIN_ORG_ID, ADMIN_ORG_ROLE
	machines []string             // ADMIN_MACHINES
	// keyOwners are the users of API keys, kept keyOwnerTTL, so a script
	// calling with its key costs one Backend API call for the admin check
	// per TTL, not one per request.
	keyOwners *clerkapi.UserCache
}

// keyOwnerTTL is how long an API key's user is kept: a role taken away
// counts after at most this long, as a session's does within its token's
// minute.
const keyOwnerTTL = 30 * time.Second

// accepts are the callers this route takes: signed-in users, machines
// with their M2M tokens, and API keys (an admin user's, checked with Clerk).
var accepts = []identity.TokenType{identity.SessionToken, identity.M2MToken, identity.APIKey}

func newHandler(get settings.Lookup, logger *slog.Logger) (*handler, error) {
	admins, err := adminPolicy(get)
	if err != nil {
		return nil, err
	}
	machines, err := settings.AdminMachines(get)
	if err != nil {
		return nil, err
	}
	r, err := clerkroute.FromEnv(get, logger)
	if err != nil {
		return nil, err
	}
	r.IDs.Accepts = accepts
	return &handler{Route: r, admins: admins, machines: machines, keyOwners: clerkapi.NewUserCache(r.Clerk, keyOwnerTTL, 0)}, nil
}

// adminPolicy reads who is an administrator: ADMIN_ORG_ROLE in the
// organization ADMIN_ORG_ID. Without ADMIN_ORG_ID only the metadata.role
// session claim makes an admin.
func adminPolicy(get settings.Lookup) (identity.AdminPolicy, error) {
	a, err := settings.ReadAdmins(get)
	return identity.AdminPolicy{OrgID: a.OrgID, OrgRole: a.OrgRole}, err
}

// errNotAdmin is the log's reason for a 403.
var errNotAdmin = errors.New("caller is not an administrator")

func (h *handler) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	target, one := wantsOne(req)
	id, err := h.IDs.HTTP(req)
	var res events.APIGatewayV2HTTPResponse
	switch {
	case err != nil:
		res = respond.IdentityRefused(err)
	default:
		res, err = h.serve(ctx, id, one, target, req.QueryStringParameters)
	}
	h.finish(ctx, res, id, one, target, err)
	return res, nil
}

// serve answers an identified caller: administrators only.
func (h *handler) serve(ctx context.Context, id *identity.Identity, one bool, target string, query map[string]string) (events.APIGatewayV2HTTPResponse, error) {
	admin, err := h.isAdmin(ctx, id)
	switch {
	case err != nil:
		return clerkroute.Failure(err, ""), err
	case !admin:
		return respond.Error(http.StatusForbidden, "forbidden", "this route is for administrators only"), errNotAdmin
	case one:
		return h.one(ctx, target)
	}
	return h.list(ctx, query)
}

// isAdmin reports whether the caller is an administrator: a session under
// the admin policy, a machine of ADMIN_MACHINES with its M2M token, or an
// API key whose subject is a user with public metadata role "admin" (the
// fact the session claim metadata.role exposes, read here from Clerk,
// since an API key carries no session claims). An organization's or a
// machine's API key is no admin's.
func (h *handler) isAdmin(ctx context.Context, id *identity.Identity) (bool, error) {
	switch id.Type() {
	case identity.SessionToken:
		return id.IsAdmin(h.admins), nil
	case identity.M2MToken:
		return id.CallsAs(h.machines), nil
	case identity.APIKey:
		if id.UserID == "" {
			return false, nil
		}
		cctx, cancel := clerkroute.CallContext(ctx)
		defer cancel()
		u, err := h.keyOwners.User(cctx, id.UserID)
		if errors.Is(err, clerkapi.ErrNotFound) { // deleted since the key was made
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return publicRole(u.PublicMetadata) == "admin", nil
	}
	return false, nil
}

// publicRole is a user's public metadata "role", matched by its exact name.
func publicRole(metadata json.RawMessage) string {
	var m map[string]json.RawMessage
	var role string
	if json.Unmarshal(metadata, &m) != nil || json.Unmarshal(m["role"], &role) != nil {
		return ""
	}
	return role
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
	cctx, cancel := clerkroute.CallContext(ctx)
	defer cancel()
	u, err := h.Clerk.User(cctx, id)
	if err != nil {
		return clerkroute.Failure(err, noSuchUser), err
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
	cctx, cancel := clerkroute.CallContext(ctx)
	defer cancel()
	users, err := h.Clerk.ListUsers(cctx, p)
	if err != nil {
		return clerkroute.Failure(err, ""), err
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

// finish writes the request's one log line: the route, status, caller,
// the user asked for, and why the request failed when it did.
func (h *handler) finish(ctx context.Context, res events.APIGatewayV2HTTPResponse, caller *identity.Identity, one bool, target string, err error) {
	route := routeList
	if one {
		route = routeOne
	}
	var attrs []any
	if caller != nil {
		attrs = append(attrs, "userId", caller.UserID)
		if caller.TokenType != "" {
			attrs = append(attrs, "tokenType", caller.TokenType, "subject", caller.Subject)
		}
	}
	if one && userID.MatchString(target) {
		attrs = append(attrs, "targetUserId", target)
	}
	h.Finish(ctx, route, res, err, attrs...)
}
