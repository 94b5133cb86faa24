// Package identity carries a verified caller from the authorizer to the route
// functions.
//
// The authorizer turns an Identity into API Gateway's authorizer context, a flat
// map of scalars (API Gateway rejects nested values), and a route function reads
// it back from its event with a Reader. The Reader re-checks the expiry, because
// API Gateway may serve a cached authorization after the token itself expired.
package identity

import (
	"encoding/json"
	"strings"
	"time"
)

// Identity is the caller as established by a verified Clerk session token.
type Identity struct {
	UserID          string          `json:"userId"`
	SessionID       string          `json:"sessionId,omitempty"`
	AuthorizedParty string          `json:"azp,omitempty"`
	Expires         time.Time       `json:"expiresAt"`
	Org             *Organization   `json:"org,omitempty"`
	Actor           json.RawMessage `json:"actor,omitempty"`
	Claims          json.RawMessage `json:"claims,omitempty"`
}

// Organization is the caller's active organization in the session.
type Organization struct {
	ID          string   `json:"id"`
	Slug        string   `json:"slug,omitempty"`
	Role        string   `json:"role,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}

// IsAdmin reports whether the caller is an administrator: the active
// organization role equals adminRole, or the custom session claim
// metadata.role is "admin" (Clerk's way to expose public metadata in the
// session token).
func (id *Identity) IsAdmin(adminRole string) bool {
	if id.Org != nil && adminRole != "" && id.Org.Role == adminRole {
		return true
	}
	if len(id.Claims) == 0 {
		return false
	}
	var custom struct {
		Metadata struct {
			Role string `json:"role"`
		} `json:"metadata"`
	}
	return json.Unmarshal(id.Claims, &custom) == nil && custom.Metadata.Role == "admin"
}

// Context keys of the flat authorizer context.
const (
	keyUserID      = "userId"
	keySessionID   = "sessionId"
	keyAZP         = "azp"
	keyExp         = "exp"
	keyOrgID       = "orgId"
	keyOrgSlug     = "orgSlug"
	keyOrgRole     = "orgRole"
	keyPermissions = "orgPermissions"
	keyActor       = "actor"
	keyClaims      = "claims"
)

// Context flattens the identity into an authorizer context: strings and one
// number (exp, in Unix seconds). Empty fields are left out.
func (id *Identity) Context() map[string]any {
	ctx := map[string]any{
		keyUserID: id.UserID,
		keyExp:    id.Expires.Unix(),
	}
	put := func(key, value string) {
		if value != "" {
			ctx[key] = value
		}
	}
	put(keySessionID, id.SessionID)
	put(keyAZP, id.AuthorizedParty)
	if id.Org != nil {
		put(keyOrgID, id.Org.ID)
		put(keyOrgSlug, id.Org.Slug)
		put(keyOrgRole, id.Org.Role)
		put(keyPermissions, strings.Join(id.Org.Permissions, ","))
	}
	put(keyActor, string(id.Actor))
	put(keyClaims, string(id.Claims))
	return ctx
}
