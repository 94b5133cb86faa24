package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// ErrUnauthenticated is wrapped by every error a Reader returns: the request
// carries no usable identity and must be answered 401.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrTokenTypeNotAccepted is wrapped by the error of a Reader that was given
// a verified identity of a token type its route does not accept: answer 403
// (respond.IdentityError does).
var ErrTokenTypeNotAccepted = errors.New("token type not accepted")

// Reader reads identities back from route events.
type Reader struct {
	// Leeway is the clock skew allowed on the expiry, the same as the
	// authorizer's, so a token it accepted is not refused here a moment later.
	Leeway time.Duration
	// Accepts are the token types the route takes; empty means session
	// tokens alone, so a route opens to machines only by saying so, whatever
	// the authorizer accepts.
	Accepts []TokenType
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// HTTP reads the identity from an HTTP API (payload 2.0) event, where the
// authorizer's context is requestContext.authorizer.lambda.
func (r Reader) HTTP(req events.APIGatewayV2HTTPRequest) (*Identity, error) {
	if req.RequestContext.Authorizer == nil {
		return nil, fmt.Errorf("%w: no authorizer context", ErrUnauthenticated)
	}
	return r.fromContext(req.RequestContext.Authorizer.Lambda)
}

// REST reads the identity from a REST API event, where the authorizer's
// context is requestContext.authorizer itself.
func (r Reader) REST(req events.APIGatewayProxyRequest) (*Identity, error) {
	return r.fromContext(req.RequestContext.Authorizer)
}

func (r Reader) fromContext(ctx map[string]any) (*Identity, error) {
	if len(ctx) == 0 {
		return nil, fmt.Errorf("%w: no authorizer context", ErrUnauthenticated)
	}
	id, err := Decode(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if !r.accepts(id.Type()) {
		return nil, fmt.Errorf("%w: this route does not accept a %s", ErrTokenTypeNotAccepted, id.Type())
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	if !id.Expires.IsZero() && now().After(id.Expires.Add(r.Leeway)) {
		return nil, fmt.Errorf("%w: %s expired", ErrUnauthenticated, id.Type())
	}
	return id, nil
}

func (r Reader) accepts(t TokenType) bool {
	if len(r.Accepts) == 0 {
		return t == SessionToken
	}
	return slices.Contains(r.Accepts, t)
}

// Decode rebuilds an Identity from a flat authorizer context. It does not
// check the expiry; a Reader does.
func Decode(ctx map[string]any) (*Identity, error) {
	str := func(key string) string {
		s, _ := ctx[key].(string)
		return s
	}
	id := &Identity{
		UserID:          str(keyUserID),
		SessionID:       str(keySessionID),
		AuthorizedParty: str(keyAZP),
		TokenType:       TokenType(str(keyTokenType)),
		Subject:         str(keySubject),
		TokenID:         str(keyTokenID),
	}
	if p := str(keyScopes); p != "" {
		id.Scopes = strings.Split(p, ",")
	}
	if err := checkType(id); err != nil {
		return nil, err
	}
	// Only a machine token may come without an expiry (an API key that
	// never expires); a session always has one.
	if _, ok := ctx[keyExp]; ok || id.Type() == SessionToken {
		exp, err := unixSeconds(ctx[keyExp])
		if err != nil {
			return nil, err
		}
		id.Expires = time.Unix(exp, 0).UTC()
	}
	if orgID := str(keyOrgID); orgID != "" {
		id.Org = &Organization{ID: orgID, Slug: str(keyOrgSlug), Role: str(keyOrgRole)}
		if p := str(keyPermissions); p != "" {
			id.Org.Permissions = strings.Split(p, ",")
		}
	}
	for key, dst := range map[string]*json.RawMessage{keyActor: &id.Actor, keyClaims: &id.Claims} {
		raw := str(key)
		if raw == "" {
			continue
		}
		if !json.Valid([]byte(raw)) {
			return nil, fmt.Errorf("authorizer context %s is not JSON", key)
		}
		*dst = json.RawMessage(raw)
	}
	return id, nil
}

// checkType refuses a context whose token type is unknown, or whose fields
// do not fit its type: a session names its user, a machine token its
// subject, and a user id only ever comes with a user subject.
func checkType(id *Identity) error {
	switch t := id.Type(); {
	case !slices.Contains(TokenTypes, t):
		return fmt.Errorf("authorizer context has an unknown tokenType %q", t)
	case t == SessionToken && id.UserID == "":
		return errors.New("authorizer context has no userId")
	case t != SessionToken && id.Subject == "":
		return errors.New("authorizer context has no subject")
	case t != SessionToken && id.UserID != "" && id.UserID != id.Subject:
		return errors.New("authorizer context's userId is not its subject")
	}
	return nil
}

// unixSeconds accepts exp as API Gateway may deliver it: a JSON number
// (float64 after decoding), or a string (REST APIs stringify context values).
func unixSeconds(v any) (int64, error) {
	switch n := v.(type) {
	case float64:
		if n > 0 && n < math.MaxInt64 && n == math.Trunc(n) {
			return int64(n), nil
		}
	case int64:
		if n > 0 {
			return n, nil
		}
	case json.Number:
		if i, err := n.Int64(); err == nil && i > 0 {
			return i, nil
		}
	case string:
		if i, err := strconv.ParseInt(n, 10, 64); err == nil && i > 0 {
			return i, nil
		}
	}
	return 0, errors.New("authorizer context has no valid exp")
}
