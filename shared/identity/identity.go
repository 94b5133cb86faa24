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
	"slices"
	"strings"
	"time"
)

// TokenType is the kind of Clerk token a caller presented, named as Clerk's
// SDKs name them.
type TokenType string

// The token types.
const (
	SessionToken TokenType = "session_token" // a signed-in user's session
	M2MToken     TokenType = "m2m_token"     // a machine (mch_…) calling for itself
	APIKey       TokenType = "api_key"       // a key issued to a user, an organization or a machine
	OAuthToken   TokenType = "oauth_token"   // an OAuth application acting for a user
)

// TokenTypes lists every type, in the order above.
var TokenTypes = []TokenType{SessionToken, M2MToken, APIKey, OAuthToken}

// TokenTypeList is TokenTypes, comma-separated, as CLERK_ACCEPTED_TOKENS
// lists them.
func TokenTypeList() string {
	names := make([]string, len(TokenTypes))
	for i, t := range TokenTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ",")
}

// Identity is the caller as established by a verified Clerk token.
//
// For a session token the machine fields stay empty, so a session's
// identity (and its JSON) is what it was before machines could call.
// UserID is set only when the caller acts as a user: a session, or an API
// key or OAuth token whose subject is a user; a machine's is empty, so code
// written for users cannot mistake a machine for one.
type Identity struct {
	UserID          string          `json:"userId"`
	SessionID       string          `json:"sessionId,omitempty"`
	AuthorizedParty string          `json:"azp,omitempty"`
	Expires         time.Time       `json:"expiresAt"`
	Org             *Organization   `json:"org,omitempty"`
	Actor           json.RawMessage `json:"actor,omitempty"`
	Claims          json.RawMessage `json:"claims,omitempty"`

	// TokenType is empty for a session token (see Type).
	TokenType TokenType `json:"tokenType,omitempty"`
	// Subject is the machine token's subject: user_…, org_… or mch_….
	Subject string `json:"subject,omitempty"`
	// TokenID is the machine token's id: mt_…, ak_… or oat_….
	TokenID string `json:"tokenId,omitempty"`
	// Scopes are the machine token's scopes (for an M2M token, the machines
	// it may call).
	Scopes []string `json:"scopes,omitempty"`
}

// Type is the caller's token type: TokenType, or SessionToken when empty.
func (id *Identity) Type() TokenType {
	if id.TokenType == "" {
		return SessionToken
	}
	return id.TokenType
}

// Machine is the machine (mch_…) that called with an M2M token or a
// machine's API key, or "" when the caller is not a machine.
func (id *Identity) Machine() string {
	if id.Type() != SessionToken && strings.HasPrefix(id.Subject, "mch_") {
		return id.Subject
	}
	return ""
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
// Only a session can be an admin this way: a machine token's claims are
// whatever its creator wrote, so they prove no role (see CallsAs for
// machines).
func (id *Identity) IsAdmin(p AdminPolicy) bool {
	if id.Type() != SessionToken {
		return false
	}
	if p.OrgID != "" && p.OrgRole != "" && id.Org != nil && id.Org.ID == p.OrgID && id.Org.Role == p.OrgRole {
		return true
	}
	return metadataRole(id.Claims) == "admin"
}

// CallsAs reports whether the caller is one of machines (mch_… ids, such as
// ADMIN_MACHINES) calling with its own M2M token.
func (id *Identity) CallsAs(machines []string) bool {
	return id.Type() == M2MToken && id.Machine() != "" && slices.Contains(machines, id.Machine())
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
	keyTokenType   = "tokenType"
	keySubject     = "subject"
	keyTokenID     = "tokenId"
	keyScopes      = "scopes"
)

// Context flattens the identity into an authorizer context: strings and one
// number (exp, in Unix seconds; left out for a machine token that does not
// expire). Empty fields are left out, so a session's context is what it was
// before machines could call.
func (id *Identity) Context() map[string]any {
	ctx := map[string]any{keyUserID: id.UserID}
	if !id.Expires.IsZero() {
		ctx[keyExp] = id.Expires.Unix()
	}
	put := func(key, value string) {
		if value != "" {
			ctx[key] = value
		}
	}
	put(keyTokenType, string(id.TokenType))
	put(keySubject, id.Subject)
	put(keyTokenID, id.TokenID)
	put(keyScopes, strings.Join(id.Scopes, ","))
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
