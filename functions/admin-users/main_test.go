package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkroute/clerkroutetest"
	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/settings"
)

// testHandler builds the handler from vars, logging into the returned
// buffer. Unless vars say otherwise, org_1 is the admin organization.
func testHandler(t *testing.T, vars map[string]string) (*handler, *bytes.Buffer) {
	t.Helper()
	if _, set := vars["ADMIN_ORG_ID"]; !set {
		vars["ADMIN_ORG_ID"] = "org_1"
	}
	admins, err := adminPolicy(settings.Map(vars))
	if err != nil {
		t.Fatal(err)
	}
	r, logs := clerkroutetest.Route(t, vars, nil)
	return &handler{Route: r, admins: admins}, logs
}

// Callers, as the authorizer builds their context.
var (
	soon     = time.Now().Add(time.Hour)
	orgAdmin = (&identity.Identity{UserID: "user_orgadmin", Expires: soon,
		Org: &identity.Organization{ID: "org_1", Role: "org:admin"}}).Context()
	metadataAdmin = (&identity.Identity{UserID: "user_metaadmin", Expires: soon,
		Claims: json.RawMessage(`{"metadata":{"role":"admin"}}`)}).Context()
	orgMember = (&identity.Identity{UserID: "user_member", Expires: soon,
		Org: &identity.Organization{ID: "org_1", Role: "org:member"}}).Context()
	metadataUser = (&identity.Identity{UserID: "user_plain", Expires: soon,
		Claims: json.RawMessage(`{"metadata":{"role":"user"}}`)}).Context()
	expiredAdmin = (&identity.Identity{UserID: "user_orgadmin", Expires: time.Now().Add(-time.Minute),
		Org: &identity.Organization{ID: "org_1", Role: "org:admin"}}).Context()
	// ownOrgAdmin created an organization of their own: admin there, not here.
	ownOrgAdmin = (&identity.Identity{UserID: "user_owner", Expires: soon,
		Org: &identity.Organization{ID: "org_mine", Role: "org:admin"}}).Context()
)

// request is an HTTP API event as API Gateway delivers it. A non-empty id
// makes it GET /admin/users/{id}.
func request(t *testing.T, auth map[string]any, id string, query map[string]string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: routeList, RawPath: "/admin/users", QueryStringParameters: query}
	if id != "" {
		req.RouteKey, req.RawPath, req.PathParameters = routeOne, "/admin/users/"+id, map[string]string{"id": id}
	}
	return clerkroutetest.Delivered(t, req, auth)
}

type pageBody struct {
	Data       []clerkroutetest.UserBody `json:"data"`
	Limit      int                       `json:"limit"`
	Offset     int                       `json:"offset"`
	NextOffset *int                      `json:"next_offset"`
}

// directory is a stand-in holding 25 seeded users and Ada, the oldest. Tests
// sharing it only read.
func directory(t *testing.T) (*clerkfake.Server, clerkfake.User) {
	t.Helper()
	fake := clerkfaketest.Start(t, clerkfake.Config{})
	fake.SeedUsers(25)
	ada := fake.AddUser(clerkfake.User{
		FirstName: "Ada", LastName: "Example", Username: "ada",
		EmailAddresses: []clerkfake.EmailAddress{
			{ID: "idn_old", EmailAddress: "ada@old.example.com"},
			{ID: "idn_main", EmailAddress: "ada@example.com"},
		},
		PrimaryEmailAddressID: "idn_main",
		PublicMetadata:        map[string]any{"role": "admin"},
		CreatedAt:             time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC),
		LastSignInAt:          time.Date(2026, 1, 3, 3, 4, 5, 0, time.UTC),
	})
	return fake, ada
}

// newestFirst lists the ids of fake's users matching keep, newest first, as
// Clerk orders them by default.
func newestFirst(fake *clerkfake.Server, keep func(clerkfake.User) bool) []string {
	var ids []string
	for _, u := range slices.Backward(fake.Users()) {
		if keep(u) {
			ids = append(ids, u.ID)
		}
	}
	return ids
}

