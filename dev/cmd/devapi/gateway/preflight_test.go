package gateway

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"clerk-lambda/dev/apispec"
	"clerk-lambda/dev/cmd/devapi/gateway/gatewaytest"
)

// routedPreflightTemplate has a $default route behind a Lambda authorizer,
// an explicit OPTIONS route without one, and an ANY route with one.
const routedPreflightTemplate = `
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Clerk
        Authorizers:
          Clerk:
            FunctionArn: !GetAtt AuthFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [Authorization], ReauthorizeEvery: 0}
      CorsConfiguration:
        AllowOrigins: [http://localhost:5173]
        AllowMethods: [GET, OPTIONS]
        AllowHeaders: [Authorization]
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: ./fn}
  CatchAllFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./fn
      Events:
        Default: {Type: HttpApi, Properties: {ApiId: !Ref Api}}
  OptionsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./fn
      Events:
        Options: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /items, Method: OPTIONS, Auth: {Authorizer: NONE}}}
  AnyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./fn
      Events:
        Any: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: "/things/{proxy+}", Method: ANY}}
`

// serveSpec serves api through a gateway whose functions answer 200 with
// their own name, and whose authorizer allows "Bearer good".
func serveSpec(t *testing.T, api *apispec.API) (*httptest.Server, *fakeInvoker) {
	t.Helper()
	inv := &fakeInvoker{calls: map[string]int{}, fns: map[string]func(context.Context, []byte) ([]byte, error){}}
	for name := range api.Functions {
		inv.fns[name] = func(context.Context, []byte) ([]byte, error) {
			return []byte(`{"statusCode":200,"body":"` + name + `"}`), nil
		}
	}
	inv.fns["AuthFunction"] = func(_ context.Context, p []byte) ([]byte, error) {
		if strings.Contains(string(p), `"Bearer good"`) {
			return []byte(`{"isAuthorized":true}`), nil
		}
		return []byte(`{"isAuthorized":false}`), nil
	}
	srv := httptest.NewServer(New(Config{API: api, Invoker: inv}))
	t.Cleanup(srv.Close)
	return srv, inv
}

// TestPreflightGoesToAMatchingRoute checks that a preflight request whose
// path has a route for OPTIONS (explicit, ANY or $default) goes to that
// route and its authorizer, as in AWS, instead of being answered from the
// CORS configuration.
func TestPreflightGoesToAMatchingRoute(t *testing.T) {
	t.Parallel()
	api, err := apispec.Parse([]byte(routedPreflightTemplate))
	if err != nil {
		t.Fatal(err)
	}
	srv, inv := serveSpec(t, api)
	const origin = "http://localhost:5173"
	tests := []struct {
		name, path, auth string
		status           int
		body             string
		authCalls        int
		function         string
	}{
		{"$default behind the authorizer, no token", "/anything", "", 401, `{"message":"Unauthorized"}`, 0, ""},
		{"$default behind the authorizer, with a token", "/anything", "Bearer good", 200, "CatchAllFunction", 1, "CatchAllFunction"},
		{"explicit OPTIONS route", "/items", "", 200, "OptionsFunction", 0, "OptionsFunction"},
		{"ANY route behind the authorizer", "/things/a/b", "", 401, `{"message":"Unauthorized"}`, 0, ""},
	}
	for _, tc := range tests {
		authBefore, fnBefore := inv.count("AuthFunction"), inv.count(tc.function)
		header := map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
		if tc.auth != "" {
			header["Authorization"] = tc.auth
		}
		resp, body := gatewaytest.Call(t, "OPTIONS", srv.URL+tc.path, header)
		if resp.StatusCode != tc.status || body != tc.body {
			t.Errorf("%s: preflight answered %d %q, want %d %q", tc.name, resp.StatusCode, body, tc.status, tc.body)
		}
		if got := inv.count("AuthFunction") - authBefore; got != tc.authCalls {
			t.Errorf("%s: authorizer called %d times, want %d", tc.name, got, tc.authCalls)
		}
		if tc.function != "" && inv.count(tc.function)-fnBefore != 1 {
			t.Errorf("%s: %s not called once", tc.name, tc.function)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want %q: a routed answer carries the API's CORS headers", tc.name, got, origin)
		}
		if got := resp.Header.Get("Access-Control-Allow-Methods"); got != "" {
			t.Errorf("%s: Access-Control-Allow-Methods %q on a routed answer, want none", tc.name, got)
		}
	}
}

// TestProjectTemplateAnswersPreflights checks that the project's own
// template, whose routes are GET only, has every preflight answered by the
// gateway: 204, no authorizer and no function called.
func TestProjectTemplateAnswersPreflights(t *testing.T) {
	t.Parallel()
	api, err := apispec.Load("../../../../template.yaml")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no template.yaml at the repository root")
	}
	if err != nil {
		t.Fatal(err)
	}
	srv, inv := serveSpec(t, api)
	origin := api.CORS.AllowOrigins[0]
	for _, path := range []string{"/public", "/private", "/me", "/admin/users", "/admin/users/user_1", "/nowhere"} {
		resp, _ := gatewaytest.Call(t, "OPTIONS", srv.URL+path, map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET"})
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != origin || resp.Header.Get("Access-Control-Allow-Methods") == "" {
			t.Errorf("preflight for %s: %d %v, want 204 with the CORS configuration's headers", path, resp.StatusCode, resp.Header)
		}
	}
	for name := range api.Functions {
		if n := inv.count(name); n != 0 {
			t.Errorf("%s called %d times by preflights, want none", name, n)
		}
	}
}
