package clerkfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/m2m_token"
	"github.com/clerk/clerk-sdk-go/v2/machine"
	jose "github.com/go-jose/go-jose/v3"

	"clerk-lambda/internal/clerkfake"
	"clerk-lambda/internal/clerkfake/clerkfaketest"
)

// sdkConfig is clerk-sdk-go's configuration for the stand-in with key.
func sdkConfig(s *clerkfake.Server, key string) *clerk.ClientConfig {
	return &clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
		Key: clerk.String(key), URL: clerk.String(s.URL()), HTTPClient: &http.Client{Timeout: 5 * time.Second},
	}}
}

// apiStatus is the HTTP status of a clerk-sdk-go error, or 0.
func apiStatus(err error) int {
	var apiErr *clerk.APIErrorResponse
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatusCode
	}
	return 0
}

var (
	machineID   = regexp.MustCompile(`^mch_\w{27}$`)
	m2mID       = regexp.MustCompile(`^mt_[0-9a-f]{32}$`)
	opaqueToken = regexp.MustCompile(`^mt_[0-9A-Za-z]{32}$`)
)

func TestMachinesThroughTheSDK(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := clerkfaketest.Start(t, clerkfake.Config{Now: func() time.Time { return fixedNow }})
	worker, err := s.AddMachine("worker")
	if err != nil {
		t.Fatal(err)
	}
	if !machineID.MatchString(worker.ID) || !strings.HasPrefix(worker.SecretKey, "ak_") {
		t.Fatalf("AddMachine = %+v, want an mch_ id and an ak_ secret key", worker)
	}
	client := machine.NewClient(sdkConfig(s, s.SecretKey()))
	created, err := client.Create(ctx, &machine.CreateParams{Name: "api", ScopedMachines: []string{worker.ID}, DefaultTokenTTL: clerk.Int64(60)})
	if err != nil {
		t.Fatal(err)
	}
	if !machineID.MatchString(created.ID) || created.SecretKey == "" || created.DefaultTokenTTL != 60 ||
		created.CreatedAt != fixedNow.UnixMilli() || len(created.ScopedMachines) != 1 || created.ScopedMachines[0].ID != worker.ID {
		t.Errorf("created %+v", created)
	}
	got, err := client.Get(ctx, created.ID)
	if err != nil || got.Name != "api" || got.ID != created.ID || len(got.ScopedMachines) != 1 {
		t.Errorf("Get = %+v, %v", got, err)
	}
	secret, err := client.GetSecretKey(ctx, created.ID)
	if err != nil || secret.Object != "machine_secret_key" || secret.Secret != created.SecretKey {
		t.Errorf("GetSecretKey = %+v, %v; want the key Create answered", secret, err)
	}
	if _, err := client.Get(ctx, "mch_nobody"); apiStatus(err) != http.StatusNotFound {
		t.Errorf("Get of an unknown machine: %v, want 404", err)
	}
	if _, err := client.Create(ctx, &machine.CreateParams{Name: "x", ScopedMachines: []string{"mch_nobody"}}); apiStatus(err) != http.StatusUnprocessableEntity {
		t.Errorf("Create scoped to an unknown machine: %v, want 422", err)
	}
	if _, err := s.AddMachine(""); err == nil {
		t.Error("AddMachine with no name succeeded")
	}
}

