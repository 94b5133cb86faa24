package clerkfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"
)

// grant is what M2M tokens, API keys and OAuth access tokens have in
// common: a secret handed to a caller, the subject, scopes and claims their
// verify endpoints answer with, and a life that ends at expiry or, earlier,
// by revocation.
type grant struct {
	id, secret string
	subject    string
	scopes     []string
	claims     json.RawMessage // nil = null
	expires    time.Time       // zero = never
	revoked    bool
	reason     *string
	lastUsed   time.Time // zero = never
	created    time.Time
	updated    time.Time
	// For API keys and OAuth access tokens only.
	kind, name, clientID string
	description          *string
	createdBy            *string
}

// expired reports whether g's life has ended by now. A token is expired from
// its expiration on, as a JWT is from its exp.
func (g *grant) expired(now time.Time) bool { return !g.expires.IsZero() && !now.Before(g.expires) }

func (g *grant) clone() grant {
	c := *g
	c.scopes = slices.Clone(g.scopes)
	return c
}

// vault keeps the grants of one kind by id and by secret.
type vault struct {
	byID, bySecret map[string]*grant
}

func newVault() vault { return vault{byID: map[string]*grant{}, bySecret: map[string]*grant{}} }

// put stores a new grant, stamped with now, and returns it as stored.
func (s *Server) put(v vault, g grant) grant {
	now := toMillis(s.now())
	g.created, g.updated = now, now
	s.authMu.Lock()
	defer s.authMu.Unlock()
	v.byID[g.id], v.bySecret[g.secret] = &g, &g
	return g.clone()
}

// use looks up the grant whose secret is secret, records the use (Clerk's
// last_used_at) and returns it, revoked or expired as it may be: verifying
// tells the caller so rather than refusing. may limits the grants this caller
// may see; the others are as unknown.
func (s *Server) use(v vault, secret string, may func(*grant) bool) (grant, bool) {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	g, ok := v.bySecret[secret]
	if !ok || !may(g) {
		return grant{}, false
	}
	g.lastUsed = toMillis(s.now())
	return g.clone(), true
}

// revoke marks the grant with id revoked for reason (nil = none) and
// returns it. Revoking again keeps the first reason. may limits the grants
// this caller may revoke; the others are as unknown.
func (s *Server) revoke(v vault, id string, reason *string, may func(*grant) bool) (grant, bool) {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	g, ok := v.byID[id]
	if !ok || !may(g) {
		return grant{}, false
	}
	if !g.revoked {
		g.revoked, g.reason, g.updated = true, reason, toMillis(s.now())
	}
	return g.clone(), true
}

// anyone lets every caller see and revoke a grant.
func anyone(*grant) bool { return true }

// hexID returns an id such as "mt_f7f0ba8c3b4843ce7d85fcdd5e71853e": prefix
// and 32 hex digits, the shape the specification gives M2M token, API key
// and OAuth access token ids.
func hexID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b)
}

// expiresIn is the expiry a seconds_until_expiration gives from now; nil
// means never.
func expiresIn(now time.Time, seconds *float64) time.Time {
	if seconds == nil {
		return time.Time{}
	}
	return toMillis(now.Add(time.Duration(*seconds * float64(time.Second))))
}

// nullClaims turns a JSON null, or no claims at all, into nil, stored as
// "no claims".
func nullClaims(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}