func TestAccess(t *testing.T) {
	t.Parallel()
	fake, ada := directory(t)
	tests := []struct {
		name      string
		auth      map[string]any
		adminRole string // ADMIN_ORG_ROLE; "" = unset
		noOrg     bool   // ADMIN_ORG_ID unset (else org_1)
		status    int
		code      string
	}{
		{name: "no authorizer context", status: 401, code: "unauthenticated"},
		{name: "cached authorization outlived the token", auth: expiredAdmin, status: 401, code: "unauthenticated"},
		{name: "organization member", auth: orgMember, status: 403, code: "forbidden"},
		{name: "metadata role other than admin", auth: metadataUser, status: 403, code: "forbidden"},
		{name: "organization admin", auth: orgAdmin, status: 200},
		{name: "metadata.role admin", auth: metadataAdmin, status: 200},
		{name: "org:admin when another role is configured", auth: orgAdmin, adminRole: "org:owner", status: 403, code: "forbidden"},
		{name: "the configured role", auth: orgMember, adminRole: "org:member", status: 200},
		{name: "admin of an organization of their own", auth: ownOrgAdmin, status: 403, code: "forbidden"},
		{name: "organization admin when no admin organization is set", auth: orgAdmin, noOrg: true, status: 403, code: "forbidden"},
		{name: "metadata.role admin when no admin organization is set", auth: metadataAdmin, noOrg: true, status: 200},
	}
	for _, tt := range tests {
		for _, id := range []string{"", ada.ID} {
			t.Run(tt.name+"/"+map[bool]string{true: "one", false: "list"}[id != ""], func(t *testing.T) {
				t.Parallel()
				vars := clerkroutetest.Env(fake)
				if tt.adminRole != "" {
					vars["ADMIN_ORG_ROLE"] = tt.adminRole
				}
				if tt.noOrg {
					vars["ADMIN_ORG_ID"] = ""
				}
				h, logs := testHandler(t, vars)
				res := clerkroutetest.Invoke(t, h.handle, request(t, tt.auth, id, nil))
				if tt.code != "" {
					clerkroutetest.WantError(t, res, tt.status, tt.code)
				} else if res.StatusCode != tt.status {
					t.Fatalf("status = %d, want %d: %s", res.StatusCode, tt.status, res.Body)
				}
				line := clerkroutetest.LogLine(t, logs, tt.status, fake.SecretKey())
				if tt.auth != nil && tt.status != 401 && line["userId"] != tt.auth["userId"] {
					t.Fatalf("log line lacks the caller: %v", line)
				}
			})
		}
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	fake, _ := directory(t)
	all := newestFirst(fake, func(clerkfake.User) bool { return true })
	turings := newestFirst(fake, func(u clerkfake.User) bool { return u.LastName == "Turing" })
	if len(all) != 26 || len(turings) != 5 {
		t.Fatalf("the seeded directory changed: %d users, %d Turings", len(all), len(turings))
	}
	next := func(n int) *int { return &n }
	tests := []struct {
		name   string
		query  map[string]string
		want   []string
		limit  int
		offset int
		next   *int
	}{
		{name: "defaults", want: all[:20], limit: 20, next: next(20)},
		{name: "second page", query: map[string]string{"offset": "20"}, want: all[20:], limit: 20, offset: 20},
		{name: "limit and offset", query: map[string]string{"limit": "5", "offset": "5"}, want: all[5:10], limit: 5, offset: 5, next: next(10)},
		{name: "largest limit", query: map[string]string{"limit": "100"}, want: all, limit: 100},
		{name: "past the end", query: map[string]string{"offset": "1000"}, want: []string{}, limit: 20, offset: 1000},
		{name: "query, trimmed", query: map[string]string{"query": "  TURING "}, want: turings, limit: 20},
		{name: "query filling a page", query: map[string]string{"query": "turing", "limit": "5"}, want: turings, limit: 5, next: next(5)},
		{name: "query of 256 characters", query: map[string]string{"query": strings.Repeat("é", 256)}, want: []string{}, limit: 20},
		{name: "empty values are defaults", query: map[string]string{"limit": "", "offset": "", "query": " "}, want: all[:20], limit: 20, next: next(20)},
		{name: "unknown parameters ignored", query: map[string]string{"order_by": "+created_at", "parameter1": "x"}, want: all[:20], limit: 20, next: next(20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, logs := testHandler(t, clerkroutetest.Env(fake))
			res := clerkroutetest.Invoke(t, h.handle, request(t, orgAdmin, "", tt.query))
			var got pageBody
			if res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &got) != nil {
				t.Fatalf("got %d %s", res.StatusCode, res.Body)
			}
			if !strings.Contains(res.Body, `"data":[`) || !strings.Contains(res.Body, `"next_offset":`) {
				t.Fatalf("data must be an array and next_offset present: %s", res.Body)
			}
			ids := []string{}
			for _, u := range got.Data {
				ids = append(ids, u.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Fatalf("ids = %v\nwant  %v", ids, tt.want)
			}
			if got.Limit != tt.limit || got.Offset != tt.offset || !equalPtr(got.NextOffset, tt.next) {
				t.Fatalf("limit %d offset %d next %v; want %d %d %v", got.Limit, got.Offset, deref(got.NextOffset), tt.limit, tt.offset, deref(tt.next))
			}
			clerkroutetest.LogLine(t, logs, 200, fake.SecretKey())
		})
	}
}

func equalPtr(a, b *int) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestListShowsUsersAsMeDoes(t *testing.T) {
	t.Parallel()
	fake, ada := directory(t)
	h, _ := testHandler(t, clerkroutetest.Env(fake))
	res := clerkroutetest.Invoke(t, h.handle, request(t, metadataAdmin, "", map[string]string{"query": "ada@example.com"}))
	var got pageBody
	if res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &got) != nil || len(got.Data) != 1 {
		t.Fatalf("got %d %s", res.StatusCode, res.Body)
	}
	checkAda(t, got.Data[0], ada)
}

