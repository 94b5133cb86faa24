package clerkfake_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/internal/projectroot"
)

// specFile is the Backend API specification the stand-in follows, kept in
// the folder beside the repository (absent from a plain clone).
const specFile = "clerk-backend-api-2025-04-10.yml"

// loadSpec finds ../shared/reference/<specFile> relative to the folder holding
// go.mod and parses it, or skips the test when it is not there.
func loadSpec(t *testing.T) map[string]any {
	t.Helper()
	dir, err := projectroot.Dir()
	if errors.Is(err, projectroot.ErrNotFound) {
		t.Skip("spec conformance not checked: no go.mod above the test's folder")
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "..", "shared", "reference", specFile)
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("spec conformance not checked: %s is absent (it sits in ../shared/reference beside the repository)", specFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatalf("parse %s: %v", specFile, err)
	}
	return spec
}

// schemaChecker checks JSON values against the specification's schemas:
// required properties present, no properties the schema does not allow,
// JSON types, enums and string patterns as declared, $ref, allOf, oneOf and
// anyOf resolved, null only where nullable.
type schemaChecker struct {
	spec map[string]any
}

// at follows a JSON pointer such as "#/components/schemas/User".
func (c schemaChecker) at(ref string) map[string]any {
	var node any = c.spec
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := node.(map[string]any)
		if !ok {
			return nil
		}
		node = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
	}
	m, _ := node.(map[string]any)
	return m
}

// responseSchema is the schema the specification gives for the response of
// operation (path, method) with status, following the response's $ref.
func (c schemaChecker) responseSchema(t *testing.T, path, method string, status int) map[string]any {
	t.Helper()
	op := c.at("#/paths/" + strings.ReplaceAll(path, "/", "~1") + "/" + method)
	responses, _ := op["responses"].(map[string]any)
	resp, _ := responses[fmt.Sprint(status)].(map[string]any)
	if ref, ok := resp["$ref"].(string); ok {
		resp = c.at(ref)
	}
	content, _ := resp["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	schema, _ := media["schema"].(map[string]any)
	if schema == nil {
		t.Fatalf("the specification has no JSON schema for %s %s %d", method, path, status)
	}
	return schema
}

// check returns what is wrong with value under schema; where names the value.
func (c schemaChecker) check(where string, schema map[string]any, value any) []string {
	if ref, ok := schema["$ref"].(string); ok {
		resolved := c.at(ref)
		if resolved == nil {
			return []string{where + ": unresolvable " + ref}
		}
		return c.check(where, resolved, value)
	}
	if value == nil {
		if schema["nullable"] == true {
			return nil
		}
		return []string{where + ": null, but not nullable"}
	}
	var problems []string
	for _, sub := range list(schema["allOf"]) {
		problems = append(problems, c.check(where, sub, value)...)
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		if alternatives := list(schema[key]); len(alternatives) > 0 && !slices.ContainsFunc(alternatives, func(alt map[string]any) bool {
			return len(c.check(where, alt, value)) == 0
		}) {
			problems = append(problems, fmt.Sprintf("%s: matches none of %s", where, key))
		}
	}
	if typ, ok := schema["type"].(string); ok && jsonType(value, typ) != typ {
		return append(problems, fmt.Sprintf("%s: is %s, want %s", where, jsonType(value, typ), typ))
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, value) {
		problems = append(problems, fmt.Sprintf("%s: %v is not one of %v", where, value, enum))
	}
	if pattern, ok := schema["pattern"].(string); ok {
		if str, isString := value.(string); isString && !regexp.MustCompile(pattern).MatchString(str) {
			problems = append(problems, fmt.Sprintf("%s: %q does not match %s", where, str, pattern))
		}
	}
	switch v := value.(type) {
	case map[string]any:
		problems = append(problems, c.checkObject(where, schema, v)...)
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, item := range v {
				problems = append(problems, c.check(fmt.Sprintf("%s[%d]", where, i), items, item)...)
			}
		}
	}
	return problems
}

