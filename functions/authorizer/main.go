// Command authorizer is the API's Lambda authorizer: it verifies the caller's
// Clerk session token and hands the claims to the route functions.
//
// One binary answers every event shape API Gateway sends an authorizer, told
// apart by the event itself:
//   - HTTP API, payload 2.0 with simple responses (the template's setting):
//     {"isAuthorized": bool, "context": {...}};
//   - HTTP API payload 1.0 and REST API TOKEN and REQUEST events: an IAM policy
//     for the whole API and stage, so a cached result is valid on every route;
//     a missing or invalid token answers the error "Unauthorized" (a 401).
//
// It fails closed: a token that cannot be verified for any reason, Clerk's
// keys being unreachable included, is denied, and the reason is logged.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"clerk-lambda/shared/clerkauth"
	"clerk-lambda/shared/secrets"
	"clerk-lambda/shared/settings"
	"clerk-lambda/shared/startup"
)

func main() {
	a := startup.Init("authorizer", newAuthorizer)
	lambda.Start(a.handle)
}

// authorizer holds what lives for the whole execution environment: the
// verifier, with its key cache and memo.
type authorizer struct {
	verifier *clerkauth.Verifier
	log      *slog.Logger
}

func newAuthorizer(get settings.Lookup, logger *slog.Logger) (*authorizer, error) {
	cfg, err := settings.ReadVerifier(get)
	if err != nil {
		return nil, err
	}
	var opts clerkauth.Options
	if cfg.JWTKey == "" {
		key, err := settings.ReadSecretKey(get)
		if err != nil {
			return nil, fmt.Errorf("%w (the JWKS is fetched with the secret key unless %s is set)", err, settings.JWTKeyName)
		}
		provider, err := secrets.New(secrets.Config{SecretKey: key})
		if err != nil {
			return nil, err
		}
		opts.SecretKey = provider.SecretKey
	}
	v, err := clerkauth.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	keys := "CLERK_JWT_KEY, no network"
	if cfg.JWTKey == "" {
		keys = "the JWKS from " + cfg.APIURL
	}
	logger.Debug("authorizer settings", "issuer", cfg.Issuer, "keys", keys,
		"authorizedParties", cfg.AuthorizedParties, "clockSkew", cfg.ClockSkew.String())
	return &authorizer{verifier: v, log: logger}, nil
}

// errUnauthorized is the error API Gateway turns into a 401 for REST APIs and
// HTTP API payload 1.0 authorizers; its text must be exactly "Unauthorized".
var errUnauthorized = errors.New("Unauthorized")

// event is every authorizer event API Gateway sends, decoded in one pass:
// the fields that tell the kinds apart and the ones that carry the token.
type event struct {
	Version            string            `json:"version"`
	Type               string            `json:"type"`
	RouteKey           string            `json:"routeKey"`
	MethodArn          string            `json:"methodArn"`
	AuthorizationToken string            `json:"authorizationToken"`
	Headers            map[string]string `json:"headers"`
	Cookies            []string          `json:"cookies"`
}

// handle answers one authorization request, whatever its shape.
func (a *authorizer) handle(ctx context.Context, e event) (any, error) {
	switch {
	case e.Version == "2.0" && e.Type == "REQUEST":
		return a.simple(ctx, e), nil
	case e.Type == "TOKEN":
		return a.policy(ctx, e.MethodArn, map[string]string{"authorization": e.AuthorizationToken})
	case e.Type == "REQUEST" && e.MethodArn != "":
		return a.policy(ctx, e.MethodArn, e.Headers)
	}
	a.log.ErrorContext(ctx, "unrecognised authorizer event", "version", e.Version, "type", e.Type)
	return nil, errors.New("unrecognised authorizer event: expected an HTTP API 2.0 REQUEST or a REST TOKEN/REQUEST event")
}

// simple answers an HTTP API payload 2.0 event with a simple response.
func (a *authorizer) simple(ctx context.Context, e event) events.APIGatewayV2CustomAuthorizerSimpleResponse {
	id, err := a.decide(ctx, e.Headers, e.Cookies, e.RouteKey)
	if err != nil {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: id.Context()}
}

// policy answers a REST (or HTTP API 1.0) event with an IAM policy that
// allows every method of the API's stage.
func (a *authorizer) policy(ctx context.Context, methodArn string, headers map[string]string) (events.APIGatewayCustomAuthorizerResponse, error) {
	resource, err := stageWildcard(methodArn)
	if err != nil {
		a.log.ErrorContext(ctx, "authorizer event has a bad methodArn", "error", err)
		return events.APIGatewayCustomAuthorizerResponse{}, errUnauthorized
	}
	id, err := a.decide(ctx, headers, nil, methodArn)
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, errUnauthorized
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: id.UserID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   "Allow",
				Resource: []string{resource},
			}},
		},
		Context: id.Context(),
	}, nil
}