// checkAda checks u is the directory's Ada in the shape of GET /me.
func checkAda(t *testing.T, u clerkroutetest.UserBody, ada clerkfake.User) {
	t.Helper()
	if u.ID != ada.ID || u.EmailAddress == nil || *u.EmailAddress != "ada@example.com" || u.FirstName == nil || *u.FirstName != "Ada" ||
		u.Username == nil || *u.Username != "ada" || u.CreatedAt != "2026-01-02T03:04:05.006Z" ||
		u.LastSignInAt == nil || *u.LastSignInAt != "2026-01-03T03:04:05Z" || string(u.PublicMetadata) != `{"role":"admin"}` {
		t.Fatalf("user = %+v", u)
	}
}

func TestBadParameters(t *testing.T) {
	t.Parallel()
	fake, _ := directory(t)
	tests := []struct {
		name  string
		id    string
		query map[string]string
		want  string
	}{
		{name: "limit 0", query: map[string]string{"limit": "0"}, want: "limit must be a whole number from 1 to 100"},
		{name: "limit 101", query: map[string]string{"limit": "101"}, want: "limit must be a whole number from 1 to 100"},
		{name: "limit in words", query: map[string]string{"limit": "ten"}, want: "limit must be a whole number from 1 to 100"},
		{name: "limit with a sign", query: map[string]string{"limit": "+5"}, want: "limit must be a whole number from 1 to 100"},
		{name: "limit given twice", query: map[string]string{"limit": "5,10"}, want: "limit must be a whole number from 1 to 100"},
		{name: "offset -1", query: map[string]string{"offset": "-1"}, want: "offset must be a whole number from 0 to 2147483647"},
		{name: "offset beyond any int", query: map[string]string{"offset": "99999999999999999999"}, want: "offset must be a whole number from 0"},
		{name: "query of 257 characters", query: map[string]string{"query": strings.Repeat("a", 257)}, want: "query must be at most 256 characters"},
		{name: "id without the user_ prefix", id: "2abc", want: "id must be a Clerk user id"},
		{name: "id with a path in it", id: "user_abc/../../jwks", want: "id must be a Clerk user id"},
		{name: "id prefix alone", id: "user_", want: "id must be a Clerk user id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, logs := testHandler(t, clerkroutetest.Env(fake))
			msg := clerkroutetest.WantError(t, clerkroutetest.Invoke(t, h.handle, request(t, orgAdmin, tt.id, tt.query)), 400, "invalid_parameter")
			if !strings.HasPrefix(msg, tt.want) {
				t.Fatalf("message = %q, want it to start %q", msg, tt.want)
			}
			clerkroutetest.LogLine(t, logs, 400, "")
		})
	}
}

func TestOneUser(t *testing.T) {
	t.Parallel()
	fake, ada := directory(t)
	gone := fake.AddUser(clerkfake.User{})
	fake.DeleteUser(gone.ID)

	t.Run("found", func(t *testing.T) {
		t.Parallel()
		h, logs := testHandler(t, clerkroutetest.Env(fake))
		res := clerkroutetest.Invoke(t, h.handle, request(t, orgAdmin, ada.ID, nil))
		var got clerkroutetest.UserBody
		if res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &got) != nil {
			t.Fatalf("got %d %s", res.StatusCode, res.Body)
		}
		checkAda(t, got, ada)
		if line := clerkroutetest.LogLine(t, logs, 200, fake.SecretKey()); line["targetUserId"] != ada.ID || line["msg"] != routeOne {
			t.Fatalf("log line = %v", line)
		}
	})
	for name, id := range map[string]string{"deleted": gone.ID, "never existed": "user_2NoSuchUser00000000000000"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h, logs := testHandler(t, clerkroutetest.Env(fake))
			res := clerkroutetest.Invoke(t, h.handle, request(t, orgAdmin, id, nil))
			if msg := clerkroutetest.WantError(t, res, 404, "user_not_found"); msg != "no such user" {
				t.Fatalf("message = %q", msg)
			}
			clerkroutetest.LogLine(t, logs, 404, fake.SecretKey())
		})
	}
}

