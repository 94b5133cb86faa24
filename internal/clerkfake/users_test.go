package clerkfake_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
)

func TestAddUserFillsWhatIsEmpty(t *testing.T) {
	t.Parallel()
	s, err := clerkfake.New(clerkfake.Config{Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	u := s.AddUser(clerkfake.User{FirstName: "Ada", EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: "ada@example.com"}}})
	if !strings.HasPrefix(u.ID, "user_") || len(u.ID) != len("user_")+27 {
		t.Errorf("id %q is not shaped like Clerk's", u.ID)
	}
	if !u.CreatedAt.Equal(fixedNow) || !u.UpdatedAt.Equal(fixedNow) {
		t.Errorf("created %v updated %v, want %v", u.CreatedAt, u.UpdatedAt, fixedNow)
	}
	e := u.EmailAddresses[0]
	if !strings.HasPrefix(e.ID, "idn_") || u.PrimaryEmailAddressID != e.ID || e.Verification != "verified" {
		t.Errorf("email %+v, primary %q", e, u.PrimaryEmailAddressID)
	}

	// With a fixed clock, users added without a time still get distinct,
	// increasing creation times, so their order is the order they were added.
	v := s.AddUser(clerkfake.User{})
	if !v.CreatedAt.After(u.CreatedAt) {
		t.Errorf("second user created %v, not after the first's %v", v.CreatedAt, u.CreatedAt)
	}
	if got := s.Users(); len(got) != 2 || got[0].ID != u.ID || got[1].ID != v.ID {
		t.Errorf("Users() = %v, want [%s %s]", ids(got), u.ID, v.ID)
	}

	// Adding a user with a stored id replaces it.
	u.FirstName = "Augusta"
	s.AddUser(u)
	if got := s.Users(); len(got) != 2 || got[0].FirstName != "Augusta" {
		t.Errorf("after replacing, Users() = %+v", got)
	}
	if !s.DeleteUser(u.ID) || s.DeleteUser(u.ID) {
		t.Error("DeleteUser should report true once, then false")
	}
	if got := s.Users(); len(got) != 1 || got[0].ID != v.ID {
		t.Errorf("after deleting, Users() = %v", ids(got))
	}
}

func TestStoredUsersDoNotShareCallersMaps(t *testing.T) {
	t.Parallel()
	s, err := clerkfake.New(clerkfake.Config{})
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]any{"role": "admin"}
	u := s.AddUser(clerkfake.User{PublicMetadata: meta})
	meta["role"] = "changed"
	u.PublicMetadata["role"] = "changed too"
	if got := s.Users()[0].PublicMetadata["role"]; got != "admin" {
		t.Fatalf("stored metadata changed to %v", got)
	}
}

