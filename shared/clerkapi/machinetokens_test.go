package clerkapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkapi"
)

// Each kind of machine token verifies against the stand-in in the
// specification's shapes, and one Clerk does not know is ErrNotFound.
func TestVerifyMachineTokens(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	c := client(t, s, nil)
	ctx := context.Background()
	worker, err := s.AddMachine("worker")
	if err != nil {
		t.Fatal(err)
	}
	m2m := clerkfaketest.M2MToken(t, s, worker, "opaque", time.Hour)
	got, err := c.VerifyM2MToken(ctx, m2m.Token)
	if err != nil || got.ID != m2m.ID || got.Subject != worker.ID || got.Revoked || got.Expired ||
		got.Expiration.Before(time.Now().Add(59*time.Minute)) || got.Expiration.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("M2M token: %+v, %v", got, err)
	}
	key := clerkfaketest.APIKey(t, s, "user_ada")
	if got, err := c.VerifyAPIKey(ctx, key.Key); err != nil || got.ID != key.ID || got.Subject != "user_ada" || !got.Expiration.IsZero() {
		t.Errorf("API key: %+v, %v", got, err)
	}
	oauth, err := s.IssueOAuthToken("user_alice", "client_app", []string{"profile"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.VerifyOAuthToken(ctx, oauth); err != nil || got.Subject != "user_alice" ||
		got.Expiration.Before(time.Now().Add(59*time.Minute)) || got.Expiration.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("OAuth token: %+v, %v", got, err)
	}
	for name, verify := range map[string]func(context.Context, string) (*clerkapi.VerifiedToken, error){
		"m2m": c.VerifyM2MToken, "api key": c.VerifyAPIKey, "oauth": c.VerifyOAuthToken,
	} {
		if _, err := verify(ctx, "xx_"+strings.Repeat("0", 32)); !errors.Is(err, clerkapi.ErrNotFound) {
			t.Errorf("%s: an unknown token: %v, want ErrNotFound", name, err)
		}
	}
}

// An answer outside the shapes Clerk documents is refused, whatever sent
// it, and times read right in milliseconds and in seconds.
func TestVerifiedTokenAnswersAreChecked(t *testing.T) {
	t.Parallel()
	expires := time.Now().Add(time.Hour).Truncate(time.Second)
	answer := func(body map[string]any) *clerkapi.Client {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(body)
		}))
		t.Cleanup(srv.Close)
		c, err := clerkapi.New(clerkapi.Config{URL: srv.URL, SecretKey: func(context.Context) (string, error) { return "sk_test_x", nil }})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	key := func(edit func(map[string]any)) map[string]any {
		b := map[string]any{"object": "api_key", "id": "ak_" + strings.Repeat("a", 32), "subject": "user_1",
			"scopes": []string{"read"}, "expiration": expires.UnixMilli()}
		edit(b)
		return b
	}
	ctx := context.Background()
	if got, err := answer(key(func(map[string]any) {})).VerifyAPIKey(ctx, "ak_x"); err != nil || !got.Expiration.Equal(expires) {
		t.Errorf("milliseconds: %+v, %v", got, err)
	}
	if got, err := answer(key(func(b map[string]any) { b["expiration"] = expires.Unix() })).VerifyAPIKey(ctx, "ak_x"); err != nil || !got.Expiration.Equal(expires) {
		t.Errorf("seconds: %+v, %v", got, err)
	}
	many := make([]string, 65)
	for i := range many {
		many[i] = fmt.Sprint("s", i)
	}
	for name, edit := range map[string]func(map[string]any){
		"another object":       func(b map[string]any) { b["object"] = "user" },
		"a malformed id":       func(b map[string]any) { b["id"] = "ak_1" },
		"a subject of no kind": func(b map[string]any) { b["subject"] = "usr_1" },
		"a scope with a comma": func(b map[string]any) { b["scopes"] = []string{"read,admin"} },
		"too many scopes":      func(b map[string]any) { b["scopes"] = many },
	} {
		if got, err := answer(key(edit)).VerifyAPIKey(ctx, "ak_x"); err == nil {
			t.Errorf("%s: accepted as %+v", name, got)
		}
	}
}
