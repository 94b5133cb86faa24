package identity

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

var exp = time.Date(2026, 5, 1, 12, 1, 0, 0, time.UTC)

func full() *Identity {
	return &Identity{
		UserID: "user_1", SessionID: "sess_1", AuthorizedParty: "https://app.example.com", Expires: exp,
		Org:    &Organization{ID: "org_1", Slug: "acme", Role: "org:admin", Permissions: []string{"org:a:read", "org:a:manage"}},
		Actor:  json.RawMessage(`{"sub":"user_admin"}`),
		Claims: json.RawMessage(`{"metadata":{"role":"admin"}}`),
	}
}

// TestContextRoundTrip sends the context through JSON, as API Gateway does.
func TestContextRoundTrip(t *testing.T) {
	t.Parallel()
	for name, id := range map[string]*Identity{"full": full(), "minimal": {UserID: "user_2", Expires: exp}} {
		b, err := json.Marshal(id.Context())
		if err != nil {
			t.Fatal(err)
		}
		var ctx map[string]any
		if err := json.Unmarshal(b, &ctx); err != nil {
			t.Fatal(err)
		}
		for k, v := range ctx {
			if _, nested := v.(map[string]any); nested {
				t.Errorf("%s: context[%s] is nested", name, k)
			}
		}
		got, err := Decode(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, id) {
			t.Errorf("%s: round trip = %+v, want %+v", name, got, id)
		}
	}
}

func TestReader(t *testing.T) {
	t.Parallel()
	r := Reader{Leeway: 5 * time.Second, Now: func() time.Time { return exp.Add(4 * time.Second) }}
	rest := events.APIGatewayProxyRequest{}
	rest.RequestContext.Authorizer = map[string]any{"userId": "user_1", "exp": "1777636860", "principalId": "user_1"}
	if id, err := r.REST(rest); err != nil || id.UserID != "user_1" {
		t.Fatalf("REST with a string exp: %v, %v", id, err)
	}
	late := Reader{Leeway: 5 * time.Second, Now: func() time.Time { return exp.Add(6 * time.Second) }}
	if _, err := late.REST(rest); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("expired: %v", err)
	}
	for name, ctx := range map[string]map[string]any{
		"empty":          {},
		"bad exp":        {"userId": "u", "exp": "soon"},
		"fractional":     {"userId": "u", "exp": 1.5},
		"negative":       {"userId": "u", "exp": -1.0},
		"actor not json": {"userId": "u", "exp": 1777636860.0, "actor": "{"},
	} {
		req := events.APIGatewayV2HTTPRequest{}
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: ctx}
		if _, err := r.HTTP(req); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestIsAdmin(t *testing.T) {
	t.Parallel()
	policy := AdminPolicy{OrgID: "org_staff", OrgRole: "org:admin"}
	tests := []struct {
		name   string
		id     Identity
		policy AdminPolicy
		want   bool
	}{
		{name: "admin of the admin organization", id: Identity{Org: &Organization{ID: "org_staff", Role: "org:admin"}}, policy: policy, want: true},
		{name: "admin of an organization of their own", id: Identity{Org: &Organization{ID: "org_mine", Role: "org:admin"}}, policy: policy},
		{name: "member of the admin organization", id: Identity{Org: &Organization{ID: "org_staff", Role: "org:member"}}, policy: policy},
		{name: "org path off without an organization id", id: Identity{Org: &Organization{ID: "org_staff", Role: "org:admin"}}, policy: AdminPolicy{OrgRole: "org:admin"}},
		{name: "metadata role", id: Identity{Claims: json.RawMessage(`{"metadata":{"role":"admin"}}`)}, policy: policy, want: true},
		{name: "metadata role without an organization policy", id: Identity{Claims: json.RawMessage(`{"metadata":{"role":"admin"}}`)}, want: true},
		{name: "metadata other role", id: Identity{Claims: json.RawMessage(`{"metadata":{"role":"editor"}}`)}, policy: policy},
		{name: "metadata in another case", id: Identity{Claims: json.RawMessage(`{"METADATA":{"ROLE":"admin"}}`)}, policy: policy},
		{name: "metadata role not a string", id: Identity{Claims: json.RawMessage(`{"metadata":{"role":["admin"]}}`)}, policy: policy},
		{name: "role at the top level is not metadata", id: Identity{Claims: json.RawMessage(`{"role":"admin"}`)}, policy: policy},
		{name: "nothing", id: Identity{}, policy: policy},
	}
	for _, tt := range tests {
		if got := tt.id.IsAdmin(tt.policy); got != tt.want {
			t.Errorf("%s: IsAdmin = %v", tt.name, got)
		}
	}
}

