package clerkauth

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"clerk-lambda/shared/identity"
)

// clerkClaims are the registered and Clerk-defined claims of a session token;
// everything else in the payload is a custom claim from the instance's
// session token template.
var clerkClaims = newNameSet("iss", "sub", "aud", "exp", "nbf", "iat", "jti",
	"azp", "sid", "sts", "v", "fva", "fea", "pla",
	"o", "org_id", "org_slug", "org_role", "org_permissions", "act")

// orgClaims are the members of a version 2 token's "o" claim.
var orgClaims = newNameSet("id", "slg", "rol", "per", "fpm")

// claims are a session token's claims, each read from the one member of
// exactly its name.
type claims struct {
	iss, sub, sid, azp, sts string
	times
	version int64

	// Version 1: the active organization at the top level.
	orgID, orgSlug, orgRole string
	orgPermissions          []string
	// Version 2: the active organization in "o", its permissions encoded
	// with the features in "fea".
	o   v2Organization
	fea string

	act    string     // as written, "" when absent or null
	custom []rawClaim // claims Clerk does not define, in the payload's order
}

type v2Organization struct {
	id, slg, rol, per, fpm string
}

type rawClaim struct{ name, value string }

// decodeClaims reads the payload once. It refuses what could be read two
// ways: duplicate members at any depth, a member whose name differs from one
// of Clerk's only in letter case (encoding/json, which clerk-sdk-go decodes
// with, would let "ſub" or "ORG_ROLE" from a custom claim fill the real one),
// and a Clerk claim of the wrong type.
func decodeClaims(payload []byte) (*claims, error) {
	c := &claims{}
	err := readObject(payload, c.set)
	if err != nil {
		return nil, reject(TokenMalformed, fmt.Errorf("claims: %w", err))
	}
	return c, nil
}

func (c *claims) set(name, value string) error {
	var err error
	switch name {
	case "iss":
		c.iss, err = jsonString(value)
	case "sub":
		c.sub, err = jsonString(value)
	case "sid":
		c.sid, err = jsonString(value)
	case "azp":
		c.azp, err = jsonString(value)
	case "sts":
		c.sts, err = jsonString(value)
	case "fea":
		c.fea, err = jsonString(value)
	case "jti":
		_, err = jsonString(value)
	case "exp", "nbf", "iat":
		err = c.times.set(name, value)
	case "v":
		c.version, err = jsonInt(value)
	case "aud":
		if value[0] == '"' {
			_, err = jsonString(value)
		} else {
			_, err = jsonStrings(value)
		}
	case "fva":
		err = elements(value, func(elem string) error {
			if elem == "null" {
				return nil
			}
			_, err := jsonInt(elem)
			return err
		})
	case "org_id":
		c.orgID, err = jsonString(value)
	case "org_slug":
		c.orgSlug, err = jsonString(value)
	case "org_role":
		c.orgRole, err = jsonString(value)
	case "org_permissions":
		c.orgPermissions, err = jsonStrings(value)
	case "o":
		err = c.o.read(value)
	case "act":
		if value != "null" {
			c.act = value
		}
	case "pla":
	default:
		if clerkClaims.folds(name) {
			return fmt.Errorf("claim %q differs from a Clerk claim only in case", name)
		}
		c.custom = append(c.custom, rawClaim{name, value})
	}
	if err != nil {
		return fmt.Errorf("claim %q: %w", name, err)
	}
	return nil
}

// times are a token's exp, nbf and iat, each present or not.
type times struct {
	exp, nbf, iat          int64
	hasExp, hasNbf, hasIat bool
}

// set reads the time claim name (exp, nbf or iat); null is absent.
func (t *times) set(name, value string) error {
	var err error
	switch name {
	case "exp":
		t.exp, t.hasExp, err = optionalDate(value)
	case "nbf":
		t.nbf, t.hasNbf, err = optionalDate(value)
	case "iat":
		t.iat, t.hasIat, err = optionalDate(value)
	}
	return err
}

