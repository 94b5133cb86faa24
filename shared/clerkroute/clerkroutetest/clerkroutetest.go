// Package clerkroutetest sets up and checks the tests of route functions
// built on clerkroute: the environment and a Route pointed at a Clerk
// stand-in (started with clerkfaketest.Start), events as API Gateway
// delivers them (a full one from testdata/), an invocation as Lambda makes
// it, and checks of the error body and of the request's one log line. It is
// imported by tests only, so the functions' binaries do not carry the
// testing package.
package clerkroutetest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/shared/clerkroute"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/respond"
	"clerk-lambda/shared/settings"
)

// Env is the environment of a function pointed at the stand-in s, with its
// secret key.
func Env(s *clerkfake.Server) map[string]string {
	return map[string]string{"CLERK_SECRET_KEY": s.SecretKey(), "CLERK_API_URL": s.URL()}
}

// Route builds a Route from vars as the function's main would, with
// millisecond retry backoffs and change (when not nil) applied to the
// settings, logging into the returned buffer.
func Route(t testing.TB, vars map[string]string, change func(*clerkroute.Settings)) (*clerkroute.Route, *bytes.Buffer) {
	t.Helper()
	s, err := clerkroute.LoadSettings(settings.Map(vars))
	if err != nil {
		t.Fatal(err)
	}
	s.Backend.Client.BackoffBase, s.Backend.Client.BackoffMax = time.Millisecond, 4*time.Millisecond
	if change != nil {
		change(&s)
	}
	var logs bytes.Buffer
	r, err := clerkroute.New(s, logging.New(&logs, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	return r, &logs
}

// UnreachableSSM is an SSM client whose endpoint is a loopback port nobody
// listens on, as when the secret key's parameter cannot be read. Set it as
// Settings.Backend.Secrets.SSMClient.
func UnreachableSSM(t testing.TB) func(context.Context) (*ssm.Client, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return func(context.Context) (*ssm.Client, error) {
		return ssm.New(ssm.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String("http://" + addr),
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "test-secret-access-key", ""),
			Retryer:      aws.NopRetryer{},
		}), nil
	}
}

// Delivered is req with auth as its Lambda authorizer context (no
// authorizer at all when auth is nil), as API Gateway delivers it: the event
// has been through JSON, so numbers such as exp are float64.
func Delivered(t testing.TB, req events.APIGatewayV2HTTPRequest, auth map[string]any) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var authorizer *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
	if auth != nil {
		authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{}
		if req.RequestContext.Authorizer != nil {
			*authorizer = *req.RequestContext.Authorizer
		}
		authorizer.Lambda = auth
	}
	req.RequestContext.Authorizer = authorizer
	raw, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var out events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// UserBody is a user as /me and /admin/users answer it, decoded with the
// tests' own field names so that a renamed JSON field fails them.
type UserBody struct {
	ID             string          `json:"id"`
	EmailAddress   *string         `json:"email_address"`
	FirstName      *string         `json:"first_name"`
	LastName       *string         `json:"last_name"`
	Username       *string         `json:"username"`
	ImageURL       *string         `json:"image_url"`
	CreatedAt      string          `json:"created_at"`
	LastSignInAt   *string         `json:"last_sign_in_at"`
	PublicMetadata json.RawMessage `json:"public_metadata"`
}

// Handler is a route function's Lambda handler.
type Handler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Invoke calls handle as Lambda would: with the request id "req-" and the
// test's name, and 10 seconds left before the deadline. A handler error
// fails the test: route functions answer every request themselves.
func Invoke(t testing.TB, handle Handler, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-" + t.Name()})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := handle(ctx, req)
	if err != nil {
		t.Fatalf("handle returned an error: %v", err)
	}
	return res
}

// WantError checks res is an error response with status and code and a
// message, and returns the message.
func WantError(t testing.TB, res events.APIGatewayV2HTTPResponse, status int, code string) string {
	t.Helper()
	var body respond.ErrorBody
	if res.StatusCode != status || json.Unmarshal([]byte(res.Body), &body) != nil || body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("got %d %s, want %d with code %q", res.StatusCode, res.Body, status, code)
	}
	return body.Error.Message
}

// LogLine returns the one line logged for a request made by Invoke, and
// checks it carries the request id and status, and not secret (when not
// empty).
func LogLine(t testing.TB, logs *bytes.Buffer, status int, secret string) map[string]any {
	t.Helper()
	text := logs.String()
	if secret != "" && strings.Contains(text, secret) {
		t.Fatalf("the secret key is in the log: %s", text)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one log line per request, got %d:\n%s", len(lines), text)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	if line["requestId"] != "req-"+t.Name() || line["status"] != float64(status) {
		t.Fatalf("log line lacks the request id or status %d: %s", status, lines[0])
	}
	return line
}

// httpAPIEvent is an HTTP API (payload 2.0) event with a Lambda
// authorizer context and every field AWS documents filled; the package's
// tests check it fills the same fields as aws-lambda-go's own sample.
//
//go:embed testdata/http-api-event.json
var httpAPIEvent []byte

// Event is the full HTTP API event in testdata/http-api-event.json, a GET
// with headers, cookies, a query string, stage variables, a client
// certificate and a body, made a request for routeKey at path with params
// as its path parameters, and auth as its authorizer context, delivered as
// by Delivered.
func Event(t testing.TB, routeKey, path string, params map[string]string, auth map[string]any) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(httpAPIEvent, &req); err != nil {
		t.Fatalf("testdata/http-api-event.json: %v", err)
	}
	req.RouteKey, req.RequestContext.RouteKey = routeKey, routeKey
	req.RawPath, req.RequestContext.HTTP.Path = path, path
	req.PathParameters = params
	return Delivered(t, req, auth)
}
