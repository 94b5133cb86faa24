package clerkauth

import (
	"sync"
	"time"

	"clerk-lambda/shared/identity"
)

// memoMaxBytes bounds the memo's memory whatever the entry count: tokens of up
// to 8 KiB could otherwise make 10,000 entries a large share of a 128 MB
// function.
const memoMaxBytes = 16 << 20

// memoEntryOverhead approximates an entry's fixed cost: the key, the map
// slot, the Identity struct and its short strings.
const memoEntryOverhead = 256

// memo remembers verified tokens until they expire, so the common case (a
// browser sending the same short-lived token many times) costs a hash and a
// map lookup instead of an RSA verification. It is keyed by the SHA-256 of the
// token, never the token itself, and holds at most max entries and about
// memoMaxBytes.
type memo struct {
	max     int
	mu      sync.RWMutex
	entries map[[32]byte]memoEntry
	bytes   int
}

type memoEntry struct {
	id      *identity.Identity
	refused error     // a machine token's refusal, remembered briefly instead of an identity
	until   time.Time // when the answer stops holding: for a session token, its exp plus the clock skew
	cost    int       // approximate bytes held: the token's size, which bounds its claims', plus the overhead
}

func newMemo(max int) *memo {
	return &memo{max: max, entries: make(map[[32]byte]memoEntry)}
}

// get returns the remembered answer for the token whose hash is sum: an
// identity, or a refusal; ok is false when there is none still holding.
func (m *memo) get(sum [32]byte, now time.Time) (id *identity.Identity, refused error, ok bool) {
	m.mu.RLock()
	e, ok := m.entries[sum]
	m.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, nil, false
	}
	return e.id, e.refused, true
}

// put remembers id for the token whose hash is sum until until; size
// bounds what the entry holds (for a JWT, its length bounds its claims').
func (m *memo) put(sum [32]byte, id *identity.Identity, until, now time.Time, size int) {
	m.store(sum, memoEntry{id: id, until: until}, now, size)
}

// refuse remembers a refusal of the token whose hash is sum until until.
func (m *memo) refuse(sum [32]byte, refused error, until, now time.Time, tokenSize int) {
	m.store(sum, memoEntry{refused: refused, until: until}, now, tokenSize)
}

func (m *memo) store(sum [32]byte, e memoEntry, now time.Time, tokenSize int) {
	cost := tokenSize + memoEntryOverhead
	e.cost = cost
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.entries[sum]; ok {
		m.bytes -= old.cost
	}
	if len(m.entries) >= m.max || m.bytes+cost > memoMaxBytes {
		m.evict(now, cost)
	}
	m.entries[sum] = e
	m.bytes += cost
}

// evict drops expired entries and, if the memo is still too full for an
// entry of cost bytes, arbitrary others (Go's map order is random) until a
// tenth of the room is free, so a flood of distinct valid tokens costs at
// worst extra verifications, never unbounded memory.
func (m *memo) evict(now time.Time, cost int) {
	for k, e := range m.entries {
		if !now.Before(e.until) {
			m.drop(k, e)
		}
	}
	for k, e := range m.entries {
		if len(m.entries) < m.max-m.max/10 && m.bytes+cost <= memoMaxBytes-memoMaxBytes/10 {
			return
		}
		m.drop(k, e)
	}
}

func (m *memo) drop(k [32]byte, e memoEntry) {
	delete(m.entries, k)
	m.bytes -= e.cost
}
