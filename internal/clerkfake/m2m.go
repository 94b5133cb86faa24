package clerkfake

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// m2mTokenCategory is the "cat" header parameter of Clerk's M2M JWTs, by
// which Clerk's SDKs tell them from session tokens.
const m2mTokenCategory = "cl_B7d4PD333AAA"

// wireM2MToken is an M2M token as the specification's M2M endpoints serve
// it. Timestamps are in milliseconds, as the specification says.
type wireM2MToken struct {
	Object           string          `json:"object"`
	ID               string          `json:"id"`
	Subject          string          `json:"subject"`
	Claims           json.RawMessage `json:"claims"`
	Scopes           []string        `json:"scopes"`
	Token            string          `json:"token,omitempty"` // on creation only
	Revoked          bool            `json:"revoked"`
	RevocationReason *string         `json:"revocation_reason"`
	Expired          bool            `json:"expired"`
	Expiration       *int64          `json:"expiration"`
	LastUsedAt       *int64          `json:"last_used_at"`
	CreatedAt        int64           `json:"created_at"`
	UpdatedAt        int64           `json:"updated_at"`
}

func (s *Server) wireM2M(g grant) wireM2MToken {
	return wireM2MToken{
		Object: "machine_to_machine_token", ID: g.id, Subject: g.subject, Claims: nullClaims(g.claims),
		Scopes: orNone(g.scopes), Revoked: g.revoked, RevocationReason: g.reason,
		Expired: g.expired(s.now()), Expiration: nullableTime(g.expires), LastUsedAt: nullableTime(g.lastUsed),
		CreatedAt: g.created.UnixMilli(), UpdatedAt: g.updated.UnixMilli(),
	}
}

func orNone(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// serveCreateM2MToken creates a token for the machine whose secret key the
// request carries, its scopes the machine's scoped machines. An opaque
// token ("mt_" + 32 base62 characters) is stored; a JWT is signed with the
// instance's current key and, as the specification says, not stored, so it
// can be neither verified here nor revoked.
func (s *Server) serveCreateM2MToken(w http.ResponseWriter, r *http.Request) {
	m := s.caller(r)
	var body struct {
		TokenFormat            *string         `json:"token_format"`
		SecondsUntilExpiration *float64        `json:"seconds_until_expiration"`
		Claims                 json.RawMessage `json:"claims"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.SecondsUntilExpiration != nil && *body.SecondsUntilExpiration <= 0 {
		writeParamErrorStatus(w, http.StatusBadRequest, valueError("seconds_until_expiration", "must be greater than 0"))
		return
	}
	now := s.now()
	g := grant{id: hexID("mt_"), subject: m.ID, scopes: m.ScopedMachines, claims: nullClaims(body.Claims)}
	if g.expires = expiresIn(now, body.SecondsUntilExpiration); g.expires.IsZero() {
		g.expires = toMillis(now.Add(m.DefaultTokenTTL))
	}
	format := "opaque"
	if body.TokenFormat != nil {
		format = *body.TokenFormat
	}
	switch format {
	case "opaque":
		g.secret = "mt_" + randomString(32)
		writeJSON(w, http.StatusCreated, s.created(s.put(s.m2m, g)))
	case "jwt":
		var custom map[string]any
		if g.claims != nil && json.Unmarshal(g.claims, &custom) != nil {
			writeParamErrorStatus(w, http.StatusBadRequest, valueError("claims", "must be a JSON object for a JWT"))
			return
		}
		g.created, g.updated = toMillis(now), toMillis(now)
		token, err := s.m2mJWT(g, custom)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal_clerk_error", "Oops, an unexpected error occurred", err.Error())
			return
		}
		g.secret = token
		writeJSON(w, http.StatusCreated, s.created(g))
	default:
		writeParamErrorStatus(w, http.StatusBadRequest, valueError("token_format", "must be opaque or jwt"))
	}
}

// created is g as the creation answers it: with the token.
func (s *Server) created(g grant) wireM2MToken {
	wire := s.wireM2M(g)
	wire.Token = g.secret
	return wire
}

// m2mJWT signs an M2M token as a JWT with the current key, with the claims
// Clerk's SDKs read from one: iss, sub (the machine), jti (the token id),
// iat, nbf, exp (seconds), scopes (the scoped machines, space-separated;
// absent when there are none) and the custom claims at the top level. A
// custom claim cannot replace a standard one: the specification is silent,
// and a token whose creator could choose its own sub would be no proof.
func (s *Server) m2mJWT(g grant, custom map[string]any) (string, error) {
	c := maps.Clone(custom)
	if c == nil {
		c = map[string]any{}
	}
	maps.Copy(c, map[string]any{
		"iss": s.issuer, "sub": g.subject, "jti": g.id,
		"iat": g.created.Unix(), "nbf": g.created.Unix(), "exp": g.expires.Unix(),
	})
	delete(c, "scopes")
	if len(g.scopes) > 0 {
		c["scopes"] = strings.Join(g.scopes, " ")
	}
	s.mu.RLock()
	key := s.current()
	s.mu.RUnlock()
	return sign(key, c, map[string]string{"cat": m2mTokenCategory})
}

// serveVerifyM2MToken answers for an opaque token, with the instance's key
// or with the key of a machine the token may reach (its creator or one of
// its scopes). A revoked or expired token still verifies, with "revoked" or
// "expired" true: the caller decides. A token this caller may not see is as
// unknown as one never issued: 404.
func (s *Server) serveVerifyM2MToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"token"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Token == "" {
		writeParamErrorStatus(w, http.StatusBadRequest, &paramError{"token", "form_param_missing", "token must be included"})
		return
	}
	g, ok := s.use(s.m2m, body.Token, s.mayReach(r))
	if !ok {
		writeError(w, http.StatusNotFound, "resource_not_found", "not found", "No machine-to-machine token was found for the token given")
		return
	}
	writeJSON(w, http.StatusOK, s.wireM2M(g))
}

// serveRevokeM2MToken revokes an opaque token, with the instance's key or
// the key of the machine that created it.
func (s *Server) serveRevokeM2MToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RevocationReason *string `json:"revocation_reason"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	may := anyone
	if m := s.caller(r); m != nil {
		may = func(g *grant) bool { return g.subject == m.ID }
	}
	id := r.PathValue("m2m_token_id")
	g, ok := s.revoke(s.m2m, id, body.RevocationReason, may)
	if !ok {
		writeError(w, http.StatusNotFound, "resource_not_found", "not found", "No machine-to-machine token was found with id "+strconv.Quote(id))
		return
	}
	writeJSON(w, http.StatusOK, s.wireM2M(g))
}

// mayReach is which tokens the request's caller may verify: any, for the
// instance's key; for a machine's, those it created or is a scope of.
func (s *Server) mayReach(r *http.Request) func(*grant) bool {
	m := s.caller(r)
	if m == nil {
		return anyone
	}
	return func(g *grant) bool { return g.subject == m.ID || slices.Contains(g.scopes, m.ID) }
}

// caller is the machine whose key the request carries, or nil for the
// instance's key (the guard let through only these two).
func (s *Server) caller(r *http.Request) *Machine {
	key, _ := bearer(r)
	return s.machineByKey(key)
}