func machine() *Identity {
	return &Identity{
		TokenType: M2MToken, Subject: "mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk", TokenID: "mt_f7f0ba8c3b4843ce7d85fcdd5e71853e",
		Scopes: []string{"mch_2yGkLpQ7Y3rXSwtU24CzTk9I7Em"}, Claims: json.RawMessage(`{"metadata":{"role":"admin"}}`),
	}
}

// A machine's identity crosses the authorizer context whole, with no user
// and, for a token that never expires, no exp.
func TestMachineContextRoundTrip(t *testing.T) {
	t.Parallel()
	key := &Identity{TokenType: APIKey, UserID: "user_1", Subject: "user_1", TokenID: "ak_1", Expires: exp}
	for name, id := range map[string]*Identity{"m2m": machine(), "user's api key": key} {
		b, _ := json.Marshal(id.Context())
		var ctx map[string]any
		if err := json.Unmarshal(b, &ctx); err != nil {
			t.Fatal(err)
		}
		got, err := Decode(ctx)
		if err != nil || !reflect.DeepEqual(got, id) {
			t.Errorf("%s: round trip = %+v, %v; want %+v", name, got, err, id)
		}
	}
	if ctx := machine().Context(); ctx["userId"] != "" || ctx["tokenType"] != "m2m_token" || ctx["scopes"] != "mch_2yGkLpQ7Y3rXSwtU24CzTk9I7Em" {
		t.Errorf("machine context = %v", ctx)
	}
	if _, ok := full().Context()["tokenType"]; ok {
		t.Error("a session's context gained tokenType: session routes must see what they saw before")
	}
}

func TestDecodeRefusesMismatchedTypes(t *testing.T) {
	t.Parallel()
	for name, ctx := range map[string]map[string]any{
		"unknown type":                    {"tokenType": "cookie", "subject": "user_1", "userId": "user_1", "exp": 1.0},
		"machine without subject":         {"tokenType": "m2m_token", "exp": 1.0},
		"user id that is not the subject": {"tokenType": "api_key", "subject": "mch_1", "userId": "user_1"},
		"session without expiry":          {"userId": "user_1"},
	} {
		if id, err := Decode(ctx); err == nil {
			t.Errorf("%s: decoded %+v", name, id)
		}
	}
}

func TestReaderAcceptsPerRoute(t *testing.T) {
	t.Parallel()
	event := func(id *Identity) events.APIGatewayV2HTTPRequest {
		var req events.APIGatewayV2HTTPRequest
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: id.Context()}
		return req
	}
	now := func() time.Time { return exp.Add(-time.Second) }
	if _, err := (Reader{Now: now}).HTTP(event(machine())); !errors.Is(err, ErrTokenTypeNotAccepted) || errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a session-only route given an M2M token: %v, want ErrTokenTypeNotAccepted", err)
	}
	oauth := &Identity{TokenType: OAuthToken, UserID: "user_1", Subject: "user_1", TokenID: "oat_1", Expires: exp}
	both := Reader{Now: now, Accepts: []TokenType{SessionToken, OAuthToken}}
	if id, err := both.HTTP(event(oauth)); err != nil || id.UserID != "user_1" {
		t.Errorf("a route that accepts OAuth tokens: %v, %v", id, err)
	}
	if _, err := both.HTTP(event(full())); err != nil {
		t.Errorf("the same route with a session: %v", err)
	}
	if _, err := both.HTTP(event(machine())); !errors.Is(err, ErrTokenTypeNotAccepted) {
		t.Errorf("the same route with an M2M token: %v", err)
	}
	late := Reader{Now: func() time.Time { return exp.Add(time.Minute) }, Accepts: []TokenType{OAuthToken}}
	if _, err := late.HTTP(event(oauth)); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("an expired OAuth token: %v", err)
	}
	forever := Reader{Now: func() time.Time { return exp.AddDate(10, 0, 0) }, Accepts: []TokenType{M2MToken}}
	if _, err := forever.HTTP(event(machine())); err != nil {
		t.Errorf("a machine token without expiry: %v", err)
	}
}

// Claims a machine token's creator wrote make no admin; only the listed
// machines, with their own M2M tokens, are.
func TestMachinesAreNotAdminsByClaims(t *testing.T) {
	t.Parallel()
	m := machine()
	if m.IsAdmin(AdminPolicy{}) {
		t.Error("an M2M token with metadata.role admin in its claims is an admin")
	}
	if !m.CallsAs([]string{"mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk"}) || m.CallsAs([]string{"mch_other"}) {
		t.Error("CallsAs does not follow the list")
	}
	key := &Identity{TokenType: APIKey, Subject: "mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk", TokenID: "ak_1"}
	if key.CallsAs([]string{key.Subject}) {
		t.Error("a machine's API key counts as its M2M token")
	}
}