func (c schemaChecker) checkObject(where string, schema, v map[string]any) []string {
	var problems []string
	props, _ := schema["properties"].(map[string]any)
	required, _ := schema["required"].([]any)
	for _, name := range required {
		if _, ok := v[fmt.Sprint(name)]; !ok {
			problems = append(problems, fmt.Sprintf("%s: required property %s is missing", where, name))
		}
	}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		prop, ok := props[name].(map[string]any)
		if !ok {
			if schema["additionalProperties"] == false {
				problems = append(problems, fmt.Sprintf("%s: property %s is not in the schema", where, name))
			}
			continue
		}
		problems = append(problems, c.check(where+"."+name, prop, v[name])...)
	}
	return problems
}

func list(v any) []map[string]any {
	var out []map[string]any
	items, _ := v.([]any)
	for _, item := range items {
		if m, ok := item.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// jsonType names the JSON type of a value decoded with UseNumber: a number
// without a fraction is an integer, which also passes for a number.
func jsonType(v any, want string) string {
	switch v := v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if _, err := v.Int64(); err != nil {
			return "number"
		}
		if want == "number" { // an integer is a number too
			return "number"
		}
		return "integer"
	}
	return fmt.Sprintf("%T", v)
}

// decodeJSON decodes body keeping numbers exact.
func decodeJSON(t *testing.T, body []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, body)
	}
	return v
}

// TestResponsesConformToSpec checks the stand-in's responses against the
// schemas the specification declares for them.
func TestResponsesConformToSpec(t *testing.T) {
	t.Parallel()
	spec := loadSpec(t)
	c := schemaChecker{spec: spec}
	s := clerkfaketest.Start(t, clerkfake.Config{Now: func() time.Time { return fixedNow }})
	s.SeedUsers(20)
	full := s.AddUser(clerkfake.User{
		ExternalID: "ext-1", Username: "ada", FirstName: "Ada", LastName: "Lovelace", HasImage: true, ImageURL: "https://img.example/ada.png",
		EmailAddresses:  []clerkfake.EmailAddress{{EmailAddress: "ada@example.com"}, {EmailAddress: "ada@work.example", Verification: "unverified"}},
		PublicMetadata:  map[string]any{"role": "admin", "teams": []any{"a", "b"}},
		PrivateMetadata: map[string]any{"plan": "pro"}, UnsafeMetadata: map[string]any{"theme": "dark"},
		PasswordEnabled: true, TwoFactorEnabled: true, Banned: true, Locked: true,
		LastSignInAt: fixedNow, LastActiveAt: fixedNow,
	})
	bare := s.AddUser(clerkfake.User{})

	tests := []struct {
		name         string
		request      string // path relative to the base URL
		key          string
		specPath     string
		status       int
		schemaOfSpec string // a schema to use instead of the operation's, for statuses the spec does not list
	}{
		{"jwks", "/jwks", s.SecretKey(), "/jwks", 200, ""},
		{"user with every field", "/users/" + full.ID, s.SecretKey(), "/users/{user_id}", 200, ""},
		{"user with nulls", "/users/" + bare.ID, s.SecretKey(), "/users/{user_id}", 200, ""},
		{"user list", "/users?limit=500", s.SecretKey(), "/users", 200, ""},
		{"empty user list", "/users?query=nobody", s.SecretKey(), "/users", 200, ""},
		{"count", "/users/count", s.SecretKey(), "/users/count", 200, ""},
		{"user not found", "/users/user_none", s.SecretKey(), "/users/{user_id}", 404, ""},
		{"no key", "/users", "", "/users", 401, ""},
		{"wrong key", "/users/" + full.ID, "sk_test_wrong", "/users/{user_id}", 401, ""},
		{"bad limit", "/users?limit=0", s.SecretKey(), "/users", 422, ""},
		{"bad count filter", "/users/count?banned=maybe", s.SecretKey(), "/users/count", 422, ""},
		{"unknown path", "/nowhere", s.SecretKey(), "", 404, "#/components/schemas/ClerkErrors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, s, tt.request, tt.key)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			schema := c.at(tt.schemaOfSpec)
			if tt.schemaOfSpec == "" {
				schema = c.responseSchema(t, tt.specPath, "get", tt.status)
			}
			for _, p := range c.check("response", schema, decodeJSON(t, r.body)) {
				t.Error(p)
			}
		})
	}

	// Faults answer with ClerkErrors too, though the specification lists no
	// 429 or 500 for these operations.
	s.Fail(clerkfake.Failure{RateLimited: 1, ServerErrors: 1})
	for _, status := range []int{http.StatusTooManyRequests, http.StatusInternalServerError} {
		r := get(t, s, "/users", s.SecretKey())
		if r.status != status {
			t.Fatalf("status %d, want %d", r.status, status)
		}
		for _, p := range c.check("response", c.at("#/components/schemas/ClerkErrors"), decodeJSON(t, r.body)) {
			t.Errorf("%d: %s", status, p)
		}
	}
}

