package clerkauth

import (
	"sync"
	"time"

	"clerk-lambda/shared/identity"
)

// memo remembers verified tokens until they expire, so the common case (a
// browser sending the same short-lived token many times) costs a hash and a
// map lookup instead of an RSA verification. It is keyed by the SHA-256 of the
// token, never the token itself, and holds at most max entries.
type memo struct {
	max     int
	mu      sync.RWMutex
	entries map[[32]byte]memoEntry
}

type memoEntry struct {
	id    *identity.Identity
	until time.Time // the token's exp plus the clock skew: a fresh verification would accept it until then
}

func newMemo(max int) *memo {
	return &memo{max: max, entries: make(map[[32]byte]memoEntry)}
}

func (m *memo) get(sum [32]byte, now time.Time) (*identity.Identity, bool) {
	m.mu.RLock()
	e, ok := m.entries[sum]
	m.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.id, true
}

func (m *memo) put(sum [32]byte, id *identity.Identity, until, now time.Time) {
	if m.max <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) >= m.max {
		m.evict(now)
	}
	m.entries[sum] = memoEntry{id: id, until: until}
}

// evict drops expired entries and, if the memo is still full, an arbitrary
// tenth of it (Go's map order is random), so a flood of distinct valid tokens
// costs at worst extra verifications, never unbounded memory.
func (m *memo) evict(now time.Time) {
	for k, e := range m.entries {
		if !now.Before(e.until) {
			delete(m.entries, k)
		}
	}
	if len(m.entries) < m.max {
		return
	}
	drop := len(m.entries) - m.max + m.max/10 + 1
	for k := range m.entries {
		if drop <= 0 {
			break
		}
		delete(m.entries, k)
		drop--
	}
}
