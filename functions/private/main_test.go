package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/shared/identity"
	"clerk-lambda/shared/logging"
	"clerk-lambda/shared/respond"
	"clerk-lambda/shared/settings"
)

func request(ctx map[string]any) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{RouteKey: "GET /private"}
	if ctx != nil {
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: ctx}
	}
	return req
}

func TestPrivate(t *testing.T) {
	t.Parallel()
	h, err := newHandler(settings.Map(nil), logging.New(&bytes.Buffer{}, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	future := float64(time.Now().Add(time.Minute).Unix())
	past := float64(time.Now().Add(-time.Minute).Unix())
	tests := []struct {
		name   string
		ctx    map[string]any
		status int
	}{
		{name: "signed in", ctx: map[string]any{"userId": "user_1", "sessionId": "sess_1", "exp": future, "orgId": "org_1", "orgRole": "org:admin", "claims": `{"plan":"pro"}`}, status: 200},
		{name: "no authorizer context", status: 401},
		{name: "cached authorization outlived the token", ctx: map[string]any{"userId": "user_1", "exp": past}, status: 401},
		{name: "no user", ctx: map[string]any{"exp": future}, status: 401},
		{name: "claims not JSON", ctx: map[string]any{"userId": "user_1", "exp": future, "claims": "{"}, status: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := h.handle(context.Background(), request(tt.ctx))
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (%s)", res.StatusCode, tt.status, res.Body)
			}
			if tt.status == 401 {
				var body respond.ErrorBody
				if json.Unmarshal([]byte(res.Body), &body) != nil || body.Error.Code != "unauthenticated" {
					t.Fatalf("body = %s", res.Body)
				}
				return
			}
			var body struct {
				Identity identity.Identity `json:"identity"`
			}
			if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
				t.Fatal(err)
			}
			id := body.Identity
			if id.UserID != "user_1" || id.SessionID != "sess_1" || id.Org == nil || id.Org.Role != "org:admin" || string(id.Claims) != `{"plan":"pro"}` {
				t.Fatalf("identity = %+v", id)
			}
		})
	}
}

func TestBadSkewStopsStart(t *testing.T) {
	t.Parallel()
	if _, err := newHandler(settings.Map(map[string]string{"CLERK_CLOCK_SKEW": "x"}), logging.New(&bytes.Buffer{}, slog.LevelInfo)); err == nil {
		t.Fatal("a malformed CLERK_CLOCK_SKEW was accepted")
	}
}
