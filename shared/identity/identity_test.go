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