func TestSeedUsers(t *testing.T) {
	t.Parallel()
	s, err := clerkfake.New(clerkfake.Config{Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	first := s.SeedUsers(500)
	second := s.SeedUsers(500) // later seeds still come after earlier ones
	all := append(first, second...)
	emails := map[string]bool{}
	names := map[string]bool{}
	for i, u := range all {
		if len(u.EmailAddresses) != 1 || u.FirstName == "" || u.LastName == "" {
			t.Fatalf("seeded user %d lacks an email or a name: %+v", i, u)
		}
		emails[u.EmailAddresses[0].EmailAddress] = true
		names[u.FirstName+" "+u.LastName] = true
		if i > 0 && !u.CreatedAt.After(all[i-1].CreatedAt) {
			t.Fatalf("user %d created %v, not after user %d's %v", i, u.CreatedAt, i-1, all[i-1].CreatedAt)
		}
	}
	if len(emails) != len(all) {
		t.Errorf("%d distinct emails among %d users", len(emails), len(all))
	}
	if len(names) < 300 {
		t.Errorf("only %d distinct names among %d users", len(names), len(all))
	}
	if got := s.Users(); len(got) != len(all) || got[0].ID != all[0].ID || got[len(got)-1].ID != all[len(all)-1].ID {
		t.Error("Users() is not the seeded users in creation order")
	}
}

func TestGetUser(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	u := s.AddUser(clerkfake.User{
		Username: "ada", FirstName: "Ada", LastName: "Lovelace", ExternalID: "ext-1",
		EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: "ada@example.com"}, {EmailAddress: "ada@work.example", Verification: "unverified"}},
		PublicMetadata: map[string]any{"role": "admin"}, PrivateMetadata: map[string]any{"plan": "pro"},
		LastSignInAt: fixedNow, Banned: true,
	})

	var got clerk.User
	decode(t, get(t, s, "/users/"+u.ID, s.SecretKey()), &got)
	if got.ID != u.ID || got.Object != "user" || *got.Username != "ada" || *got.FirstName != "Ada" || *got.LastName != "Lovelace" ||
		*got.ExternalID != "ext-1" || !got.Banned || got.CreatedAt != u.CreatedAt.UnixMilli() || *got.LastSignInAt != fixedNow.UnixMilli() {
		t.Errorf("served user %+v does not match stored %+v", got, u)
	}
	if len(got.EmailAddresses) != 2 || *got.PrimaryEmailAddressID != got.EmailAddresses[0].ID ||
		got.EmailAddresses[0].EmailAddress != "ada@example.com" || got.EmailAddresses[1].Verification.Status != "unverified" {
		t.Errorf("email addresses %+v", got.EmailAddresses)
	}
	if string(got.PublicMetadata) != `{"role":"admin"}` || string(got.PrivateMetadata) != `{"plan":"pro"}` || string(got.UnsafeMetadata) != `{}` {
		t.Errorf("metadata %s %s %s", got.PublicMetadata, got.PrivateMetadata, got.UnsafeMetadata)
	}
	if got.LastActiveAt != nil || got.PrimaryPhoneNumberID != nil {
		t.Errorf("absent values are not null: last_active_at %v primary_phone_number_id %v", got.LastActiveAt, got.PrimaryPhoneNumberID)
	}

	wantError(t, get(t, s, "/users/user_missing", s.SecretKey()), http.StatusNotFound, "resource_not_found")
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{SecretKey: "sk_test_right"})
	u := s.AddUser(clerkfake.User{})
	tests := []struct {
		name   string
		header string
		code   string
	}{
		{"no header", "", "authentication_invalid"},
		{"not a bearer", "Basic c2tfdGVzdF9yaWdodDo=", "authentication_invalid"},
		{"empty bearer", "Bearer ", "authentication_invalid"},
		{"wrong key", "Bearer sk_test_wrong", "clerk_key_invalid"},
		{"key of a prefix", "Bearer sk_test_righ", "clerk_key_invalid"},
	}
	for _, path := range []string{"/jwks", "/users", "/users/count", "/users/" + u.ID, "/nowhere"} {
		for _, tt := range tests {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				r := readResponse(t, resp)
				wantError(t, r, http.StatusUnauthorized, tt.code)
				if strings.Contains(string(r.body), "sk_test_") {
					t.Errorf("a 401 body mentions a secret key: %s", r.body)
				}
			})
		}
	}
	if r := get(t, s, "/users/"+u.ID, "sk_test_right"); r.status != http.StatusOK {
		t.Fatalf("the right key got %d", r.status)
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	wantError(t, get(t, s, "/organizations", s.SecretKey()), http.StatusNotFound, "resource_not_found")
	wantError(t, get(t, s, "/users/a/b", s.SecretKey()), http.StatusNotFound, "resource_not_found")
	req, _ := http.NewRequest(http.MethodDelete, s.URL()+"/jwks", nil)
	req.Header.Set("Authorization", "Bearer "+s.SecretKey())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, readResponse(t, resp), http.StatusNotFound, "resource_not_found")
}

