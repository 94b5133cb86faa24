package clerkapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/m2m_token"
)

// VerifiedToken is what the Backend API says of a machine token it knows:
// an M2M token, an API key or an OAuth access token.
type VerifiedToken struct {
	// ID is the token's id: mt_…, ak_… or oat_….
	ID string
	// Subject is who the token speaks for: a machine (mch_…) for an M2M
	// token; a user, an organization or a machine for an API key; a user for
	// an OAuth token.
	Subject string
	// Scopes: for an M2M token the machines it may call, otherwise what the
	// creator granted.
	Scopes []string
	// Claims are the custom claims the creator attached, as JSON; nil when
	// there are none.
	Claims json.RawMessage
	// Revoked and Expired are Clerk's verdicts; a caller must refuse either.
	Revoked, Expired bool
	// Expiration is when the token stops working; zero when it never does.
	Expiration time.Time
}

// The shapes the Backend API specification gives a verified token's id
// and subject. An answer outside them is refused, whatever answered.
var (
	m2mTokenID   = regexp.MustCompile(`^mt_[0-9A-Fa-f]{32}$`)
	apiKeyID     = regexp.MustCompile(`^ak_[0-9A-Fa-f]{32}$`)
	oauthTokenID = regexp.MustCompile(`^oat_[0-9A-Fa-f]{32}$`)
	machineID    = regexp.MustCompile(`^mch_\w{1,64}$`)
	keySubject   = regexp.MustCompile(`^(user|org|mch)_\w{1,64}$`)
	userSubject  = regexp.MustCompile(`^user_\w{1,64}$`)
)

// errBadAnswer is wrapped by the error of a verification whose 200 answer
// does not have the shape Clerk documents.
var errBadAnswer = errors.New("the answer is not a verified token")

// VerifyM2MToken asks POST /m2m_tokens/verify about token. A token Clerk
// does not know answers 404: errors.Is(err, ErrNotFound) holds.
func (c *Client) VerifyM2MToken(ctx context.Context, token string) (*VerifiedToken, error) {
	var t *clerk.M2MToken
	err := c.call(ctx, "verify m2m token", func(ctx context.Context, b clerk.BackendConfig) error {
		var err error
		t, err = m2m_token.NewClient(&clerk.ClientConfig{BackendConfig: b}).Verify(ctx, &m2m_token.VerifyParams{Token: token})
		return err
	})
	if err != nil {
		return nil, err
	}
	if t.Object != "machine_to_machine_token" || !m2mTokenID.MatchString(t.ID) || !machineID.MatchString(t.Subject) {
		return nil, fmt.Errorf("clerkapi: verify m2m token: %w", errBadAnswer)
	}
	if !boundedScopes(t.Scopes) {
		return nil, fmt.Errorf("clerkapi: verify m2m token: %w", errBadAnswer)
	}
	return &VerifiedToken{ID: t.ID, Subject: t.Subject, Scopes: t.Scopes, Claims: nullable(t.Claims),
		Revoked: t.Revoked, Expired: t.Expired, Expiration: timestamp(t.Expiration)}, nil
}

// apiKey is the answer of POST /api_keys/verify, which clerk-sdk-go does not
// have a type for.
type apiKey struct {
	clerk.APIResource
	Object     string          `json:"object"`
	ID         string          `json:"id"`
	Subject    string          `json:"subject"`
	Claims     json.RawMessage `json:"claims"`
	Scopes     []string        `json:"scopes"`
	Revoked    bool            `json:"revoked"`
	Expired    bool            `json:"expired"`
	Expiration *int64          `json:"expiration"` // milliseconds
}

// VerifyAPIKey asks POST /api_keys/verify about secret. A key Clerk does not
// know answers 404: errors.Is(err, ErrNotFound) holds.
func (c *Client) VerifyAPIKey(ctx context.Context, secret string) (*VerifiedToken, error) {
	var k apiKey
	if err := c.post(ctx, "verify api key", "/api_keys/verify", jsonBody{"secret": secret}, &k); err != nil {
		return nil, err
	}
	if k.Object != "api_key" || !apiKeyID.MatchString(k.ID) || !keySubject.MatchString(k.Subject) || !boundedScopes(k.Scopes) {
		return nil, fmt.Errorf("clerkapi: verify api key: %w", errBadAnswer)
	}
	return &VerifiedToken{ID: k.ID, Subject: k.Subject, Scopes: k.Scopes, Claims: nullable(k.Claims),
		Revoked: k.Revoked, Expired: k.Expired, Expiration: timestamp(k.Expiration)}, nil
}