func TestM2MTokenLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := &clock{now: fixedNow}
	s := clerkfaketest.Start(t, clerkfake.Config{Now: c.Now})
	api, _ := s.AddMachine("api")
	worker, err := s.AddMachine("worker", api.ID)
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := s.AddMachine("stranger")

	claims := json.RawMessage(`{"job":"export"}`)
	tok, err := m2m_token.NewClient(sdkConfig(s, worker.SecretKey)).Create(ctx, &m2m_token.CreateParams{
		SecondsUntilExpiration: clerk.Int64(600), Claims: &claims,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !opaqueToken.MatchString(tok.Token) || !m2mID.MatchString(tok.ID) || tok.Subject != worker.ID ||
		!slices.Equal(tok.Scopes, []string{api.ID}) || *tok.Expiration != fixedNow.Add(10*time.Minute).UnixMilli() {
		t.Fatalf("created %+v", tok)
	}

	instance := m2m_token.NewClient(sdkConfig(s, s.SecretKey()))
	v, err := instance.Verify(ctx, &m2m_token.VerifyParams{Token: tok.Token})
	if err != nil || v.ID != tok.ID || v.Revoked || v.Expired || string(v.Claims) != string(claims) || v.LastUsedAt == nil {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
	// The machine it was made for may verify it; a machine outside its scopes may not.
	if _, err := m2m_token.NewClient(sdkConfig(s, api.SecretKey)).Verify(ctx, &m2m_token.VerifyParams{Token: tok.Token}); err != nil {
		t.Errorf("Verify by a scoped machine: %v", err)
	}
	if _, err := m2m_token.NewClient(sdkConfig(s, stranger.SecretKey)).Verify(ctx, &m2m_token.VerifyParams{Token: tok.Token}); apiStatus(err) != http.StatusNotFound {
		t.Errorf("Verify by an unscoped machine: %v, want 404", err)
	}
	if _, err := m2m_token.NewClient(sdkConfig(s, stranger.SecretKey)).Revoke(ctx, tok.ID, &m2m_token.RevokeParams{}); apiStatus(err) != http.StatusNotFound {
		t.Errorf("Revoke by another machine: %v, want 404", err)
	}

	c.Add(10 * time.Minute)
	if v, err := instance.Verify(ctx, &m2m_token.VerifyParams{Token: tok.Token}); err != nil || !v.Expired || v.Revoked {
		t.Errorf("Verify at expiry = %+v, %v; want expired", v, err)
	}
	revoked, err := instance.Revoke(ctx, tok.ID, &m2m_token.RevokeParams{RevocationReason: clerk.String("rotated")})
	if err != nil || !revoked.Revoked || *revoked.RevocationReason != "rotated" || revoked.UpdatedAt != c.Now().UnixMilli() {
		t.Fatalf("Revoke = %+v, %v", revoked, err)
	}
	if v, err := instance.Verify(ctx, &m2m_token.VerifyParams{Token: tok.Token}); err != nil || !v.Revoked || *v.RevocationReason != "rotated" {
		t.Errorf("Verify after Revoke = %+v, %v; want revoked", v, err)
	}
	if _, err := instance.Verify(ctx, &m2m_token.VerifyParams{Token: "mt_" + strings.Repeat("x", 32)}); apiStatus(err) != http.StatusNotFound {
		t.Errorf("Verify of an unknown token: %v, want 404", err)
	}
	if _, err := instance.Revoke(ctx, "mt_"+strings.Repeat("0", 32), &m2m_token.RevokeParams{}); apiStatus(err) != http.StatusNotFound {
		t.Errorf("Revoke of an unknown token: %v, want 404", err)
	}
}

// TestM2MTokenTakesTheMachinesDefaultTTL: without seconds_until_expiration,
// a token lives as long as its machine's default_token_ttl.
func TestM2MTokenTakesTheMachinesDefaultTTL(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{Now: func() time.Time { return fixedNow }})
	worker, _ := s.AddMachine("worker")
	tok, err := m2m_token.NewClient(sdkConfig(s, worker.SecretKey)).Create(context.Background(), &m2m_token.CreateParams{})
	if err != nil || tok.Expiration == nil || *tok.Expiration != fixedNow.Add(time.Hour).UnixMilli() {
		t.Fatalf("Create = %+v, %v; want an expiration one hour on", tok, err)
	}
}

// TestMachineAuthNeedsTheRightKey: every endpoint refuses a missing or
// unknown key with 401, as the users' endpoints do; creating an M2M token
// takes a machine's key only, and the instance's endpoints refuse one.
func TestMachineAuthNeedsTheRightKey(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	worker, _ := s.AddMachine("worker")
	for _, path := range []string{"/machines", "/m2m_tokens", "/m2m_tokens/verify", "/m2m_tokens/mt_" + strings.Repeat("0", 32) + "/revoke",
		"/api_keys", "/api_keys/verify", "/api_keys/ak_" + strings.Repeat("0", 32) + "/revoke", "/oauth_applications/access_tokens/verify"} {
		wantError(t, post(t, s, path, "", map[string]any{}), http.StatusUnauthorized, "authentication_invalid")
		wantError(t, post(t, s, path, "ak_wrong", map[string]any{}), http.StatusUnauthorized, "clerk_key_invalid")
	}
	wantError(t, post(t, s, "/m2m_tokens", s.SecretKey(), map[string]any{}), http.StatusUnauthorized, "authentication_invalid")
	for _, path := range []string{"/machines", "/api_keys/verify", "/oauth_applications/access_tokens/verify"} {
		wantError(t, post(t, s, path, worker.SecretKey, map[string]any{}), http.StatusUnauthorized, "clerk_key_invalid")
	}
	wantError(t, get(t, s, "/machines/"+worker.ID, worker.SecretKey), http.StatusUnauthorized, "clerk_key_invalid")
	wantError(t, get(t, s, "/users", worker.SecretKey), http.StatusUnauthorized, "clerk_key_invalid")
}

func TestMachineAuthRefusesBadBodies(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{})
	worker, _ := s.AddMachine("worker")
	tests := []struct {
		name, path, key string
		body            any
		status          int
		code            string
	}{
		{"unknown property", "/m2m_tokens", worker.SecretKey, map[string]any{"ttl": 5}, 400, "malformed_request"},
		{"zero lifetime", "/m2m_tokens", worker.SecretKey, map[string]any{"seconds_until_expiration": 0}, 400, "form_param_value_invalid"},
		{"unknown format", "/m2m_tokens", worker.SecretKey, map[string]any{"token_format": "paseto"}, 400, "form_param_value_invalid"},
		{"jwt claims not an object", "/m2m_tokens", worker.SecretKey, map[string]any{"token_format": "jwt", "claims": []int{1}}, 400, "form_param_value_invalid"},
		{"no token", "/m2m_tokens/verify", s.SecretKey(), map[string]any{}, 400, "form_param_missing"},
		{"machine without a name", "/machines", s.SecretKey(), map[string]any{"name": ""}, 422, "form_param_value_invalid"},
		{"api key without a subject", "/api_keys", s.SecretKey(), map[string]any{"name": "ci key"}, 400, "form_param_value_invalid"},
		{"api key with a short name", "/api_keys", s.SecretKey(), map[string]any{"name": "k", "subject": "user_1"}, 400, "form_param_value_invalid"},
		{"no secret", "/api_keys/verify", s.SecretKey(), map[string]any{}, 400, "form_param_missing"},
		{"no access token", "/oauth_applications/access_tokens/verify", s.SecretKey(), map[string]any{}, 400, "form_param_missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, post(t, s, tt.path, tt.key, tt.body), tt.status, tt.code)
		})
	}
}

