package clerkfake

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
)

// The shapes an API key's fields must have. The specification wants 27
// characters after a subject's or creator's prefix, as in Clerk's own ids;
// the stand-in takes any word characters, so that its readable user ids
// (such as the dev server's "user_ada") can own keys too.
var (
	apiKeySubject   = regexp.MustCompile(`^(user|org|mch|scim)_\w+$`)
	apiKeyCreatedBy = regexp.MustCompile(`^user_\w+$`)
	apiKeyName      = regexp.MustCompile(`^\S(.*\S)?$`)
)

// wireAPIKey is an API key as the specification's API key endpoints serve
// it. Timestamps are in milliseconds, as the specification's descriptions
// say (its examples look like seconds).
type wireAPIKey struct {
	Object           string          `json:"object"`
	ID               string          `json:"id"`
	Type             string          `json:"type"`
	Subject          string          `json:"subject"`
	Name             string          `json:"name"`
	Description      *string         `json:"description"`
	Claims           json.RawMessage `json:"claims"`
	Scopes           []string        `json:"scopes"`
	Secret           string          `json:"secret,omitempty"` // on creation only
	Revoked          bool            `json:"revoked"`
	RevocationReason *string         `json:"revocation_reason"`
	Expired          bool            `json:"expired"`
	Expiration       *int64          `json:"expiration"`
	CreatedBy        *string         `json:"created_by"`
	LastUsedAt       *int64          `json:"last_used_at"`
	CreatedAt        int64           `json:"created_at"`
	UpdatedAt        int64           `json:"updated_at"`
}

func (s *Server) wireAPIKey(g grant) wireAPIKey {
	return wireAPIKey{
		Object: "api_key", ID: g.id, Type: g.kind, Subject: g.subject, Name: g.name, Description: g.description,
		Claims: nullClaims(g.claims), Scopes: orNone(g.scopes), Revoked: g.revoked, RevocationReason: g.reason,
		Expired: g.expired(s.now()), Expiration: nullableTime(g.expires), CreatedBy: g.createdBy,
		LastUsedAt: nullableTime(g.lastUsed), CreatedAt: g.created.UnixMilli(), UpdatedAt: g.updated.UnixMilli(),
	}
}

// apiKeyBody is the body of POST /v1/api_keys.
type apiKeyBody struct {
	Type                   *string         `json:"type"`
	Name                   string          `json:"name"`
	Description            *string         `json:"description"`
	Subject                string          `json:"subject"`
	Claims                 json.RawMessage `json:"claims"`
	Scopes                 []string        `json:"scopes"`
	CreatedBy              *string         `json:"created_by"`
	SecondsUntilExpiration *float64        `json:"seconds_until_expiration"`
}

// check finds what the specification would refuse in b.
func (b apiKeyBody) check() *paramError {
	switch {
	case b.Type != nil && (len(*b.Type) < 3 || len(*b.Type) > 25):
		return valueError("type", "must be 3 to 25 characters")
	case len(b.Name) < 3 || !apiKeyName.MatchString(b.Name):
		return valueError("name", "must be at least 3 characters, without leading or trailing spaces")
	case b.Description != nil && len(*b.Description) > 255:
		return valueError("description", "must be at most 255 characters")
	case !apiKeySubject.MatchString(b.Subject):
		return valueError("subject", "must be the id of a user, an organization or a machine")
	case b.CreatedBy != nil && !apiKeyCreatedBy.MatchString(*b.CreatedBy):
		return valueError("created_by", "must be the id of a user")
	case b.SecondsUntilExpiration != nil && *b.SecondsUntilExpiration <= 0:
		return valueError("seconds_until_expiration", "must be greater than 0")
	}
	return nil
}

// serveCreateAPIKey creates an API key: secret "ak_" + 32 base62
// characters, answered only now.
func (s *Server) serveCreateAPIKey(w http.ResponseWriter, r *http.Request) {
	var body apiKeyBody
	if !decodeBody(w, r, &body) {
		return
	}
	if perr := body.check(); perr != nil {
		writeParamErrorStatus(w, http.StatusBadRequest, perr)
		return
	}
	kind := "api_key"
	if body.Type != nil {
		kind = *body.Type
	}
	g := s.put(s.apiKeys, grant{
		id: hexID("ak_"), secret: "ak_" + randomString(32), subject: body.Subject, scopes: body.Scopes,
		claims: nullClaims(body.Claims), expires: expiresIn(s.now(), body.SecondsUntilExpiration),
		kind: kind, name: body.Name, description: body.Description, createdBy: body.CreatedBy,
	})
	wire := s.wireAPIKey(g)
	wire.Secret = g.secret
	writeJSON(w, http.StatusOK, wire)
}

// serveVerifyAPIKey answers for an API key's secret. A revoked or expired
// key still verifies, with "revoked" or "expired" true: the caller decides.
func (s *Server) serveVerifyAPIKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Secret string `json:"secret"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Secret == "" {
		writeParamErrorStatus(w, http.StatusBadRequest, &paramError{"secret", "form_param_missing", "secret must be included"})
		return
	}
	g, ok := s.use(s.apiKeys, body.Secret, anyone)
	if !ok {
		writeError(w, http.StatusNotFound, "resource_not_found", "not found", "No API key was found for the secret given")
		return
	}
	writeJSON(w, http.StatusOK, s.wireAPIKey(g))
}

func (s *Server) serveRevokeAPIKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RevocationReason *string `json:"revocation_reason"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	id := r.PathValue("apiKeyID")
	g, ok := s.revoke(s.apiKeys, id, body.RevocationReason, anyone)
	if !ok {
		writeError(w, http.StatusNotFound, "resource_not_found", "not found", "No API key was found with id "+strconv.Quote(id))
		return
	}
	writeJSON(w, http.StatusOK, s.wireAPIKey(g))
}