// oauthToken is the answer of POST /oauth_applications/access_tokens/verify.
// Clerk answers {"active": false} for an expired JWT access token.
type oauthToken struct {
	clerk.APIResource
	Object     string   `json:"object"`
	ID         string   `json:"id"`
	Subject    string   `json:"subject"`
	Scopes     []string `json:"scopes"`
	Revoked    bool     `json:"revoked"`
	Expired    bool     `json:"expired"`
	Expiration *int64   `json:"expiration"`
	Active     *bool    `json:"active"`
}

// VerifyOAuthToken asks POST /oauth_applications/access_tokens/verify about
// token. A token Clerk does not know answers 404: errors.Is(err,
// ErrNotFound) holds; one it reports inactive comes back Expired.
func (c *Client) VerifyOAuthToken(ctx context.Context, token string) (*VerifiedToken, error) {
	var t oauthToken
	if err := c.post(ctx, "verify oauth token", "/oauth_applications/access_tokens/verify", jsonBody{"access_token": token}, &t); err != nil {
		return nil, err
	}
	if t.Active != nil && !*t.Active && t.Object == "" {
		return &VerifiedToken{Expired: true}, nil
	}
	if t.Object != "clerk_idp_oauth_access_token" || !oauthTokenID.MatchString(t.ID) || !userSubject.MatchString(t.Subject) || !boundedScopes(t.Scopes) {
		return nil, fmt.Errorf("clerkapi: verify oauth token: %w", errBadAnswer)
	}
	return &VerifiedToken{ID: t.ID, Subject: t.Subject, Scopes: t.Scopes, Revoked: t.Revoked, Expired: t.Expired,
		Expiration: timestamp(t.Expiration)}, nil
}

// post sends body as JSON to path through the SDK's backend, with the
// client's retries, and decodes the answer into out.
func (c *Client) post(ctx context.Context, op, path string, body jsonBody, out clerk.ResponseReader) error {
	return c.call(ctx, op, func(ctx context.Context, b clerk.BackendConfig) error {
		req := clerk.NewAPIRequest(http.MethodPost, path)
		req.SetParams(body)
		return clerk.NewBackend(&b).Call(ctx, req, out)
	})
}

// jsonBody is a POST body for the SDK's backend, which marshals its params.
type jsonBody map[string]string

func (jsonBody) ToQuery() url.Values                  { return nil }
func (jsonBody) ToMultipart() ([]byte, string, error) { return nil, "", nil }

// nullable turns JSON null (or nothing) into nil.
func nullable(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

// secondsBelow: a timestamp under it is in seconds (it would be March 1973
// in milliseconds), at or above it in milliseconds. Clerk documents its
// machine tokens' times in milliseconds, but the specification's examples
// of an OAuth token's look like seconds; either reads right.
const secondsBelow = 100_000_000_000

// timestamp is a nullable Unix time in milliseconds (or seconds, see
// secondsBelow); nil is the zero time.
func timestamp(v *int64) time.Time {
	switch {
	case v == nil:
		return time.Time{}
	case *v < secondsBelow:
		return time.Unix(*v, 0)
	}
	return time.UnixMilli(*v)
}

// Bounds on a verified token's scopes: what the authorizer context can
// carry, far above what Clerk issues.
const (
	maxScopes   = 64
	maxScopeLen = 128
)

// boundedScopes reports whether scopes are few and short enough, and none
// holds a comma (the authorizer context joins them with commas).
func boundedScopes(scopes []string) bool {
	if len(scopes) > maxScopes {
		return false
	}
	for _, s := range scopes {
		if s == "" || len(s) > maxScopeLen || strings.Contains(s, ",") {
			return false
		}
	}
	return true
}
