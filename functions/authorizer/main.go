// Command authorizer is the API's Lambda authorizer: it verifies the caller's
// Clerk token (a session token; M2M tokens, API keys and OAuth access tokens
// too when CLERK_ACCEPTED_TOKENS names them) and hands the claims to the
// route functions.
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
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/clerkauth"
	"clerk-lambda/shared/identity"
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
	opts, err := machineOptions(get)
	if err != nil {
		return nil, err
	}
	keys := "CLERK_JWT_KEY, no network"
	if cfg.JWTKey == "" {
		keys = "the JWKS from " + cfg.APIURL
		if opts.SecretKey, err = secretKey(get, opts); err != nil {
			return nil, err
		}
	}
	v, err := clerkauth.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	logger.Debug("authorizer settings", "issuer", cfg.Issuer, "keys", keys, "accepts", opts.Accepts,
		"authorizedParties", cfg.AuthorizedParties, "clockSkew", cfg.ClockSkew.String())
	return &authorizer{verifier: v, log: logger}, nil
}

// machineOptions reads which token types are accepted and, when a machine
// type is among them, connects the Backend API client that verifies them.
// With session tokens alone (the default) nothing here touches Clerk.
func machineOptions(get settings.Lookup) (clerkauth.Options, error) {
	accepts, err := settings.AcceptedTokens(get)
	if err != nil {
		return clerkauth.Options{}, err
	}
	opts := clerkauth.Options{Accepts: accepts}
	if !slices.ContainsFunc(accepts, func(t identity.TokenType) bool { return t != identity.SessionToken }) {
		return opts, nil
	}
	if opts.MachineTokenTTL, err = settings.MachineTokenCacheTTL(get); err != nil {
		return clerkauth.Options{}, err
	}
	if opts.APIMachine, err = settings.APIMachine(get); err != nil {
		return clerkauth.Options{}, err
	}
	backend, err := clerkapi.LoadSettings(get, settings.DefaultAuthorizerRateLimit)
	if err != nil {
		return clerkauth.Options{}, fmt.Errorf("%w (machine tokens are verified with the secret key)", err)
	}
	// A verification waits out no long rate limit, and retries a failure
	// once: the caller is refused and retries, rather than the authorizer
	// holding every request and multiplying Clerk's load while it fails.
	backend.Client.MaxRetryAfter = maxRetryAfter
	backend.Client.MaxAttempts = verifyAttempts
	client, provider, err := clerkapi.Connect(backend)
	if err != nil {
		return clerkauth.Options{}, err
	}
	opts.Machines, opts.SecretKey = client, provider.SecretKey
	return opts, nil
}

// secretKey is the secret key's provider for the JWKS fetch: the machine
// client's when there is one, so both read the key once.
func secretKey(get settings.Lookup, opts clerkauth.Options) (func(context.Context) (string, error), error) {
	if opts.SecretKey != nil {
		return opts.SecretKey, nil
	}
	key, err := settings.ReadSecretKey(get)
	if err != nil {
		return nil, fmt.Errorf("%w (the JWKS is fetched with the secret key unless %s is set)", err, settings.JWTKeyName)
	}
	provider, err := secrets.New(secrets.Config{SecretKey: key})
	if err != nil {
		return nil, err
	}
	return provider.SecretKey, nil
}

// verifyAttempts bounds the tries of one machine-token verification.
const verifyAttempts = 2

// maxRetryAfter is the longest Retry-After a machine-token verification
// waits out, once, as a route's Clerk call does.
const maxRetryAfter = time.Second

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
		PrincipalID: principal(id),
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

// principal is the policy's principalId: the user, or for a machine token
// without one, its subject.
func principal(id *identity.Identity) string {
	if id.UserID != "" {
		return id.UserID
	}
	return id.Subject
}
