package clerkauth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"clerk-lambda/shared/envvar"
	"clerk-lambda/shared/identity"
)

// DefaultAPIURL is Clerk's Backend API.
const DefaultAPIURL = "https://api.clerk.com/v1"

// Config is what a Verifier checks tokens against. ConfigFromEnv builds it from
// the settings in the README; tests build it directly.
type Config struct {
	// JWTKey is the instance's PEM public key (CLERK_JWT_KEY). When set, tokens
	// are verified without any network call and the JWKS is never fetched.
	JWTKey string
	// Issuer is the exact expected "iss". Empty only when IssuerCheckOff.
	Issuer string
	// IssuerCheckOff disables the issuer check (CLERK_ISSUER_CHECK=off).
	IssuerCheckOff bool
	// AuthorizedParties are the origins allowed as "azp". When not empty, a
	// token without "azp" is rejected.
	AuthorizedParties []string
	// ClockSkew is the leeway on exp, nbf and iat (CLERK_CLOCK_SKEW, default 5s).
	ClockSkew time.Duration
	// AllowPendingSessions accepts tokens whose "sts" is "pending"
	// (CLERK_ALLOW_PENDING_SESSIONS); they are rejected by default.
	AllowPendingSessions bool
	// APIURL is the Backend API base URL, for the JWKS (CLERK_API_URL).
	APIURL string
}

// ConfigFromEnv reads the verifier's settings. A missing or malformed setting
// is an error naming the variable.
func ConfigFromEnv(get envvar.Lookup) (Config, error) {
	cfg := Config{
		JWTKey:            envvar.String(get, "CLERK_JWT_KEY", ""),
		AuthorizedParties: envvar.List(get, "CLERK_AUTHORIZED_PARTIES"),
		APIURL:            envvar.String(get, "CLERK_API_URL", DefaultAPIURL),
	}
	var err error
	if cfg.ClockSkew, err = identity.LeewayFromEnv(get); err != nil {
		return Config{}, err
	}
	if cfg.AllowPendingSessions, err = envvar.Bool(get, "CLERK_ALLOW_PENDING_SESSIONS", false); err != nil {
		return Config{}, err
	}
	if err := checkAPIURL(cfg.APIURL); err != nil {
		return Config{}, err
	}
	if err := checkOrigins(cfg.AuthorizedParties); err != nil {
		return Config{}, err
	}
	if cfg.Issuer, cfg.IssuerCheckOff, err = issuerFromEnv(get); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// issuerFromEnv pins the issuer: CLERK_ISSUER, else the one derived from
// CLERK_PUBLISHABLE_KEY, else nothing only when CLERK_ISSUER_CHECK=off.
func issuerFromEnv(get envvar.Lookup) (issuer string, off bool, err error) {
	if v := envvar.String(get, "CLERK_ISSUER_CHECK", "on"); !strings.EqualFold(v, "on") {
		if !strings.EqualFold(v, "off") {
			return "", false, errors.New("CLERK_ISSUER_CHECK: must be on or off")
		}
		return "", true, nil
	}
	if iss := envvar.String(get, "CLERK_ISSUER", ""); iss != "" {
		iss = strings.TrimSuffix(iss, "/")
		if err := checkBaseURL("CLERK_ISSUER", iss); err != nil {
			return "", false, err
		}
		return iss, false, nil
	}
	if pk := envvar.String(get, "CLERK_PUBLISHABLE_KEY", ""); pk != "" {
		iss, err := IssuerFromPublishableKey(pk)
		if err != nil {
			return "", false, fmt.Errorf("CLERK_PUBLISHABLE_KEY: %w", err)
		}
		return iss, false, nil
	}
	return "", false, errors.New("CLERK_ISSUER or CLERK_PUBLISHABLE_KEY must be set to pin the token issuer (or set CLERK_ISSUER_CHECK=off, not recommended)")
}

// IssuerFromPublishableKey derives the session token issuer from a publishable
// key: "pk_test_" or "pk_live_" followed by the base64 of the Frontend API host
// and a "$"; the issuer is "https://" + that host.
func IssuerFromPublishableKey(pk string) (string, error) {
	encoded, ok := strings.CutPrefix(pk, "pk_test_")
	if !ok {
		if encoded, ok = strings.CutPrefix(pk, "pk_live_"); !ok {
			return "", errors.New("not a publishable key (expected pk_test_ or pk_live_)")
		}
	}
	decoded, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(encoded, "="))
	if err != nil {
		return "", errors.New("publishable key is not valid base64")
	}
	host, ok := strings.CutSuffix(string(decoded), "$")
	if !ok || host == "" || strings.ContainsAny(host, "/$ ?#@") {
		return "", errors.New("publishable key does not encode a Frontend API host")
	}
	return "https://" + host, nil
}

func checkBaseURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s: must be an http(s) URL", name)
	}
	return nil
}

// checkAPIURL refuses a Backend API URL that would send the secret key in
// clear text: plain http is for a stand-in on this machine only.
func checkAPIURL(raw string) error {
	if err := checkBaseURL("CLERK_API_URL", raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return errors.New("CLERK_API_URL: must use https (plain http only to localhost)")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkOrigins(origins []string) error {
	for _, o := range origins {
		if err := checkBaseURL("CLERK_AUTHORIZED_PARTIES", o); err != nil {
			return fmt.Errorf("CLERK_AUTHORIZED_PARTIES: %q is not an origin such as https://app.example.com", o)
		}
	}
	return nil
}
