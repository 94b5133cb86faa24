package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"clerk-lambda/dev/apispec"
)

// decision is an authorizer's answer for one identity.
type decision struct {
	allow   bool
	context map[string]any
}

// identityValues evaluates the authorizer's identity sources against the
// event; ok is false when one of them is missing or empty, which API Gateway
// answers 401 without calling the authorizer.
func identityValues(a *apispec.Authorizer, ev *events.APIGatewayV2HTTPRequest) (values []string, ok bool) {
	for _, src := range a.IdentitySources {
		var v string
		switch {
		case strings.HasPrefix(src, "$request.header."):
			v = ev.Headers[strings.ToLower(strings.TrimPrefix(src, "$request.header."))]
		case strings.HasPrefix(src, "$request.querystring."):
			v = ev.QueryStringParameters[strings.TrimPrefix(src, "$request.querystring.")]
		case src == "$context.routeKey":
			v = ev.RouteKey
		case src == "$context.httpMethod":
			v = ev.RequestContext.HTTP.Method
		case src == "$context.path":
			v = ev.RequestContext.HTTP.Path
		case src == "$context.stage":
			v = ev.RequestContext.Stage
		}
		// Stage variables and other context variables have no value
		// locally, so a route that depends on them is refused as in AWS
		// when they are unset.
		if v == "" {
			return nil, false
		}
		values = append(values, v)
	}
	return values, true
}

// parseDecision reads an authorizer's answer: the simple response
// {"isAuthorized": bool, "context": {...}}, or an IAM policy when simple
// responses are off. An error means a malformed answer: 500.
func parseDecision(payload []byte, simple bool, routeARN string) (decision, error) {
	if simple {
		var resp struct {
			IsAuthorized *bool          `json:"isAuthorized"`
			Context      map[string]any `json:"context"`
		}
		if err := json.Unmarshal(payload, &resp); err != nil || resp.IsAuthorized == nil {
			return decision{}, errors.New(`the authorizer's answer is not {"isAuthorized": true|false, ...}`)
		}
		return decision{allow: *resp.IsAuthorized, context: resp.Context}, nil
	}
	var resp struct {
		PrincipalID    string         `json:"principalId"`
		PolicyDocument *policy        `json:"policyDocument"`
		Context        map[string]any `json:"context"`
	}
	if err := json.Unmarshal(payload, &resp); err != nil || resp.PolicyDocument == nil {
		return decision{}, errors.New("the authorizer's answer is not an IAM policy")
	}
	return decision{allow: resp.PolicyDocument.allows(routeARN), context: resp.Context}, nil
}

// policy is the part of an IAM policy document that decides execute-api:Invoke.
type policy struct {
	Statement []struct {
		Effect   string      `json:"Effect"`
		Action   stringOrSet `json:"Action"`
		Resource stringOrSet `json:"Resource"`
	} `json:"Statement"`
}

// allows applies IAM's rule: an explicit Deny wins, else an Allow is needed.
func (p *policy) allows(routeARN string) bool {
	allowed := false
	for _, s := range p.Statement {
		if !s.Action.matches("execute-api:Invoke") || !s.Resource.matches(routeARN) {
			continue
		}
		switch s.Effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

// stringOrSet is an IAM field that holds one string or a list of them.
type stringOrSet []string

func (s *stringOrSet) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("not a string or a list of strings")
	}
	*s = many
	return nil
}

// matches applies IAM wildcards (* and ?) to value.
func (s stringOrSet) matches(value string) bool {
	for _, pattern := range s {
		if pattern == "*" {
			return true
		}
		// path.Match treats "/" specially, IAM does not: compare with
		// slashes swapped for a character that cannot appear in an ARN.
		p := strings.ReplaceAll(pattern, "/", "\x00")
		v := strings.ReplaceAll(value, "/", "\x00")
		if ok, _ := path.Match(p, v); ok {
			return true
		}
	}
	return false
}

// authCache keeps authorizer decisions per identity for the authorizer's TTL.
type authCache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	decision decision
	expires  time.Time
}

func newAuthCache() *authCache {
	return &authCache{entries: map[string]cacheEntry{}}
}

// cacheKey keys a decision by authorizer and identity source values.
func cacheKey(a *apispec.Authorizer, identity []string) string {
	return a.Name + "\x00" + strings.Join(identity, "\x00")
}

func (c *authCache) get(key string, now time.Time) (decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return decision{}, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, key)
		return decision{}, false
	}
	return e.decision, true
}

// maxCacheEntries bounds the cache; past it, expired entries are dropped.
const maxCacheEntries = 10000

func (c *authCache) put(key string, d decision, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCacheEntries {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
	}
	c.entries[key] = cacheEntry{decision: d, expires: now.Add(ttl)}
}

// clear forgets every decision, as a redeployed authorizer would.
func (c *authCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = map[string]cacheEntry{}
}
