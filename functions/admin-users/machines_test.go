package main

import (
	"bytes"
	"log/slog"
	"testing"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/shared/clerkroute/clerkroutetest"
	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/settings"
)

const (
	adminMachine = "mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk"
	otherMachine = "mch_2yGkLpQ7Y3rXSwtU24CzTk9I7Em"
)

// Machines call /admin/users with an M2M token of ADMIN_MACHINES, or with an
// admin user's API key; no other machine token makes an admin.
func TestMachineCallers(t *testing.T) {
	t.Parallel()
	fake, ada := directory(t) // Ada's public metadata role is admin
	plain := fake.AddUser(clerkfake.User{FirstName: "Plain"})
	vars := clerkroutetest.Env(fake)
	vars[settings.AdminMachinesName] = adminMachine
	h, err := newHandler(settings.Map(vars), logging.New(&bytes.Buffer{}, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	caller := func(t identity.TokenType, subject string) map[string]any {
		id := &identity.Identity{TokenType: t, Subject: subject, TokenID: "tok_1"}
		if t != identity.M2MToken && subject[:5] == "user_" {
			id.UserID = subject
		}
		return id.Context()
	}
	tests := []struct {
		name   string
		auth   map[string]any
		status int
		code   string
	}{
		{"an allowed machine", caller(identity.M2MToken, adminMachine), 200, ""},
		{"another machine", caller(identity.M2MToken, otherMachine), 403, "forbidden"},
		{"an admin's API key", caller(identity.APIKey, ada.ID), 200, ""},
		{"a plain user's API key", caller(identity.APIKey, plain.ID), 403, "forbidden"},
		{"a deleted user's API key", caller(identity.APIKey, "user_gone"), 403, "forbidden"},
		{"an allowed machine's API key", caller(identity.APIKey, adminMachine), 403, "forbidden"},
		{"an organization's API key", caller(identity.APIKey, "org_1"), 403, "forbidden"},
		{"an admin's OAuth token", caller(identity.OAuthToken, ada.ID), 403, "token_type_not_accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := clerkroutetest.Invoke(t, h.handle, request(t, tt.auth, "", nil))
			if tt.code != "" {
				clerkroutetest.WantError(t, res, tt.status, tt.code)
			} else if res.StatusCode != tt.status {
				t.Errorf("status %d, want %d: %s", res.StatusCode, tt.status, res.Body)
			}
		})
	}
	// A script calling with its key again: its user is not looked up again.
	before := fake.Requests("/v1/users/" + ada.ID)
	for range 3 {
		if res := clerkroutetest.Invoke(t, h.handle, request(t, caller(identity.APIKey, ada.ID), "", nil)); res.StatusCode != 200 {
			t.Fatalf("an admin's API key again: %d", res.StatusCode)
		}
	}
	if n := fake.Requests("/v1/users/" + ada.ID); n != before || n != 1 {
		t.Errorf("the key's user was looked up %d times in all, want once", n)
	}
	if _, err := newHandler(settings.Map(map[string]string{"CLERK_SECRET_KEY": "sk_test_x", settings.AdminMachinesName: "user_1"}),
		logging.New(&bytes.Buffer{}, slog.LevelInfo)); err == nil {
		t.Error("ADMIN_MACHINES naming a user was accepted")
	}
}