// listIDs lists users with the query and returns their ids in order.
func listIDs(t *testing.T, s *clerkfake.Server, query string) []string {
	t.Helper()
	var users []clerk.User
	decode(t, get(t, s, "/users?"+query, s.SecretKey()), &users)
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func ids(users []clerkfake.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{Now: func() time.Time { return fixedNow }})
	seeded := s.SeedUsers(30)
	ada := s.AddUser(clerkfake.User{Username: "countess", FirstName: "Ada", LastName: "Byron", ExternalID: "ext-ada",
		EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: "Ada@Analytical.example"}}, Banned: true})
	all := append(slices.Clone(seeded), ada)
	asc := ids(all)
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	mid := all[10].CreatedAt.UnixMilli()

	tests := []struct {
		query string
		want  []string
	}{
		{"", desc[:10]},
		{"limit=3", desc[:3]},
		{"limit=3&offset=2", desc[2:5]},
		{"order_by=%2Bcreated_at&limit=4", asc[:4]},
		{"order_by=created_at&limit=4&offset=28", asc[28:]},
		{"order_by=-created_at&limit=500", desc},
		{"offset=1000", []string{}},
		{"query=example&limit=2&offset=3", desc[3:5]},
		{fmt.Sprintf("created_at_after=%d&order_by=%%2Bcreated_at&limit=2&offset=2", mid), asc[13:15]},
		{"query=ANALYTICAL", []string{ada.ID}},
		{"query=countess", []string{ada.ID}},
		{"query=byron", []string{ada.ID}},
		{"query=ada+byron", []string{ada.ID}},
		{"query=" + ada.ID[5:15], []string{ada.ID}},
		{"email_address=ada@analytical.example", []string{ada.ID}},
		{"email_address=nobody@example.com", []string{}},
		{"username=countess", []string{ada.ID}},
		{"external_id=ext-ada", []string{ada.ID}},
		{"user_id=" + asc[1] + "&user_id=" + asc[3] + "&order_by=%2Bcreated_at", []string{asc[1], asc[3]}},
		{"user_id=%2B" + asc[1] + "&user_id=-" + asc[1], []string{}},
		{"user_id=-" + ada.ID + "&limit=2", desc[1:3]},
		{"banned=true", []string{ada.ID}},
		{"email_address_query=analytical", []string{ada.ID}},
		{"name_query=ada+byr", []string{ada.ID}},
		{"username_query=COUNT", []string{ada.ID}},
		{"phone_number=%2B15555550100", []string{}},
		{fmt.Sprintf("created_at_after=%d&order_by=%%2Bcreated_at&limit=3", mid), asc[11:14]},
		{fmt.Sprintf("created_at_before=%d&order_by=%%2Bcreated_at", mid), asc[:10]},
		{"starting_after=" + asc[5] + "&order_by=%2Bcreated_at&limit=2", asc[6:8]},
		{"starting_after=" + asc[5] + "&limit=2", []string{asc[4], asc[3]}},
		{"starting_after=" + asc[0] + "&limit=2", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := listIDs(t, s, tt.query); !slices.Equal(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestListUsersOrderings(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{Now: func() time.Time { return fixedNow }})
	add := func(first, email string, signedIn time.Time, updated time.Duration) string {
		return s.AddUser(clerkfake.User{FirstName: first, LastSignInAt: signedIn, UpdatedAt: fixedNow.Add(updated),
			EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: email}}}).ID
	}
	c := add("Carol", "a@example.com", fixedNow.Add(time.Hour), 3*time.Hour)
	a := add("alice", "c@example.com", time.Time{}, time.Hour)
	b := add("Bob", "b@example.com", fixedNow, 2*time.Hour)

	tests := []struct {
		order string
		want  []string
	}{
		{"first_name", []string{a, b, c}},
		{"-first_name", []string{c, b, a}},
		{"%2Bemail_address", []string{c, b, a}},
		{"-email_address", []string{a, b, c}},
		{"updated_at", []string{a, b, c}},
		{"-updated_at", []string{c, b, a}},
		{"last_sign_in_at", []string{b, c, a}},  // never signed in: last ascending
		{"-last_sign_in_at", []string{a, c, b}}, // and first descending
		{"phone_number", []string{c, a, b}},     // no one has one: creation order
	}
	for _, tt := range tests {
		t.Run(tt.order, func(t *testing.T) {
			if got := listIDs(t, s, "order_by="+tt.order); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestListUsersRejectsBadParameters(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	u := s.AddUser(clerkfake.User{})
	many := strings.Repeat("&user_id=x", 101)
	tests := []struct {
		query, param, code string
	}{
		{"limit=0", "limit", "form_param_value_invalid"},
		{"limit=501", "limit", "form_param_value_invalid"},
		{"limit=-1", "limit", "form_param_value_invalid"},
		{"limit=ten", "limit", "form_param_format_invalid"},
		{"offset=-1", "offset", "form_param_value_invalid"},
		{"offset=1.5", "offset", "form_param_format_invalid"},
		{"order_by=age", "order_by", "form_param_value_invalid"},
		{"order_by=--created_at", "order_by", "form_param_value_invalid"},
		{"banned=maybe", "banned", "form_param_format_invalid"},
		{"created_at_after=yesterday", "created_at_after", "form_param_format_invalid"},
		{"last_sign_in_at_before=soon", "last_sign_in_at_before", "form_param_format_invalid"},
		{many[1:], "user_id", "form_param_value_invalid"},
		{"starting_after=" + u.ID + "&order_by=updated_at", "starting_after", "form_param_value_invalid"},
		{"starting_after=" + u.ID + "&offset=1", "starting_after", "form_param_value_invalid"},
		{"starting_after=user_gone", "starting_after", "form_param_value_invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.query[:min(len(tt.query), 40)], func(t *testing.T) {
			e := wantError(t, get(t, s, "/users?"+tt.query, s.SecretKey()), http.StatusUnprocessableEntity, tt.code)
			if e.Errors[0].Meta["param_name"] != tt.param {
				t.Errorf("meta %v, want param_name %s", e.Errors[0].Meta, tt.param)
			}
		})
	}
	wantError(t, get(t, s, "/users/count?banned=maybe", s.SecretKey()), http.StatusUnprocessableEntity, "form_param_format_invalid")
}

func TestCountUsers(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	s.SeedUsers(25)
	ada := s.AddUser(clerkfake.User{FirstName: "Ada", LastName: "Zebra", EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: "zebra@example.com"}}})
	tests := []struct {
		query string
		want  int
	}{
		{"", 26},
		{"query=zebra", 1},
		{"email_address=zebra@example.com&email_address=nobody@example.com", 1},
		{"user_id=-" + ada.ID, 25},
		{"limit=1&offset=5", 26}, // paging parameters do not apply to a count
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var got struct {
				Object     string `json:"object"`
				TotalCount int    `json:"total_count"`
			}
			decode(t, get(t, s, "/users/count?"+tt.query, s.SecretKey()), &got)
			if got.Object != "total_count" || got.TotalCount != tt.want {
				t.Errorf("got %+v, want total_count %d", got, tt.want)
			}
		})
	}
}

