package userview_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"

	"clerk-lambda/shared/userview"
)

func str(s string) *string { return &s }

func ms(t time.Time) *int64 {
	v := t.UnixMilli()
	return &v
}

func TestView(t *testing.T) {
	t.Parallel()
	created := time.Date(2025, 4, 10, 8, 30, 15, 123e6, time.UTC)
	signedIn := created.Add(90 * time.Minute)
	emails := []*clerk.EmailAddress{
		{ID: "idn_first", EmailAddress: "first@example.com"},
		{ID: "idn_primary", EmailAddress: "primary@example.com"},
	}
	tests := []struct {
		name string
		user *clerk.User
		want string
	}{
		{
			name: "every field",
			user: &clerk.User{
				ID: "user_2abc", PrimaryEmailAddressID: str("idn_primary"), EmailAddresses: emails,
				FirstName: str("Ada"), LastName: str("Lovelace"), Username: str("ada"),
				ImageURL: str("https://img.clerk.com/ada"), CreatedAt: created.UnixMilli(), LastSignInAt: ms(signedIn),
				PublicMetadata:  json.RawMessage(`{"role":"admin","plan":"pro"}`),
				PrivateMetadata: json.RawMessage(`{"stripe":"cus_secret"}`), UnsafeMetadata: json.RawMessage(`{"x":1}`),
			},
			want: `{"id":"user_2abc","email_address":"primary@example.com","first_name":"Ada","last_name":"Lovelace",
				"username":"ada","image_url":"https://img.clerk.com/ada","created_at":"2025-04-10T08:30:15.123Z",
				"last_sign_in_at":"2025-04-10T10:00:15.123Z","public_metadata":{"role":"admin","plan":"pro"}}`,
		},
		{
			name: "no primary id: the first address",
			user: &clerk.User{ID: "user_1", EmailAddresses: emails, CreatedAt: created.UnixMilli()},
			want: `{"id":"user_1","email_address":"first@example.com","first_name":null,"last_name":null,"username":null,
				"image_url":null,"created_at":"2025-04-10T08:30:15.123Z","last_sign_in_at":null,"public_metadata":{}}`,
		},
		{
			name: "primary id of a removed address: the first address",
			user: &clerk.User{ID: "user_1", PrimaryEmailAddressID: str("idn_gone"), EmailAddresses: emails, CreatedAt: created.UnixMilli()},
			want: `{"id":"user_1","email_address":"first@example.com","first_name":null,"last_name":null,"username":null,
				"image_url":null,"created_at":"2025-04-10T08:30:15.123Z","last_sign_in_at":null,"public_metadata":{}}`,
		},
		{
			name: "no addresses, empty strings and null metadata",
			user: &clerk.User{ID: "user_1", FirstName: str(""), Username: str(""), CreatedAt: created.UnixMilli(),
				EmailAddresses: []*clerk.EmailAddress{nil}, PublicMetadata: json.RawMessage(`null`)},
			want: `{"id":"user_1","email_address":null,"first_name":null,"last_name":null,"username":null,
				"image_url":null,"created_at":"2025-04-10T08:30:15.123Z","last_sign_in_at":null,"public_metadata":{}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(userview.View(tt.user))
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, got, tt.want)
		})
	}
}

func TestViewsSkipsNullsAndIsNeverNil(t *testing.T) {
	t.Parallel()
	got, err := json.Marshal(userview.Views(nil))
	if err != nil || string(got) != "[]" {
		t.Fatalf("Views(nil) = %s, %v; want []", got, err)
	}
	views := userview.Views([]*clerk.User{{ID: "user_a"}, nil, {ID: "user_b"}})
	if len(views) != 2 || views[0].ID != "user_a" || views[1].ID != "user_b" {
		t.Fatalf("Views = %+v", views)
	}
}

func assertSameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
