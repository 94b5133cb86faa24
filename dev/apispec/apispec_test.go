package apispec

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoadFixture(t *testing.T) {
	t.Parallel()
	api, err := Load("../cmd/devapi/testdata/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]Route{}
	for _, r := range api.Routes {
		keys[r.Key()] = r
	}
	if len(keys) != 3 {
		t.Fatalf("routes = %v, want the three HttpApi events", keys)
	}
	if r := keys["GET /public"]; r.Function != "PublicFunction" || r.Authorizer != nil {
		t.Errorf("GET /public = %+v, want PublicFunction without authorizer", r)
	}
	one := keys["GET /admin/users/{id}"]
	if one.Function != "AdminUsersFunction" || one.Authorizer == nil {
		t.Fatalf("GET /admin/users/{id} = %+v, want AdminUsersFunction behind the default authorizer", one)
	}
	a := one.Authorizer
	if a.Function != "AuthorizerFunction" || !a.SimpleResponses || a.TTL != 60*time.Second ||
		strings.Join(a.IdentitySources, ",") != "$request.header.Authorization" {
		t.Errorf("authorizer = %+v", a)
	}
	if c := api.CORS; c == nil || strings.Join(c.AllowOrigins, ",") != "https://app.example.com,https://*.preview.example.com" || c.MaxAge != 600 {
		t.Errorf("CORS = %+v, want the AllowedOrigins default split into a list", c)
	}
	admin := api.Functions["AdminUsersFunction"]
	want := map[string]string{
		"LOG_LEVEL":                  "debug", // the function's own value wins over Globals
		"ADMIN_ORG_ROLE":             "org:admin",
		"CLERK_SECRET_KEY_PARAMETER": "/clerk/secret-key",
		"CLERK_AUTHORIZED_PARTIES":   "https://app.example.com,https://*.preview.example.com",
		"MAX_ITEMS":                  "100",
	}
	for k, v := range want {
		if admin.Env[k] != v {
			t.Errorf("AdminUsersFunction env %s = %q, want %q", k, admin.Env[k], v)
		}
	}
	if admin.Dir != "functions/admin-users" || admin.MemoryMB != 512 || admin.Timeout != 10*time.Second {
		t.Errorf("AdminUsersFunction = %+v", admin)
	}
	if auth := api.Functions["AuthorizerFunction"]; auth.Timeout != 5*time.Second || auth.MemoryMB != 256 {
		t.Errorf("AuthorizerFunction = %+v", auth)
	}
	if _, ok := api.Functions["ExportUsersFunction"]; !ok {
		t.Error("ExportUsersFunction missing: functions without routes are still built")
	}
}

// base is a template whose functions are all built from ./fn: Globals'
// CodeUri names the package of those that do not name their own.
const base = `
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {CodeUri: ./fn}
Resources:
  AuthorizerFunction:
    Type: AWS::Serverless::Function
    Properties: {Timeout: 3}
`

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, want string
	}{
		{"not yaml", "Resources: [", "not a valid template"},
		{"two apis", base + `
  A: {Type: AWS::Serverless::HttpApi}
  B: {Type: AWS::Serverless::HttpApi}
`, "2 AWS::Serverless::HttpApi"},
		{"payload 1.0", base + `
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          A: {FunctionArn: !GetAtt AuthorizerFunction.Arn, AuthorizerPayloadFormatVersion: "1.0"}
`, `AuthorizerPayloadFormatVersion "1.0"`},
		{"authorizer of another stack", base + `
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          A: {FunctionArn: arn:aws:lambda:us-east-1:1:function:x, AuthorizerPayloadFormatVersion: "2.0"}
`, "FunctionArn must be"},
		{"unknown default", base + `
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth: {DefaultAuthorizer: Nope}
`, "DefaultAuthorizer Nope"},
		{"bad path", base + `
  F:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        E: {Type: HttpApi, Properties: {Path: "/a/{proxy+}/b", Method: GET}}
`, "is not a route path"},
		{"duplicate", base + `
  F:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        E: {Type: HttpApi, Properties: {Path: /a, Method: GET}}
  G:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        E: {Type: HttpApi, Properties: {Path: /a, Method: get}}
`, "route GET /a is defined by both F and G"},
		{"credentials with any origin", base + `
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration: {AllowOrigins: ["*"], AllowCredentials: true}
`, "AllowCredentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDefaultRouteAndImplicitAPI(t *testing.T) {
	t.Parallel()
	api, err := Parse([]byte(`
Globals:
  HttpApi:
    CorsConfiguration: true
Resources:
  CatchAllFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./handlers/catch/
      Events:
        Any: {Type: HttpApi}
        Proxy: {Type: HttpApi, Properties: {Path: "/files/{proxy+}", Method: ANY}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(api.Routes) != 2 || api.Routes[0].Key() != "$default" || api.Routes[1].Key() != "ANY /files/{proxy+}" {
		t.Errorf("routes = %+v", api.Routes)
	}
	if api.CORS == nil || api.CORS.AllowOrigins[0] != "*" {
		t.Errorf("CORS = %+v, want every origin from CorsConfiguration: true", api.CORS)
	}
	fn := api.Functions["CatchAllFunction"]
	if fn.Dir != "handlers/catch" || fn.Timeout != 3*time.Second || fn.MemoryMB != 128 {
		t.Errorf("function = %+v, want the CodeUri folder and Lambda's defaults", fn)
	}
}

// An authorizer named by an ARN built from its fixed FunctionName is that
// function, and an environment value built from a deployed resource's
// attribute resolves to nothing locally.
func TestAuthorizerByFunctionName(t *testing.T) {
	t.Parallel()
	const tmpl = `
Transform: AWS::Serverless-2016-10-31
Resources:
  Site: {Type: AWS::CloudFront::Distribution}
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: A
        Authorizers:
          A:
            FunctionArn: !Sub arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-%s
            AuthorizerPayloadFormatVersion: "2.0"
  Gate:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./gate
      FunctionName: !Sub ${AWS::StackName}-gate
      Environment:
        Variables:
          ORIGINS: !Join [",", ["https://a.example", !Sub "https://${Site.DomainName}"]]
`
	api, err := Parse([]byte(strings.Replace(tmpl, "%s", "gate", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(api.Functions) != 1 {
		t.Fatalf("functions = %v", api.Functions)
	}
	gate := api.Functions["Gate"]
	if gate.Env["ORIGINS"] != "https://a.example" {
		t.Errorf("ORIGINS = %q, want the attribute's Fn::Sub dropped", gate.Env["ORIGINS"])
	}
	if _, err := Parse([]byte(strings.Replace(tmpl, "%s", "other", 1))); err == nil || !strings.Contains(err.Error(), "FunctionArn must be") {
		t.Errorf("an ARN naming no function of the template: error %v", err)
	}
}

// TestProjectTemplate reads the project's own template.yaml, the one `make
// dev` serves, and checks the routes and settings the design describes.
func TestProjectTemplate(t *testing.T) {
	t.Parallel()
	api, err := Load("../../template.yaml")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no template.yaml at the repository root")
	}
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"GET /public":           "PublicFunction",
		"GET /private":          "PrivateFunction",
		"GET /me":               "MeFunction",
		"GET /admin/users":      "AdminUsersFunction",
		"GET /admin/users/{id}": "AdminUsersFunction",
		"POST /admin/exports":   "AdminExportsFunction",
	}
	for _, r := range api.Routes {
		// A fork's own routes (make route) are not the design's: only the
		// design's are checked for their function.
		if fn, ok := want[r.Key()]; ok && fn != r.Function {
			t.Errorf("route %s served by %s, want %s", r.Key(), r.Function, fn)
		}
		if guarded := r.Key() != "GET /public"; guarded != (r.Authorizer != nil) {
			t.Errorf("route %s: authorizer %v", r.Key(), r.Authorizer)
		}
		delete(want, r.Key())
	}
	if len(want) > 0 {
		t.Errorf("routes missing from the template: %v", want)
	}
	if api.CORS == nil || len(api.CORS.AllowOrigins) == 0 {
		t.Error("no CORS configuration with the AllowedOrigins default")
	}
	for _, fn := range api.Functions {
		if !strings.HasPrefix(fn.Dir, "functions/") {
			t.Errorf("%s builds from %s, want a folder under functions/", fn.Name, fn.Dir)
		}
	}
}

// TestAuthorizerCacheTTL checks ReauthorizeEvery: seconds when set, 0 to
// turn caching off, and API Gateway's default of 300 when an identity source
// is set without it.
func TestAuthorizerCacheTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		identity string
		want     time.Duration
	}{
		{"{Headers: [Authorization], ReauthorizeEvery: 45}", 45 * time.Second},
		{"{Headers: [Authorization], ReauthorizeEvery: 0}", 0},
		{"{Headers: [Authorization]}", 300 * time.Second},
	}
	for _, tc := range tests {
		api, err := Parse([]byte(base + `
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: A
        Authorizers:
          A:
            FunctionArn: !GetAtt AuthorizerFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            Identity: ` + tc.identity + `
  F:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        E: {Type: HttpApi, Properties: {Path: /a, Method: GET}}
`))
		if err != nil {
			t.Fatal(err)
		}
		if got := api.Routes[0].Authorizer.TTL; got != tc.want {
			t.Errorf("Identity %s: TTL %s, want %s", tc.identity, got, tc.want)
		}
	}
}
