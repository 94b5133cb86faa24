package settings

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// DefaultAPIURL is Clerk's Backend API.
const DefaultAPIURL = "https://api.clerk.com/v1"

const (
	// DefaultClockSkew is the leeway on exp, nbf and iat when
	// CLERK_CLOCK_SKEW is unset.
	DefaultClockSkew = 5 * time.Second
	// maxClockSkew bounds CLERK_CLOCK_SKEW: a larger skew would keep
	// tokens, which live 60 s, valid for several times their life.
	maxClockSkew = 5 * time.Minute
)

// ClockSkew reads CLERK_CLOCK_SKEW, the leeway on exp, nbf and iat, so the
// authorizer and every route function agree on it.
func ClockSkew(get Lookup) (time.Duration, error) {
	d, err := Duration(get, ClockSkewName, DefaultClockSkew)
	if err != nil {
		return 0, err
	}
	if d > maxClockSkew {
		return 0, fmt.Errorf("%s: must be at most %s", ClockSkewName, maxClockSkew)
	}
	return d, nil
}

// APIURL reads CLERK_API_URL, the Backend API's base URL, without a
// trailing slash; DefaultAPIURL when unset. See CheckAPIURL.
func APIURL(get Lookup) (string, error) {
	raw := String(get, APIURLName, DefaultAPIURL)
	if err := CheckAPIURL(raw); err != nil {
		return "", fmt.Errorf("%s: %w", APIURLName, err)
	}
	return strings.TrimRight(raw, "/"), nil
}

// CheckAPIURL is the one rule for a Backend API URL, which receives the
// secret key: an absolute URL without credentials, query or fragment, over
// https; plain http only to a stand-in on this machine, that is a loopback
// address, localhost, or host.docker.internal (how a container under
// `sam local` reaches the host), so the key never crosses a network in
// clear text.
func CheckAPIURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("must be an absolute http(s) URL without credentials, query or fragment, such as " + DefaultAPIURL)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLocal(u.Hostname()) {
			return nil
		}
		return errors.New("must use https (plain http only to a local stand-in: a loopback address, localhost or host.docker.internal)")
	}
	return errors.New("must be an http(s) URL, such as " + DefaultAPIURL)
}

func isLocal(host string) bool {
	if host == "localhost" || host == "host.docker.internal" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Verifier is what session tokens are checked against. ReadVerifier reads
// it from the variables named below; tests build it directly.
type Verifier struct {
	// JWTKey is the instance's PEM public key (CLERK_JWT_KEY). When set,
	// tokens are verified without any network call and the JWKS is never
	// fetched.
	JWTKey string
	// Issuer is the exact expected "iss". Empty only when IssuerCheckOff.
	Issuer string
	// IssuerCheckOff disables the issuer check (CLERK_ISSUER_CHECK=off).
	IssuerCheckOff bool
	// AuthorizedParties are the origins allowed as "azp"
	// (CLERK_AUTHORIZED_PARTIES). When not empty, a token without "azp" is
	// rejected.
	AuthorizedParties []string
	// ClockSkew is the leeway on exp, nbf and iat (CLERK_CLOCK_SKEW).
	ClockSkew time.Duration
	// AllowPendingSessions accepts tokens whose "sts" is "pending"
	// (CLERK_ALLOW_PENDING_SESSIONS); they are rejected by default.
	AllowPendingSessions bool
	// APIURL is the Backend API base URL, for the JWKS (CLERK_API_URL).
	APIURL string
}

// ReadVerifier reads the verifier's settings. A missing or malformed
// setting is an error naming the variable.
func ReadVerifier(get Lookup) (Verifier, error) {
	v := Verifier{JWTKey: String(get, JWTKeyName, "")}
	var err error
	if v.ClockSkew, err = ClockSkew(get); err != nil {
		return Verifier{}, err
	}
	if v.AllowPendingSessions, err = Bool(get, AllowPendingName, false); err != nil {
		return Verifier{}, err
	}
	if v.APIURL, err = APIURL(get); err != nil {
		return Verifier{}, err
	}
	if v.AuthorizedParties, err = AuthorizedParties(get); err != nil {
		return Verifier{}, err
	}
	if v.Issuer, v.IssuerCheckOff, err = Issuer(get); err != nil {
		return Verifier{}, err
	}
	return v, nil
}

// AuthorizedParties reads CLERK_AUTHORIZED_PARTIES: origins separated by
// commas, each such as https://app.example.com.
func AuthorizedParties(get Lookup) ([]string, error) {
	origins := List(get, AuthorizedPartiesName)
	for _, o := range origins {
		if checkBaseURL(o) != nil {
			return nil, fmt.Errorf("%s: %q is not an origin such as https://app.example.com (separate origins with commas)", AuthorizedPartiesName, o)
		}
	}
	return origins, nil
}

// Issuer pins the token issuer: CLERK_ISSUER, else the one derived from
// CLERK_PUBLISHABLE_KEY, else nothing, and only when CLERK_ISSUER_CHECK=off.
// The export records it too, to say which instance a file came from.
func Issuer(get Lookup) (issuer string, off bool, err error) {
	if v := String(get, IssuerCheckName, "on"); !strings.EqualFold(v, "on") {
		if !strings.EqualFold(v, "off") {
			return "", false, fmt.Errorf("%s: must be on or off", IssuerCheckName)
		}
		return "", true, nil
	}
	if iss := String(get, IssuerName, ""); iss != "" {
		iss = strings.TrimSuffix(iss, "/")
		if checkBaseURL(iss) != nil {
			return "", false, fmt.Errorf("%s: must be an http(s) URL", IssuerName)
		}
		return iss, false, nil
	}
	if pk := String(get, PublishableKeyName, ""); pk != "" {
		iss, err := IssuerFromPublishableKey(pk)
		if err != nil {
			return "", false, fmt.Errorf("%s: %w", PublishableKeyName, err)
		}
		return iss, false, nil
	}
	return "", false, fmt.Errorf("%s or %s must be set to pin the token issuer (or set %s=off, not recommended)",
		IssuerName, PublishableKeyName, IssuerCheckName)
}

// IssuerFromPublishableKey derives the session token issuer from a
// publishable key: "pk_test_" or "pk_live_" followed by the base64 of the
// Frontend API host and a "$"; the issuer is "https://" + that host.
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

// checkBaseURL accepts an http(s) URL with a host.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("not an http(s) URL")
	}
	return nil
}