// TestM2MJWTVerifiesAgainstTheJWKS: a JWT-format token is signed with the
// key the JWKS serves and carries what Clerk's SDKs read from one.
func TestM2MJWTVerifiesAgainstTheJWKS(t *testing.T) {
	t.Parallel()
	s := clerkfaketest.Start(t, clerkfake.Config{Now: func() time.Time { return fixedNow }})
	api, _ := s.AddMachine("api")
	worker, _ := s.AddMachine("worker", api.ID)
	r := post(t, s, "/m2m_tokens", worker.SecretKey, map[string]any{
		"token_format": "jwt", "seconds_until_expiration": 120, "claims": map[string]any{"job": "export", "sub": "user_forged"},
	})
	var created struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(r.body, &created); err != nil || r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	jws, err := jose.ParseSigned(created.Token)
	if err != nil {
		t.Fatal(err)
	}
	header := jws.Signatures[0].Protected
	if header.Algorithm != "RS256" || header.KeyID != s.KeyID() || header.ExtraHeaders["cat"] != "cl_B7d4PD333AAA" || header.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("header %+v", header)
	}
	var set jose.JSONWebKeySet
	decode(t, get(t, s, "/jwks", s.SecretKey()), &set)
	keys := set.Key(header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("the JWKS has %d keys with kid %s, want 1", len(keys), header.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("the token does not verify with the JWKS key: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"iss": s.Issuer(), "sub": worker.ID, "jti": created.ID, "scopes": api.ID, "job": "export",
		"iat": float64(fixedNow.Unix()), "nbf": float64(fixedNow.Unix()), "exp": float64(fixedNow.Unix() + 120),
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if len(claims) != len(want) {
		t.Errorf("claims %v, want exactly %v", claims, want)
	}
	// A JWT is not stored: it cannot be revoked.
	wantError(t, post(t, s, "/m2m_tokens/"+created.ID+"/revoke", s.SecretKey(), map[string]any{}), http.StatusNotFound, "resource_not_found")
}

// apiKey is the part of an API key's JSON the tests read.
type apiKey struct {
	ID               string   `json:"id"`
	Secret           string   `json:"secret"`
	Subject          string   `json:"subject"`
	Scopes           []string `json:"scopes"`
	Revoked          bool     `json:"revoked"`
	RevocationReason *string  `json:"revocation_reason"`
	Expired          bool     `json:"expired"`
	Expiration       *int64   `json:"expiration"`
}

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	c := &clock{now: fixedNow}
	s := clerkfaketest.Start(t, clerkfake.Config{Now: c.Now})
	var key apiKey
	decode(t, post(t, s, "/api_keys", s.SecretKey(), map[string]any{
		"name": "ci key", "subject": "user_ada", "scopes": []string{"read"}, "seconds_until_expiration": 60,
	}), &key)
	if !regexp.MustCompile(`^ak_[0-9A-Za-z]{32}$`).MatchString(key.Secret) || !regexp.MustCompile(`^ak_[0-9a-f]{32}$`).MatchString(key.ID) ||
		*key.Expiration != fixedNow.Add(time.Minute).UnixMilli() {
		t.Fatalf("created %+v", key)
	}
	var v apiKey
	decode(t, post(t, s, "/api_keys/verify", s.SecretKey(), map[string]string{"secret": key.Secret}), &v)
	if v.ID != key.ID || v.Secret != "" || v.Subject != "user_ada" || !slices.Equal(v.Scopes, []string{"read"}) || v.Revoked || v.Expired {
		t.Fatalf("verified %+v", v)
	}
	c.Add(time.Minute)
	decode(t, post(t, s, "/api_keys/verify", s.SecretKey(), map[string]string{"secret": key.Secret}), &v)
	if !v.Expired {
		t.Errorf("verified at expiry %+v, want expired", v)
	}
	decode(t, post(t, s, "/api_keys/"+key.ID+"/revoke", s.SecretKey(), map[string]string{"revocation_reason": "leaked"}), &v)
	if !v.Revoked || *v.RevocationReason != "leaked" {
		t.Errorf("revoked %+v", v)
	}
	decode(t, post(t, s, "/api_keys/verify", s.SecretKey(), map[string]string{"secret": key.Secret}), &v)
	if !v.Revoked {
		t.Errorf("verified after revoking %+v, want revoked", v)
	}
	wantError(t, post(t, s, "/api_keys/verify", s.SecretKey(), map[string]string{"secret": "ak_unknown"}), http.StatusNotFound, "resource_not_found")
	wantError(t, post(t, s, "/api_keys/ak_"+strings.Repeat("0", 32)+"/revoke", s.SecretKey(), map[string]any{}), http.StatusNotFound, "resource_not_found")
}

func TestOAuthAccessTokens(t *testing.T) {
	t.Parallel()
	c := &clock{now: fixedNow}
	s := clerkfaketest.Start(t, clerkfake.Config{Now: c.Now})
	token, err := s.IssueOAuthToken("user_alice", "client_dev", []string{"profile", "email"}, time.Hour)
	if err != nil || !regexp.MustCompile(`^oat_[0-9A-Za-z]{32}$`).MatchString(token) {
		t.Fatalf("IssueOAuthToken = %q, %v", token, err)
	}
	var v struct {
		Object     string   `json:"object"`
		ID         string   `json:"id"`
		ClientID   string   `json:"client_id"`
		Subject    string   `json:"subject"`
		Scopes     []string `json:"scopes"`
		Expired    bool     `json:"expired"`
		Expiration int64    `json:"expiration"`
		CreatedAt  int64    `json:"created_at"`
	}
	decode(t, post(t, s, "/oauth_applications/access_tokens/verify", s.SecretKey(), map[string]string{"access_token": token}), &v)
	if v.Object != "clerk_idp_oauth_access_token" || !regexp.MustCompile(`^oat_[0-9a-f]{32}$`).MatchString(v.ID) || v.ClientID != "client_dev" ||
		v.Subject != "user_alice" || !slices.Equal(v.Scopes, []string{"profile", "email"}) || v.Expired ||
		v.Expiration != fixedNow.Add(time.Hour).Unix() || v.CreatedAt != fixedNow.Unix() {
		t.Fatalf("verified %+v", v)
	}
	c.Add(time.Hour)
	decode(t, post(t, s, "/oauth_applications/access_tokens/verify", s.SecretKey(), map[string]string{"secret": token}), &v)
	if !v.Expired {
		t.Errorf("verified (by the deprecated secret) at expiry %+v, want expired", v)
	}
	wantError(t, post(t, s, "/oauth_applications/access_tokens/verify", s.SecretKey(), map[string]string{"access_token": "oat_unknown"}),
		http.StatusNotFound, "resource_not_found")
	for _, bad := range []struct {
		user, client string
		ttl          time.Duration
	}{{"org_1", "client_dev", time.Hour}, {"user_1", "", time.Hour}, {"user_1", "client_dev", 0}} {
		if _, err := s.IssueOAuthToken(bad.user, bad.client, nil, bad.ttl); err == nil {
			t.Errorf("IssueOAuthToken(%q, %q, %v) succeeded", bad.user, bad.client, bad.ttl)
		}
	}
}
