package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/shared/identity"
)

// secretParameter is the SSM parameter the functions read the Clerk secret
// key from, as the template configures them.
const secretParameter = "/clerk/secret-key"

// The stand-in users the functions are invoked for.
const (
	benchUser  = "user_bench"
	benchOrg   = "org_bench"
	adminRole  = "org:admin"
	benchAdmin = "user_bench_admin"
)

// backend is what the functions talk to, all on loopback: the Clerk
// stand-in and an SSM endpoint holding its secret key.
type backend struct {
	fake *clerkfake.Server
	ssm  *ssmEndpoint
}

func startBackend() (*backend, error) {
	fake, err := clerkfake.New(clerkfake.Config{})
	if err != nil {
		return nil, err
	}
	if err := fake.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	fake.AddUser(clerkfake.User{ID: benchUser, FirstName: "Bench", EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: "bench@example.com"}}})
	fake.AddUser(clerkfake.User{ID: benchAdmin, FirstName: "Admin", EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: "admin@example.com"}}})
	fake.SeedUsers(20)
	ssm, err := startSSM(secretParameter, fake.SecretKey())
	if err != nil {
		fake.Close()
		return nil, err
	}
	return &backend{fake: fake, ssm: ssm}, nil
}

func (k *backend) close() {
	k.ssm.close()
	_ = k.fake.Close()
}

// env is every function's environment as in AWS: the template's settings
// pointed at the stand-in, the secret key read from SSM (not set in the
// environment), and dummy credentials, so the AWS SDK signs its requests
// and never looks for real ones.
func (k *backend) env() map[string]string {
	return map[string]string{
		"CLERK_API_URL":              k.fake.URL(),
		"CLERK_PUBLISHABLE_KEY":      k.fake.PublishableKey(),
		"CLERK_AUTHORIZED_PARTIES":   origin,
		"CLERK_SECRET_KEY_PARAMETER": secretParameter,
		"CLERK_SECRET_KEY_TTL":       "5m",
		"CLERK_CLOCK_SKEW":           "5s",
		"ADMIN_ORG_ROLE":             adminRole,
		"AWS_ENDPOINT_URL_SSM":       k.ssm.url,
		"AWS_REGION":                 "us-east-1",
		"AWS_DEFAULT_REGION":         "us-east-1",
		"AWS_ACCESS_KEY_ID":          "AKIABENCHMARKEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":      "benchmark-secret-not-a-real-key",
		"AWS_EC2_METADATA_DISABLED":  "true",
	}
}

// token mints a session token for the bench user.
func (k *backend) token() (string, error) {
	return k.fake.MintToken(clerkfake.TokenParams{UserID: benchUser, AuthorizedParty: origin, TTL: 10 * time.Minute})
}

// authorizerEvent is API Gateway's HTTP API 2.0 authorizer event for
// GET /private with the token.
func authorizerEvent(token string) []byte {
	e, _ := json.Marshal(events.APIGatewayV2CustomAuthorizerV2Request{
		Version:        "2.0",
		Type:           "REQUEST",
		RouteArn:       "arn:aws:execute-api:us-east-1:123456789012:bench/$default/GET/private",
		IdentitySource: []string{"Bearer " + token},
		RouteKey:       "GET /private",
		RawPath:        "/private",
		Headers:        map[string]string{"authorization": "Bearer " + token, "user-agent": "benchreport"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: "123456789012", APIID: "bench", Stage: "$default", RequestID: "bench",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/private", Protocol: "HTTP/1.1", SourceIP: "127.0.0.1"},
		},
	})
	return e
}

// checkAuthorized accepts the authorizer's simple response that allows.
func checkAuthorized(out []byte) error {
	var r events.APIGatewayV2CustomAuthorizerSimpleResponse
	if err := json.Unmarshal(out, &r); err != nil || !r.IsAuthorized {
		return fmt.Errorf("the authorizer did not allow the token: %.200s", out)
	}
	return nil
}

// routeEvent is the HTTP API 2.0 event API Gateway sends a route function
// once the authorizer allowed an administrator: the identity is in the
// authorizer's context, as the authorizer put it there. The caller is an
// administrator both ways Clerk can say so: the admin role in an
// organization, and the public metadata role "admin" in the claims.
func routeEvent(method, path string) []byte {
	id := identity.Identity{
		UserID: benchAdmin, SessionID: "sess_bench", AuthorizedParty: origin, Expires: time.Now().Add(10 * time.Minute),
		Org:    &identity.Organization{ID: benchOrg, Slug: "bench", Role: adminRole},
		Claims: json.RawMessage(`{"sub":"` + benchAdmin + `","metadata":{"role":"admin"}}`),
	}
	e, _ := json.Marshal(events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + path, RawPath: path,
		Headers: map[string]string{"user-agent": "benchreport"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: "123456789012", APIID: "bench", Stage: "$default", RequestID: "bench",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "127.0.0.1"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: id.Context()},
		},
	})
	return e
}

// checkOK accepts an HTTP API response with status 200.
func checkOK(out []byte) error {
	var r events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("not an HTTP API response: %.200s", out)
	}
	if r.StatusCode != 200 {
		return fmt.Errorf("answered %d: %.200s", r.StatusCode, r.Body)
	}
	return nil
}

// checkAny accepts any answer: the minimal function's is empty.
func checkAny([]byte) error { return nil }

var errNoRIE = errors.New("the Lambda Runtime Interface Emulator is not built: run make tools")