// TestMachineAuthResponsesConformToSpec checks the answers of the machine
// authentication endpoints (machines, M2M tokens, API keys, OAuth access
// tokens) against the schemas the specification declares for them, in the
// order a client meets them: created, verified, revoked, verified again.
func TestMachineAuthResponsesConformToSpec(t *testing.T) {
	t.Parallel()
	c := schemaChecker{spec: loadSpec(t)}
	s := clerkfaketest.Start(t, clerkfake.Config{Now: func() time.Time { return fixedNow }})
	user := s.AddUser(clerkfake.User{}).ID
	api, err := s.AddMachine("api")
	if err != nil {
		t.Fatal(err)
	}
	worker, err := s.AddMachine("worker", api.ID)
	if err != nil {
		t.Fatal(err)
	}
	oauth, err := s.IssueOAuthToken(user, "client_dev", []string{"profile"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	noID := strings.Repeat("0", 32)
	var m2m, key struct{ ID, Token, Secret string }

	tests := []struct {
		name     string
		method   string
		request  string // path relative to the base URL
		key      string
		body     any
		specPath string
		status   int
		into     any // where the answer is also decoded, for later requests
	}{
		{"create machine", "post", "/machines", s.SecretKey(), map[string]any{"name": "batch", "scoped_machines": []string{api.ID}}, "/machines", 200, nil},
		{"machine", "get", "/machines/" + worker.ID, s.SecretKey(), nil, "/machines/{machine_id}", 200, nil},
		{"machine not found", "get", "/machines/mch_nobody", s.SecretKey(), nil, "/machines/{machine_id}", 404, nil},
		{"machine secret key", "get", "/machines/" + worker.ID + "/secret_key", s.SecretKey(), nil, "/machines/{machine_id}/secret_key", 200, nil},
		{"secret key not found", "get", "/machines/mch_nobody/secret_key", s.SecretKey(), nil, "/machines/{machine_id}/secret_key", 404, nil},
		{"create M2M token", "post", "/m2m_tokens", worker.SecretKey, map[string]any{"claims": map[string]any{"job": "export"}}, "/m2m_tokens", 201, &m2m},
		{"create bare M2M token", "post", "/m2m_tokens", api.SecretKey, map[string]any{"seconds_until_expiration": 30}, "/m2m_tokens", 201, nil},
		{"create JWT M2M token", "post", "/m2m_tokens", worker.SecretKey, map[string]any{"token_format": "jwt"}, "/m2m_tokens", 201, nil},
		{"verify M2M token", "post", "/m2m_tokens/verify", s.SecretKey(), func() any { return map[string]string{"token": m2m.Token} }, "/m2m_tokens/verify", 200, nil},
		{"M2M token not found", "post", "/m2m_tokens/verify", s.SecretKey(), map[string]string{"token": "mt_unknown"}, "/m2m_tokens/verify", 404, nil},
		{"revoke M2M token", "post", "", s.SecretKey(), map[string]string{"revocation_reason": "done"}, "/m2m_tokens/{m2m_token_id}/revoke", 200, nil},
		{"verify revoked M2M token", "post", "/m2m_tokens/verify", api.SecretKey, func() any { return map[string]string{"token": m2m.Token} }, "/m2m_tokens/verify", 200, nil},
		{"revoke unknown M2M token", "post", "/m2m_tokens/mt_" + noID + "/revoke", s.SecretKey(), map[string]any{}, "/m2m_tokens/{m2m_token_id}/revoke", 404, nil},
		{"create API key", "post", "/api_keys", s.SecretKey(), map[string]any{
			"name": "ci key", "subject": user, "description": "for CI", "claims": map[string]any{"team": "ops"}, "scopes": []string{"read"},
			"created_by": user, "seconds_until_expiration": 3600,
		}, "/api_keys", 200, &key},
		{"create bare API key", "post", "/api_keys", s.SecretKey(), map[string]any{"name": "machine key", "subject": api.ID}, "/api_keys", 200, nil},
		{"verify API key", "post", "/api_keys/verify", s.SecretKey(), func() any { return map[string]string{"secret": key.Secret} }, "/api_keys/verify", 200, nil},
		{"API key not found", "post", "/api_keys/verify", s.SecretKey(), map[string]string{"secret": "ak_unknown"}, "/api_keys/verify", 404, nil},
		{"revoke API key", "post", "", s.SecretKey(), map[string]any{}, "/api_keys/{apiKeyID}/revoke", 200, nil},
		{"verify revoked API key", "post", "/api_keys/verify", s.SecretKey(), func() any { return map[string]string{"secret": key.Secret} }, "/api_keys/verify", 200, nil},
		{"revoke unknown API key", "post", "/api_keys/ak_" + noID + "/revoke", s.SecretKey(), map[string]any{}, "/api_keys/{apiKeyID}/revoke", 404, nil},
		{"verify OAuth access token", "post", "/oauth_applications/access_tokens/verify", s.SecretKey(), map[string]string{"access_token": oauth}, "/oauth_applications/access_tokens/verify", 200, nil},
		{"OAuth access token not found", "post", "/oauth_applications/access_tokens/verify", s.SecretKey(), map[string]string{"access_token": "oat_unknown"}, "/oauth_applications/access_tokens/verify", 404, nil},
	}
	for _, tt := range tests {
		// Later requests use what earlier ones answered.
		body := tt.body
		if f, ok := body.(func() any); ok {
			body = f()
		}
		request := tt.request
		switch {
		case request == "" && strings.HasPrefix(tt.specPath, "/m2m_tokens"):
			request = "/m2m_tokens/" + m2m.ID + "/revoke"
		case request == "":
			request = "/api_keys/" + key.ID + "/revoke"
		}
		var r response
		if tt.method == "get" {
			r = get(t, s, request, tt.key)
		} else {
			r = post(t, s, request, tt.key, body)
		}
		if r.status != tt.status {
			t.Fatalf("%s: status %d, want %d: %s", tt.name, r.status, tt.status, r.body)
		}
		for _, p := range c.check("response", c.responseSchema(t, tt.specPath, tt.method, tt.status), decodeJSON(t, r.body)) {
			t.Errorf("%s: %s", tt.name, p)
		}
		if tt.into != nil {
			if err := json.Unmarshal(r.body, tt.into); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSchemaCheckerCatchesMistakes makes sure the conformance test can fail.
func TestSchemaCheckerCatchesMistakes(t *testing.T) {
	t.Parallel()
	c := schemaChecker{spec: loadSpec(t)}
	user := c.at("#/components/schemas/User")
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"missing required", `{"id":"user_1"}`, "required property object is missing"},
		{"wrong type", `{"id":1}`, "response.id: is integer, want string"},
		{"null not nullable", `{"id":null}`, "response.id: null, but not nullable"},
		{"unknown property", `{"nickname":"x"}`, "property nickname is not in the schema"},
		{"wrong enum", `{"object":"person"}`, "person is not one of"},
		{"fraction for an integer", `{"created_at":1.5}`, "response.created_at: is number, want integer"},
		{"bad nested item", `{"email_addresses":[{"email_address":7}]}`, "response.email_addresses[0].email_address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := strings.Join(c.check("response", user, decodeJSON(t, []byte(tt.value))), "\n")
			if !strings.Contains(problems, tt.want) {
				t.Errorf("problems:\n%s\nwant one containing %q", problems, tt.want)
			}
		})
	}
	m2m := c.responseSchema(t, "/m2m_tokens/verify", "post", 200)
	problems := strings.Join(c.check("response", m2m, decodeJSON(t, []byte(`{"id":"mt_1","subject":"mch_1","token":"x"}`))), "\n")
	for _, want := range []string{`response.id: "mt_1" does not match`, `response.subject: "mch_1" does not match`, "property token is not in the schema"} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems:\n%s\nwant one containing %q", problems, want)
		}
	}
}
