// Command me answers GET /me: the caller's Clerk user, read from the Backend
// API with the secret key, for the user id the authorizer verified (the
// signed-in user, or the user an OAuth application acts for).
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"

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

// route is the route key of GET /me, and the message of its log lines.
const route = "GET /me"

func main() {
	h := startup.Init("me", newHandler)
	lambda.Start(h.handle)
}

type handler struct {
	*clerkroute.Route
	// users keeps each caller's user for ME_CACHE_TTL, so a caller in a
	// loop costs one Backend API call per TTL per execution environment.
	users *clerkapi.UserCache
}

func newHandler(get settings.Lookup, logger *slog.Logger) (handler, error) {
	ttl, err := settings.MeCacheTTL(get)
	if err != nil {
		return handler{}, err
	}
	r, err := clerkroute.FromEnv(get, logger)
	if err != nil {
		return handler{}, err
	}
	r.IDs.Accepts = accepts
	return handler{Route: r, users: clerkapi.NewUserCache(r.Clerk, ttl, 0)}, nil
}

// accepts are the callers of GET /me: signed-in users, and OAuth
// applications acting for a user, who get that user. A machine has no user.
var accepts = []identity.TokenType{identity.SessionToken, identity.OAuthToken}

// handle answers with the caller's user, from the cache while it is fresh.
// A user Clerk does not have was deleted since the token was issued: 404.
func (h handler) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	id, err := h.IDs.HTTP(req)
	if err != nil {
		return h.Finish(ctx, route, respond.IdentityRefused(err), err), nil
	}
	if id.Type() == identity.OAuthToken && !slices.Contains(id.Scopes, scopeProfile) {
		res := respond.Error(http.StatusForbidden, "insufficient_scope", "the OAuth token was not granted the profile scope")
		return h.Finish(ctx, route, res, errNoProfileScope, "userId", id.UserID), nil
	}
	cctx, cancel := clerkroute.CallContext(ctx)
	defer cancel()
	u, err := h.users.User(cctx, id.UserID)
	if err != nil {
		res := clerkroute.Failure(err, "no such user: it may have been deleted")
		return h.Finish(ctx, route, res, err, "userId", id.UserID), nil
	}
	return h.Finish(ctx, route, respond.JSON(http.StatusOK, granted(id, userview.View(u))), nil, "userId", id.UserID), nil
}

// Clerk's OAuth scopes that GET /me reads.
const (
	scopeProfile        = "profile"
	scopeEmail          = "email"
	scopePublicMetadata = "public_metadata"
)

// errNoProfileScope is the log's reason for a 403 insufficient_scope.
var errNoProfileScope = errors.New("OAuth token without the profile scope")

// granted is the part of the user's view the caller may see: all of it for
// a session; for an OAuth application, the profile, with the e-mail address
// only under the email scope and the public metadata only under
// public_metadata, as the user consented.
func granted(id *identity.Identity, v userview.UserView) userview.UserView {
	if id.Type() != identity.OAuthToken {
		return v
	}
	if !slices.Contains(id.Scopes, scopeEmail) {
		v.EmailAddress = nil
	}
	if !slices.Contains(id.Scopes, scopePublicMetadata) {
		v.PublicMetadata = nil
	}
	return v
}
