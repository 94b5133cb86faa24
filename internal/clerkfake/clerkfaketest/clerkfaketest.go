// Package clerkfaketest starts the Clerk stand-in for tests and has it issue
// machine tokens through its Backend API. It is imported
// by tests only, so the programs that run the stand-in (the local API, the
// benchmarks) do not carry the testing package.
package clerkfaketest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"clerk-lambda/internal/clerkfake"
)

// Start starts a stand-in configured by cfg on a free loopback port and
// closes it when t ends. A stand-in that cannot start fails t.
func Start(t testing.TB, cfg clerkfake.Config) *clerkfake.Server {
	t.Helper()
	s, err := clerkfake.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Issued is a machine token the stand-in created: the token itself and its
// id (for revoking it).
type Issued struct {
	Token string `json:"token"`  // an M2M token
	Key   string `json:"secret"` // an API key
	ID    string `json:"id"`
}

// M2MToken creates a token of machine m through the stand-in's Backend API
// with m's secret key, as a worker would; format is "opaque" or "jwt".
func M2MToken(t testing.TB, s *clerkfake.Server, m clerkfake.Machine, format string, ttl time.Duration) Issued {
	t.Helper()
	return post(t, s, "/m2m_tokens", m.SecretKey, map[string]any{"token_format": format, "seconds_until_expiration": ttl.Seconds()})
}

// APIKey creates an API key for subject (a user_, org_ or mch_ id) through
// the stand-in's Backend API; it never expires.
func APIKey(t testing.TB, s *clerkfake.Server, subject string) Issued {
	t.Helper()
	return post(t, s, "/api_keys", s.SecretKey(), map[string]any{"name": "test", "subject": subject})
}

// Revoke revokes an M2M token ("mt_…") or an API key ("ak_…") by its id.
func Revoke(t testing.TB, s *clerkfake.Server, id string) {
	t.Helper()
	path := "/m2m_tokens/" + id + "/revoke"
	if strings.HasPrefix(id, "ak_") {
		path = "/api_keys/" + id + "/revoke"
	}
	post(t, s, path, s.SecretKey(), map[string]any{"revocation_reason": "test"})
}

func post(t testing.TB, s *clerkfake.Server, path, key string, body map[string]any) Issued {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, s.URL()+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out Issued
	if res.StatusCode/100 != 2 || json.NewDecoder(res.Body).Decode(&out) != nil {
		t.Fatalf("POST %s: status %d", path, res.StatusCode)
	}
	return out
}
