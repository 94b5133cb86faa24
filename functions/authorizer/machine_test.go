package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
)

// authorize sends token in the HTTP API event and returns the answer and
// the decision's log line.
func authorize(t *testing.T, a *authorizer, logs *bytes.Buffer, token string) (events.APIGatewayV2CustomAuthorizerSimpleResponse, map[string]any) {
	t.Helper()
	logs.Reset()
	out, err := invoke(t, a, fixture(t, httpAPIEvent, withHeaders(map[string]any{"authorization": "Bearer " + token})))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var res events.APIGatewayV2CustomAuthorizerSimpleResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), token) {
		t.Fatal("a token was logged")
	}
	return res, decisionLine(t, logs)
}

// Each type is accepted with its caller in the context, and refused for
// its reason.
func TestMachineTokensThroughTheStandIn(t *testing.T) {
	t.Parallel()
	clerk, a, logs := setupWith(t, map[string]string{"CLERK_ACCEPTED_TOKENS": "session_token,m2m_token,api_key,oauth_token"})
	worker, err := clerk.AddMachine("worker")
	if err != nil {
		t.Fatal(err)
	}
	m2m := clerkfaketest.M2MToken(t, clerk, worker, "opaque", time.Hour)
	m2mJWT := clerkfaketest.M2MToken(t, clerk, worker, "jwt", time.Hour)
	userKey := clerkfaketest.APIKey(t, clerk, "user_ada")
	orgKey := clerkfaketest.APIKey(t, clerk, "org_acme")
	oauth, err := clerk.IssueOAuthToken("user_alice", "client_app", []string{"profile", "email"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	session := mint(t, clerk, clerkfake.TokenParams{UserID: "user_1", AuthorizedParty: origin})
	for name, c := range map[string]struct {
		token string
		want  map[string]any
	}{
		"session":      {session, map[string]any{"userId": "user_1"}},
		"m2m opaque":   {m2m.Token, map[string]any{"userId": "", "tokenType": "m2m_token", "subject": worker.ID, "tokenId": m2m.ID}},
		"m2m jwt":      {m2mJWT.Token, map[string]any{"userId": "", "tokenType": "m2m_token", "subject": worker.ID}},
		"user api key": {userKey.Key, map[string]any{"userId": "user_ada", "tokenType": "api_key", "subject": "user_ada", "tokenId": userKey.ID}},
		"org api key":  {orgKey.Key, map[string]any{"userId": "", "tokenType": "api_key", "subject": "org_acme"}},
		"oauth":        {oauth, map[string]any{"userId": "user_alice", "tokenType": "oauth_token", "subject": "user_alice", "scopes": "profile,email"}},
	} {
		res, line := authorize(t, a, logs, c.token)
		if !res.IsAuthorized {
			t.Errorf("%s: denied (%v)", name, line["reason"])
			continue
		}
		for k, v := range c.want {
			if res.Context[k] != v {
				t.Errorf("%s: context[%s] = %v, want %v", name, k, res.Context[k], v)
			}
		}
		assertFlat(t, res.Context)
	}

	clerkfaketest.Revoke(t, clerk, userKey.ID)
	revokedKey := clerkfaketest.APIKey(t, clerk, "user_bob")
	clerkfaketest.Revoke(t, clerk, revokedKey.ID)
	expiring := clerkfaketest.M2MToken(t, clerk, worker, "opaque", time.Second)
	time.Sleep(1100 * time.Millisecond)
	for name, c := range map[string]struct{ token, reason string }{
		"revoked":   {revokedKey.Key, "token-revoked"},
		"expired":   {expiring.Token, "token-expired"},
		"unknown":   {"mt_" + strings.Repeat("0a", 16), "token-invalid"},
		"malformed": {"ak_" + strings.Repeat("!", 32), "token-malformed"},
	} {
		if res, line := authorize(t, a, logs, c.token); res.IsAuthorized || line["reason"] != c.reason {
			t.Errorf("%s: authorized %v, reason %v; want %s", name, res.IsAuthorized, line["reason"], c.reason)
		}
	}
}

// With the default CLERK_ACCEPTED_TOKENS, machine tokens are refused for
// their type, and Clerk is not asked about them.
func TestMachineTokensNotAcceptedByDefault(t *testing.T) {
	t.Parallel()
	clerk, a, logs := setup(t)
	worker, err := clerk.AddMachine("worker")
	if err != nil {
		t.Fatal(err)
	}
	m2m := clerkfaketest.M2MToken(t, clerk, worker, "opaque", time.Hour)
	m2mJWT := clerkfaketest.M2MToken(t, clerk, worker, "jwt", time.Hour)
	key := clerkfaketest.APIKey(t, clerk, "user_ada")
	verifications := func() int {
		return clerk.Requests("/v1/m2m_tokens/verify") + clerk.Requests("/v1/api_keys/verify") +
			clerk.Requests("/v1/oauth_applications/access_tokens/verify")
	}
	for _, tok := range []string{m2m.Token, key.Key, "oat_" + strings.Repeat("a", 32)} {
		if res, line := authorize(t, a, logs, tok); res.IsAuthorized || line["reason"] != "token-type-not-accepted" {
			t.Errorf("%.6s…: authorized %v, reason %v", tok, res.IsAuthorized, line["reason"])
		}
	}
	if n := verifications(); n != 0 {
		t.Errorf("refusing opaque tokens of types not accepted made %d requests to Clerk", n)
	}
	if res, line := authorize(t, a, logs, m2mJWT.Token); res.IsAuthorized || line["reason"] != "token-type-not-accepted" {
		t.Errorf("an M2M JWT: authorized %v, reason %v", res.IsAuthorized, line["reason"])
	}
}

// A revoked opaque token is refused once the machine-token cache lets go
// of it, and the REST shapes name the machine as the principal.
func TestRevokedTokenWithinTheCacheTTL(t *testing.T) {
	t.Parallel()
	clerk, a, logs := setupWith(t, map[string]string{"CLERK_ACCEPTED_TOKENS": "m2m_token", "CLERK_MACHINE_TOKEN_CACHE_TTL": "1s"})
	worker, err := clerk.AddMachine("worker")
	if err != nil {
		t.Fatal(err)
	}
	tok := clerkfaketest.M2MToken(t, clerk, worker, "opaque", time.Hour)
	if res, _ := authorize(t, a, logs, tok.Token); !res.IsAuthorized {
		t.Fatal("a fresh M2M token was denied")
	}
	out, err := invoke(t, a, fixture(t, restToken, func(e map[string]any) { e["authorizationToken"] = "Bearer " + tok.Token }))
	var policy events.APIGatewayCustomAuthorizerResponse
	if err != nil || json.Unmarshal(out, &policy) != nil || policy.PrincipalID != worker.ID {
		t.Errorf("REST TOKEN event: principal %q, %v", policy.PrincipalID, err)
	}
	clerkfaketest.Revoke(t, clerk, tok.ID)
	if res, _ := authorize(t, a, logs, tok.Token); !res.IsAuthorized {
		t.Error("within the cache TTL the revoked token is still the cached answer, and should be")
	}
	time.Sleep(1100 * time.Millisecond)
	if res, line := authorize(t, a, logs, tok.Token); res.IsAuthorized || line["reason"] != "token-revoked" {
		t.Errorf("after the TTL: authorized %v, reason %v; want token-revoked", res.IsAuthorized, line["reason"])
	}
}
