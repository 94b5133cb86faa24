package settings

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// testIssuer is the issuer the verifier tests pin.
const testIssuer = "https://example.clerk.accounts.dev"

func pk(prefix, host string) string {
	return prefix + base64.StdEncoding.EncodeToString([]byte(host+"$"))
}

func TestIssuerFromPublishableKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want, wantErr string
	}{
		{in: pk("pk_test_", "sweet-owl-12.clerk.accounts.dev"), want: "https://sweet-owl-12.clerk.accounts.dev"},
		{in: pk("pk_live_", "clerk.example.com"), want: "https://clerk.example.com"},
		{in: strings.TrimRight(pk("pk_live_", "clerk.example.com"), "="), want: "https://clerk.example.com"},
		{in: "sk_test_abc", wantErr: "not a publishable key"},
		{in: "pk_test_!!!", wantErr: "not valid base64"},
		{in: "pk_test_" + base64.StdEncoding.EncodeToString([]byte("no-dollar.example.com")), wantErr: "does not encode"},
		{in: pk("pk_test_", "evil.com/path"), wantErr: "does not encode"},
	}
	for _, tt := range tests {
		got, err := IssuerFromPublishableKey(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestReadVerifier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c Verifier)
		wantErr string
	}{
		{
			name: "defaults with an issuer",
			env:  map[string]string{"CLERK_ISSUER": testIssuer + "/"},
			check: func(t *testing.T, c Verifier) {
				if c.Issuer != testIssuer || c.ClockSkew != 5*time.Second || c.APIURL != DefaultAPIURL || c.IssuerCheckOff {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "issuer derived from the publishable key",
			env:  map[string]string{"CLERK_PUBLISHABLE_KEY": pk("pk_test_", "a.clerk.accounts.dev"), "CLERK_AUTHORIZED_PARTIES": "https://a.example, http://localhost:5173", "CLERK_CLOCK_SKEW": "2s"},
			check: func(t *testing.T, c Verifier) {
				if c.Issuer != "https://a.clerk.accounts.dev" || len(c.AuthorizedParties) != 2 || c.ClockSkew != 2*time.Second {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name:  "a stand-in on loopback over http",
			env:   map[string]string{"CLERK_ISSUER": testIssuer, "CLERK_API_URL": "http://127.0.0.1:4000/v1"},
			check: func(t *testing.T, c Verifier) { checkTrue(t, c.APIURL == "http://127.0.0.1:4000/v1") },
		},
		{
			name:  "issuer check off",
			env:   map[string]string{"CLERK_ISSUER_CHECK": "off"},
			check: func(t *testing.T, c Verifier) { checkTrue(t, c.IssuerCheckOff) },
		},
		{name: "no issuer", env: map[string]string{}, wantErr: "CLERK_ISSUER or CLERK_PUBLISHABLE_KEY must be set"},
		{name: "bad publishable key", env: map[string]string{"CLERK_PUBLISHABLE_KEY": "pk_nope"}, wantErr: "CLERK_PUBLISHABLE_KEY: not a publishable key"},
		{name: "bad skew", env: map[string]string{"CLERK_ISSUER": testIssuer, "CLERK_CLOCK_SKEW": "five"}, wantErr: "CLERK_CLOCK_SKEW: not a duration"},
		{name: "huge skew", env: map[string]string{"CLERK_ISSUER": testIssuer, "CLERK_CLOCK_SKEW": "1h"}, wantErr: "CLERK_CLOCK_SKEW: must be at most 5m"},
		{name: "bad issuer", env: map[string]string{"CLERK_ISSUER": "clerk.example.com"}, wantErr: "CLERK_ISSUER: must be an http(s) URL"},
		{name: "bad api url", env: map[string]string{"CLERK_ISSUER": testIssuer, "CLERK_API_URL": "ftp://x"}, wantErr: "CLERK_API_URL: must be an http(s) URL"},
		{name: "api url in clear text", env: map[string]string{"CLERK_ISSUER": testIssuer, "CLERK_API_URL": "http://api.clerk.com/v1"}, wantErr: "CLERK_API_URL: must use https"},
		{name: "bad party", env: map[string]string{"CLERK_ISSUER": testIssuer, "CLERK_AUTHORIZED_PARTIES": "app.example.com"}, wantErr: "CLERK_AUTHORIZED_PARTIES"},
		{name: "bad issuer check", env: map[string]string{"CLERK_ISSUER_CHECK": "maybe"}, wantErr: "CLERK_ISSUER_CHECK: must be on or off"},
		{name: "bad pending flag", env: map[string]string{"CLERK_ISSUER": testIssuer, "CLERK_ALLOW_PENDING_SESSIONS": "perhaps"}, wantErr: "CLERK_ALLOW_PENDING_SESSIONS: not a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ReadVerifier(Map(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func checkTrue(t *testing.T, b bool) {
	t.Helper()
	if !b {
		t.Error("want true")
	}
}

// TestCheckAPIURLRefusesLookalikes: plain http reaches only this machine,
// however the URL is dressed up.
func TestCheckAPIURLRefusesLookalikes(t *testing.T) {
	t.Parallel()
	for raw, ok := range map[string]bool{
		"https://api.clerk.com/v1":            true,
		"http://127.0.0.1:4000/v1":            true,
		"http://localhost:4000/v1":            true,
		"http://[::1]:4000/v1":                true,
		"http://host.docker.internal:4000/v1": true,
		"http://127.0.0.1.evil.com/v1":        false,
		"http://localhost@evil.com/v1":        false,
		"http://user:pw@127.0.0.1/v1":         false,
		"HTTP://evil.com/v1":                  false,
		"http://evil.com/v1#@127.0.0.1":       false,
		"http://127.0.0.1/v1?x=1":             false,
		"http://[::1%25eth0]/v1":              false,
		"ftp://127.0.0.1/v1":                  false,
		"//127.0.0.1/v1":                      false,
		"http://localhost.evil.com/v1":        false,
	} {
		if err := CheckAPIURL(raw); (err == nil) != ok {
			t.Errorf("CheckAPIURL(%q) = %v, want ok %v", raw, err, ok)
		}
	}
}