// check refuses a token outside its time window at now, with skew as the
// leeway either way, in the order clerk-sdk-go checks them (go-jose's).
func (t *times) check(now time.Time, skew time.Duration) error {
	switch {
	case t.hasNbf && now.Add(skew).Before(time.Unix(t.nbf, 0)):
		return reject(TokenNotActiveYet, nil)
	case t.hasExp && now.Add(-skew).After(time.Unix(t.exp, 0)):
		return reject(TokenExpired, nil)
	case t.hasIat && now.Add(skew).Before(time.Unix(t.iat, 0)):
		return reject(TokenIATInTheFuture, nil)
	}
	return nil
}

func optionalDate(value string) (int64, bool, error) {
	if value == "null" {
		return 0, false, nil
	}
	n, err := numericDate(value)
	return n, err == nil, err
}

func (o *v2Organization) read(value string) error {
	if value == "null" {
		return nil
	}
	return members(value, func(name, value string) error {
		var dst *string
		switch name {
		case "id":
			dst = &o.id
		case "slg":
			dst = &o.slg
		case "rol":
			dst = &o.rol
		case "per":
			dst = &o.per
		case "fpm":
			dst = &o.fpm
		default:
			if orgClaims.folds(name) {
				return fmt.Errorf("o.%s differs from an organization claim only in case", name)
			}
			return nil
		}
		s, err := jsonString(value)
		*dst = s
		return err
	})
}

// organization is the active organization. A version 2 token has it only in
// "o", and only with a non-empty id: top-level org_* claims in it are not
// Clerk's (a session token template may fill them from user-editable data)
// and are ignored.
func (c *claims) organization() *identity.Organization {
	if c.version >= 2 {
		if c.o.id == "" {
			return nil
		}
		return &identity.Organization{
			ID:          c.o.id,
			Slug:        c.o.slg,
			Role:        "org:" + c.o.rol,
			Permissions: orgPermissions(c.fea, c.o.per, c.o.fpm),
		}
	}
	if c.orgID == "" {
		return nil
	}
	return &identity.Organization{ID: c.orgID, Slug: c.orgSlug, Role: c.orgRole, Permissions: c.orgPermissions}
}

// orgPermissions decodes a version 2 token's organization permissions as
// clerk-sdk-go does: features ("o:invoices,u:chat") and, per feature, a bit
// mask ("3,1") over the permission names ("read,manage").
func orgPermissions(features, names, masks string) []string {
	if features == "" || names == "" || masks == "" {
		return nil
	}
	var out []string
	perms := strings.Split(names, ",")
	mappings := strings.Split(masks, ",")
	for i, feature := range strings.Split(features, ",") {
		scope, name, ok := strings.Cut(feature, ":")
		if !ok || !strings.Contains(scope, "o") || i >= len(mappings) {
			continue // not an organization feature, or no mask for it
		}
		if j := strings.IndexByte(name, ':'); j >= 0 {
			name = name[:j]
		}
		mask, err := strconv.Atoi(mappings[i])
		if err != nil || mask < 0 || bitLen(mask) > len(perms) {
			continue // a malformed mask: the SDK skips it too
		}
		for j := 0; mask > 0; j, mask = j+1, mask>>1 {
			if mask&1 == 1 {
				out = append(out, "org:"+name+":"+perms[j])
			}
		}
	}
	return out
}

func bitLen(n int) int {
	l := 0
	for ; n > 0; n >>= 1 {
		l++
	}
	return l
}

// newIdentity builds the identity from verified claims.
func newIdentity(c *claims) *identity.Identity {
	id := &identity.Identity{
		UserID:          c.sub,
		SessionID:       c.sid,
		AuthorizedParty: c.azp,
		Expires:         time.Unix(c.exp, 0).UTC(),
		Org:             c.organization(),
	}
	if c.act != "" {
		id.Actor = json.RawMessage(c.act)
	}
	if len(c.custom) > 0 {
		custom := make(map[string]json.RawMessage, len(c.custom))
		for _, cl := range c.custom {
			custom[cl.name] = json.RawMessage(cl.value)
		}
		id.Claims = customClaims(custom)
	}
	return id
}

// customClaims returns the claims Clerk does not define, as one JSON object,
// or nil when there are none.
func customClaims(raw map[string]json.RawMessage) json.RawMessage {
	custom := make(map[string]json.RawMessage)
	for k, v := range raw {
		if !clerkClaims.has(k) {
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