// TestRouteFallback checks events whose route key is neither of the two
// (a catch-all route) are told apart by the id path parameter.
func TestRouteFallback(t *testing.T) {
	t.Parallel()
	fake, ada := directory(t)
	h, _ := testHandler(t, clerkroutetest.Env(fake))
	one := request(t, orgAdmin, ada.ID, nil)
	one.RouteKey = "$default"
	var u clerkroutetest.UserBody
	if res := clerkroutetest.Invoke(t, h.handle, one); res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &u) != nil || u.ID != ada.ID {
		t.Fatalf("got %d %s", res.StatusCode, res.Body)
	}
	list := request(t, orgAdmin, "", nil)
	list.RouteKey = "ANY /{proxy+}"
	var p pageBody
	if res := clerkroutetest.Invoke(t, h.handle, list); res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &p) != nil || len(p.Data) != 20 {
		t.Fatalf("got %d %s", res.StatusCode, res.Body)
	}
}

// TestClerkFailures checks Clerk failing answers 502 on both routes, with a
// JSON error and the reason in the log.
func TestClerkFailures(t *testing.T) {
	t.Parallel()
	breaks := map[string]func(*clerkfake.Server){
		"outage":          func(s *clerkfake.Server) { _ = s.Close() },
		"persistent 500s": func(s *clerkfake.Server) { s.Fail(clerkfake.Failure{ServerErrors: 100}) },
	}
	for name, breakIt := range breaks {
		for _, one := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/list", true: "/one"}[one], func(t *testing.T) {
				t.Parallel()
				fake := clerkfaketest.Start(t, clerkfake.Config{})
				u := fake.AddUser(clerkfake.User{})
				h, logs := testHandler(t, clerkroutetest.Env(fake))
				breakIt(fake)
				id := ""
				if one {
					id = u.ID
				}
				clerkroutetest.WantError(t, clerkroutetest.Invoke(t, h.handle, request(t, orgAdmin, id, nil)), 502, "clerk_unavailable")
				if line := clerkroutetest.LogLine(t, logs, 502, fake.SecretKey()); line["level"] != "ERROR" || line["error"] == nil {
					t.Fatalf("log line = %v", line)
				}
			})
		}
	}
}

func TestBadSettingsStopStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"no secret key", map[string]string{}, "CLERK_SECRET_KEY or CLERK_SECRET_KEY_PARAMETER must be set"},
		{"admin role without org:", map[string]string{"CLERK_SECRET_KEY": "sk_test_x", "ADMIN_ORG_ROLE": "admin"}, "ADMIN_ORG_ROLE"},
		{"admin organization not an id", map[string]string{"CLERK_SECRET_KEY": "sk_test_x", "ADMIN_ORG_ID": "acme"}, "ADMIN_ORG_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newHandler(settings.Map(tt.vars), logging.New(&bytes.Buffer{}, slog.LevelInfo))
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line mentioning %q", err, tt.want)
			}
		})
	}
	h, err := newHandler(settings.Map(map[string]string{"CLERK_SECRET_KEY_PARAMETER": "/clerk/secret-key"}), logging.New(&bytes.Buffer{}, slog.LevelInfo))
	if err != nil || h.admins != (identity.AdminPolicy{OrgRole: "org:admin"}) {
		t.Fatalf("defaults: %v, admin policy %+v", err, h.admins)
	}
}

// TestFullEvent runs an HTTP API event with every field AWS documents
// filled (the shape of aws-lambda-go's own sample), made each route's
// request from an administrator. Its query string holds no listing
// parameter, so the page is the first, of the default size.
func TestFullEvent(t *testing.T) {
	t.Parallel()
	req := clerkroutetest.Event(t, routeList, "/admin/users", nil, orgAdmin)
	fake, ada := directory(t)
	h, _ := testHandler(t, clerkroutetest.Env(fake))
	res := clerkroutetest.Invoke(t, h.handle, req)
	var got pageBody
	if res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &got) != nil || len(got.Data) != 20 || got.Limit != 20 {
		t.Fatalf("got %d %s", res.StatusCode, res.Body)
	}
	one := clerkroutetest.Event(t, routeOne, "/admin/users/"+ada.ID, map[string]string{"id": ada.ID}, orgAdmin)
	var u clerkroutetest.UserBody
	if res := clerkroutetest.Invoke(t, h.handle, one); res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &u) != nil || u.ID != ada.ID {
		t.Fatalf("one user: got %d %s", res.StatusCode, res.Body)
	}
}
