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
	ada := fake.AddUser(clerkfake.User{FirstName: "Ada"})
	h, err := newHandler(settings.Map(clerkroutetest.Env(fake)), logging.New(&bytes.Buffer{}, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	soon := time.Now().Add(time.Hour)
	oauth := (&identity.Identity{TokenType: identity.OAuthToken, UserID: ada.ID, Subject: ada.ID, TokenID: "oat_1", Expires: soon}).Context()
	res := clerkroutetest.Invoke(t, h.handle, event(t, oauth))
	var got clerkroutetest.UserBody
	if res.StatusCode != 200 || json.Unmarshal([]byte(res.Body), &got) != nil || got.ID != ada.ID {
		t.Fatalf("an OAuth token for Ada: %d %s", res.StatusCode, res.Body)
	}
	m2m := (&identity.Identity{TokenType: identity.M2MToken, Subject: "mch_1", TokenID: "mt_1", Expires: soon}).Context()
	clerkroutetest.WantError(t, clerkroutetest.Invoke(t, h.handle, event(t, m2m)), 403, "token_type_not_accepted")
	key := (&identity.Identity{TokenType: identity.APIKey, UserID: ada.ID, Subject: ada.ID, TokenID: "ak_1"}).Context()
	clerkroutetest.WantError(t, clerkroutetest.Invoke(t, h.handle, event(t, key)), 403, "token_type_not_accepted")
}