func TestPagingCoversEveryUserOnce(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	want := ids(s.SeedUsers(1234))
	var got []string
	for offset := 0; ; offset += 500 {
		page := listIDs(t, s, fmt.Sprintf("order_by=%%2Bcreated_at&limit=500&offset=%d", offset))
		got = append(got, page...)
		if len(page) < 500 {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paging returned %d users, want the %d seeded in order", len(got), len(want))
	}
}

func TestRequestsCountsEveryRequestByPath(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	get(t, s, "/jwks", s.SecretKey())
	get(t, s, "/jwks", "")
	get(t, s, "/users?limit=0", s.SecretKey())
	for path, want := range map[string]int{"/v1/jwks": 2, "/v1/users": 1, "/v1/users/count": 0} {
		if got := s.Requests(path); got != want {
			t.Errorf("Requests(%q) = %d, want %d", path, got, want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	s.SeedUsers(200)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				u := s.AddUser(clerkfake.User{FirstName: fmt.Sprint(g, i)})
				get(t, s, "/users?limit=50&query="+url.QueryEscape(u.FirstName), s.SecretKey())
				get(t, s, "/users/"+u.ID, s.SecretKey())
				s.DeleteUser(u.ID)
				if _, err := s.MintToken(clerkfake.TokenParams{UserID: u.ID}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		if _, err := s.RotateKey(); err != nil {
			t.Error(err)
		}
		s.Fail(clerkfake.Failure{Paths: []string{"/v1/nothing"}})
		_ = s.Users()
	})
	wg.Wait()
	if got := len(s.Users()); got != 200 {
		t.Fatalf("%d users left, want the 200 seeded", got)
	}
}

func TestCloseRefusesConnections(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	url := s.URL()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := http.Get(url + "/jwks")
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("got %v, want connection refused", err)
	}
	if err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("a closed server started again")
	}
}

func TestHandlerServesWithoutStart(t *testing.T) {
	t.Parallel()
	s, err := clerkfake.New(clerkfake.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if s.URL() != "" {
		t.Errorf("URL before Start = %q, want empty", s.URL())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1/users/count", nil)
	req.Header.Set("Authorization", "Bearer "+s.SecretKey())
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"total_count":0`) {
		t.Fatalf("got %d %s", rec.Code, rec.Body.String())
	}
}
