package clerkauth

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"

	"clerk-lambda/shared/identity"
)

// clerkClaims are the registered and Clerk-defined claims of a session token;
// everything else in the payload is a custom claim from the instance's
// session token template.
var clerkClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
	"azp": true, "sid": true, "sts": true, "v": true, "fva": true, "fea": true, "pla": true,
	"o": true, "org_id": true, "org_slug": true, "org_role": true, "org_permissions": true, "act": true,
}

// newIdentity builds the identity from verified claims. The SDK has already
// folded the v2 organization claim ("o") into the v1 fields.
func newIdentity(c *clerk.SessionClaims, raw map[string]json.RawMessage) *identity.Identity {
	id := &identity.Identity{
		UserID:          c.Subject,
		SessionID:       c.SessionID,
		AuthorizedParty: c.AuthorizedParty,
		Expires:         time.Unix(*c.Expiry, 0).UTC(),
		Claims:          customClaims(raw),
	}
	if c.ActiveOrganizationID != "" && !v2WithoutOrg(raw) {
		id.Org = &identity.Organization{
			ID:          c.ActiveOrganizationID,
			Slug:        c.ActiveOrganizationSlug,
			Role:        c.ActiveOrganizationRole,
			Permissions: slices.Clone(c.ActiveOrganizationPermissions),
		}
	}
	if len(c.Actor) > 0 && string(c.Actor) != "null" {
		id.Actor = c.Actor
	}
	return id
}

// customClaims returns the claims Clerk does not define, as one JSON object,
// or nil when there are none.
func customClaims(raw map[string]json.RawMessage) json.RawMessage {
	custom := make(map[string]json.RawMessage)
	for k, v := range raw {
		if !clerkClaims[k] {
			custom[k] = v
		}
	}
	if len(custom) == 0 {
		return nil
	}
	b, err := json.Marshal(custom) // keys sorted: the same claims always give the same bytes
	if err != nil {
		return nil
	}
	return b
}

// v2WithoutOrg reports a version 2 token without the "o" claim: its active
// organization, if any, is only ever in "o", so top-level org_* claims (which
// the SDK would read as version 1 claims) are custom claims, not Clerk's.
func v2WithoutOrg(raw map[string]json.RawMessage) bool {
	_, v2 := raw["v"]
	_, hasOrg := raw["o"]
	return v2 && !hasOrg
}
