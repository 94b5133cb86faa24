package clerkfake

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

// IssueOAuthToken issues an opaque OAuth access token ("oat_" + 32 base62
// characters) of the OAuth application clientID for the user, with the
// scopes, living ttl from Config.Now. Clerk issues these at the end of an
// OAuth flow, for which its Backend API has no endpoint, so tests and the
// dev server issue them here; POST /v1/oauth_applications/access_tokens/verify
// then answers for them.
func (s *Server) IssueOAuthToken(userID, clientID string, scopes []string, ttl time.Duration) (string, error) {
	switch {
	case !strings.HasPrefix(userID, "user_"):
		return "", errors.New("clerkfake: an OAuth access token's subject must be a user id (user_...)")
	case clientID == "":
		return "", errors.New("clerkfake: an OAuth access token needs the client id of its OAuth application")
	case ttl <= 0:
		return "", errors.New("clerkfake: an OAuth access token's ttl must be positive")
	}
	g := s.put(s.oauth, grant{
		id: hexID("oat_"), secret: "oat_" + randomString(32), subject: userID, clientID: clientID,
		scopes: slices.Clone(scopes), expires: toMillis(s.now().Add(ttl)),
	})
	return g.secret, nil
}

// wireOAuthToken is an OAuth access token as the verify endpoint serves it.
// Its timestamps are in seconds: the specification gives no unit for them,
// and its examples (1716883200) are seconds, where those of M2M tokens are
// milliseconds (1716883200000).
type wireOAuthToken struct {
	Object           string   `json:"object"`
	ID               string   `json:"id"`
	ClientID         string   `json:"client_id"`
	Subject          string   `json:"subject"`
	Scopes           []string `json:"scopes"`
	Revoked          bool     `json:"revoked"`
	RevocationReason *string  `json:"revocation_reason"`
	Expired          bool     `json:"expired"`
	Expiration       *int64   `json:"expiration"`
	CreatedAt        int64    `json:"created_at"`
	UpdatedAt        int64    `json:"updated_at"`
}

// serveVerifyOAuthToken answers for an access token, given as access_token
// or as the deprecated secret. An expired token still verifies, with
// "expired" true: the caller decides.
func (s *Server) serveVerifyOAuthToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AccessToken string `json:"access_token"`
		Secret      string `json:"secret"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	token := body.AccessToken
	if token == "" {
		token = body.Secret
	}
	if token == "" {
		writeParamErrorStatus(w, http.StatusBadRequest, &paramError{"access_token", "form_param_missing", "access_token must be included"})
		return
	}
	g, ok := s.use(s.oauth, token, anyone)
	if !ok {
		writeError(w, http.StatusNotFound, "resource_not_found", "not found", "No OAuth access token was found for the token given")
		return
	}
	var expiration *int64
	if !g.expires.IsZero() {
		exp := g.expires.Unix()
		expiration = &exp
	}
	writeJSON(w, http.StatusOK, wireOAuthToken{
		Object: "clerk_idp_oauth_access_token", ID: g.id, ClientID: g.clientID, Subject: g.subject,
		Scopes: orNone(g.scopes), Revoked: g.revoked, RevocationReason: g.reason, Expired: g.expired(s.now()),
		Expiration: expiration, CreatedAt: g.created.Unix(), UpdatedAt: g.updated.Unix(),
	})
}
