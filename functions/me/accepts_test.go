package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkroute/clerkroutetest"
	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/settings"
)

// An OAuth application acting for a user gets that user; a machine, which
// has none, is refused for its token type.
func TestMeAcceptsOAuthTokens(t *testing.T) {
	t.Parallel()
	fake := clerkfaketest.Start(t, clerkfake.Config{})
	ada := fake.AddUser(clerkfake.User{FirstName: "Ada", EmailAddresses: []clerkfake.EmailAddress{{EmailAddress: "ada@example.com"}},
		PublicMetadata: map[string]any{"plan": "pro"}})
	h, err := newHandler(settings.Map(clerkroutetest.Env(fake)), logging.New(&bytes.Buffer{}, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	soon := time.Now().Add(time.Hour)
	oauth := func(scopes ...string) map[string]any {
		return (&identity.Identity{TokenType: identity.OAuthToken, UserID: ada.ID, Subject: ada.ID, TokenID: "oat_1",
			Scopes: scopes, Expires: soon}).Context()
	}
	res := clerkroutetest.Invoke(t, h.handle, event(t, oauth("profile", "email")))
	var got map[string]any
	if res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &got) != nil || got["id"] != ada.ID ||
		got["email_address"] != "ada@example.com" || got["public_metadata"] != nil {
		t.Fatalf("an OAuth token for Ada, profile and email: %d %s", res.StatusCode, res.Body)
	}
	res = clerkroutetest.Invoke(t, h.handle, event(t, oauth("profile", "public_metadata")))
	if json.Unmarshal([]byte(res.Body), &got) != nil || got["email_address"] != nil || got["public_metadata"] == nil {
		t.Errorf("profile and public_metadata: %s", res.Body)
	}
	clerkroutetest.WantError(t, clerkroutetest.Invoke(t, h.handle, event(t, oauth("email"))), 403, "insufficient_scope")
	m2m := (&identity.Identity{TokenType: identity.M2MToken, Subject: "mch_1", TokenID: "mt_1", Expires: soon}).Context()
	clerkroutetest.WantError(t, clerkroutetest.Invoke(t, h.handle, event(t, m2m)), 403, "token_type_not_accepted")
	key := (&identity.Identity{TokenType: identity.APIKey, UserID: ada.ID, Subject: ada.ID, TokenID: "ak_1"}).Context()
	clerkroutetest.WantError(t, clerkroutetest.Invoke(t, h.handle, event(t, key)), 403, "token_type_not_accepted")
}
