package settings

import (
	"clerk-lambda/shared/identity"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Names of the settings for machine callers.
const (
	AcceptedTokensName       = "CLERK_ACCEPTED_TOKENS"
	MachineTokenCacheTTLName = "CLERK_MACHINE_TOKEN_CACHE_TTL"
	AdminMachinesName        = "ADMIN_MACHINES"
	APIMachineName           = "CLERK_API_MACHINE"
)

// AcceptedTokens reads CLERK_ACCEPTED_TOKENS: the token types the authorizer
// verifies (identity.TokenTypes), comma-separated; unset or empty means
// session tokens alone, so a stack that does not opt in makes no Backend API
// call to verify a token.
func AcceptedTokens(get Lookup) ([]identity.TokenType, error) {
	names := List(get, AcceptedTokensName)
	if len(names) == 0 {
		return []identity.TokenType{identity.SessionToken}, nil
	}
	types := make([]identity.TokenType, len(names))
	for i, n := range names {
		if types[i] = identity.TokenType(n); !slices.Contains(identity.TokenTypes, types[i]) {
			return nil, fmt.Errorf("%s: %q is not a token type (use %s)", AcceptedTokensName, n, identity.TokenTypeList())
		}
	}
	return types, nil
}

// DefaultMachineTokenCacheTTL is how long a verified opaque token is trusted
// without asking Clerk again, when CLERK_MACHINE_TOKEN_CACHE_TTL is unset.
const DefaultMachineTokenCacheTTL = time.Minute

// maxMachineTokenCacheTTL bounds the revocation delay the cache adds.
const maxMachineTokenCacheTTL = 10 * time.Minute

// MachineTokenCacheTTL reads CLERK_MACHINE_TOKEN_CACHE_TTL: how long one
// execution environment trusts an opaque machine token it verified (at
// most until the token expires); a token revoked meanwhile is refused once
// this has passed. 0 asks Clerk on every request the gateway does not cache.
func MachineTokenCacheTTL(get Lookup) (time.Duration, error) {
	return DurationUpTo(get, MachineTokenCacheTTLName, DefaultMachineTokenCacheTTL, maxMachineTokenCacheTTL)
}

// machineID is the form of a Clerk machine id (mch_ and word characters;
// Clerk's are 27 of them today, which is not pinned here).
var machineID = regexp.MustCompile(`^mch_\w{1,64}$`)

// AdminMachines reads ADMIN_MACHINES: the machines (mch_… ids,
// comma-separated) whose M2M tokens are an administrator's. Empty: none.
func AdminMachines(get Lookup) ([]string, error) {
	ids := List(get, AdminMachinesName)
	for _, id := range ids {
		if !machineID.MatchString(id) {
			return nil, fmt.Errorf("%s: %q is not a machine id (use a form such as mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk)", AdminMachinesName, id)
		}
	}
	return ids, nil
}

// APIMachine reads CLERK_API_MACHINE: the Clerk machine (mch_…) that stands
// for this API. When set, an M2M token is accepted only if its scopes (the
// machines its creator may call) name it, so a token minted to call
// another service cannot be replayed here. Empty: any M2M token of the
// instance.
func APIMachine(get Lookup) (string, error) {
	id := String(get, APIMachineName, "")
	if id != "" && !machineID.MatchString(id) {
		return "", fmt.Errorf("%s: %q is not a machine id (use a form such as mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk)", APIMachineName, id)
	}
	return id, nil
}
