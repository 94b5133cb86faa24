package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
	"clerk-lambda/shared/clerkapi"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/settings"
)

// TestJWKSErrorEchoingTheKeyStaysOutOfTheLog: an endpoint in Clerk's place
// that answers the JWKS request with the request itself, in Clerk's error
// format, puts neither the secret key nor anything but code-like codes in
// the authorizer's log.
func TestJWKSErrorEchoingTheKeyStaysOutOfTheLog(t *testing.T) {
	t.Parallel()
	clerk := clerkfaketest.Start(t, clerkfake.Config{})
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		body, _ := json.Marshal(map[string]any{"errors": []map[string]string{
			{"code": auth, "message": auth, "long_message": auth},
			{"code": "resource_not_found", "message": "\x1b[2J" + auth},
		}, "clerk_trace_id": auth})
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(body)
	}))
	t.Cleanup(echo.Close)
	key := "sk_test_" + strings.Repeat("k", 40)
	var logs bytes.Buffer
	a, err := newAuthorizer(settings.Map(map[string]string{
		"CLERK_API_URL":            echo.URL + "/v1",
		"CLERK_SECRET_KEY":         key,
		"CLERK_PUBLISHABLE_KEY":    clerk.PublishableKey(),
		"CLERK_AUTHORIZED_PARTIES": origin,
	}), logging.New(&logs, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, clerk, clerkfake.TokenParams{UserID: "user_1", AuthorizedParty: origin})
	out, err := invoke(t, a, fixture(t, httpAPIEvent, withHeaders(map[string]any{"authorization": "Bearer " + tok})))
	if err != nil || !bytes.Contains(out, []byte(`"isAuthorized":false`)) {
		t.Fatalf("invoke: %s, %v; want a denial", out, err)
	}
	text := logs.String()
	if want := "answered HTTP 400 [" + clerkapi.WithheldCode + " resource_not_found]"; !strings.Contains(text, want) || !strings.Contains(text, `"reason":"jwks-unavailable"`) {
		t.Fatalf("logs = %s, want jwks-unavailable with %q", text, want)
	}
	for _, leak := range []string{key, "sk_", "Bearer", `\u001b`} {
		if strings.Contains(text, leak) {
			t.Errorf("the log holds %q: %s", leak, text)
		}
	}
}
