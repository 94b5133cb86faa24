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

// AdminPolicy says who is an administrator.
type AdminPolicy struct {
	// OrgID and OrgRole: a caller whose active organization is OrgID and whose
	// role there is OrgRole. Both are needed: users can create organizations
	// of their own and are admins there, so a role alone proves nothing.
	// An empty OrgID turns this path off.
	OrgID   string
	OrgRole string
}

// IsAdmin reports whether the caller is an administrator under p: the role
// p names in the organization p names, or the custom session claim
// metadata.role equal to "admin" (Clerk's way to expose a user's public
// metadata, which only the Backend API can write, in the session token).
func (id *Identity) IsAdmin(p AdminPolicy) bool {
	if p.OrgID != "" && p.OrgRole != "" && id.Org != nil && id.Org.ID == p.OrgID && id.Org.Role == p.OrgRole {
		return true
	}
	return metadataRole(id.Claims) == "admin"
}

// metadataRole returns the custom claim metadata.role. Names are matched
// exactly: encoding/json's case-insensitive struct matching would let a claim
// such as "METADATA" stand in for "metadata".
func metadataRole(claims json.RawMessage) string {
	var top map[string]json.RawMessage
	if len(claims) == 0 || json.Unmarshal(claims, &top) != nil {
		return ""
	}
	var metadata map[string]json.RawMessage
	if json.Unmarshal(top["metadata"], &metadata) != nil {
		return ""
	}
	var role string
	if json.Unmarshal(metadata["role"], &role) != nil {
		return ""
	}
	return role
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
