package clerkfake

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// record is a stored user with what serving it needs, computed once: its
// JSON and the lower-cased text that "query" searches.
type record struct {
	user   User
	json   []byte
	search string
}

// store keeps users ordered by created_at (users created in the same
// millisecond keep the order they were added in) and indexed by id, so a page
// in creation order is a window of the slice and a lookup is a map access.
type store struct {
	users []*record
	byID  map[string]*record
	seeds int // users seeded so far, to keep seeded emails distinct
}

func newStore() store { return store{byID: map[string]*record{}} }

func newRecord(u User) *record {
	raw, err := json.Marshal(u)
	if err != nil { // only metadata could fail, and normalize made it JSON
		panic(fmt.Sprintf("clerkfake: encode user: %v", err))
	}
	fields := []string{u.ID, u.Username, u.FirstName, u.LastName, u.FirstName + " " + u.LastName, u.ExternalID}
	for _, e := range u.EmailAddresses {
		fields = append(fields, e.EmailAddress)
	}
	return &record{user: u, json: raw, search: strings.ToLower(strings.Join(fields, "\x00"))}
}

// newest is the created_at of the most recently created user, or the zero time.
func (st *store) newest() time.Time {
	if len(st.users) == 0 {
		return time.Time{}
	}
	return st.users[len(st.users)-1].user.CreatedAt
}

// put stores u (already normalized), replacing a stored user with its id.
func (st *store) put(u User) {
	st.remove(u.ID)
	r := newRecord(u)
	at := sort.Search(len(st.users), func(i int) bool { return st.users[i].user.CreatedAt.After(u.CreatedAt) })
	st.users = append(st.users, nil)
	copy(st.users[at+1:], st.users[at:])
	st.users[at] = r
	st.byID[u.ID] = r
}

// remove deletes the user with id and reports whether there was one.
func (st *store) remove(id string) bool {
	r, ok := st.byID[id]
	if !ok {
		return false
	}
	delete(st.byID, id)
	at := st.index(r)
	st.users = append(st.users[:at], st.users[at+1:]...)
	return true
}

// index finds r's position: a binary search to its creation time, then a
// short scan over the users created in the same millisecond.
func (st *store) index(r *record) int {
	at := sort.Search(len(st.users), func(i int) bool { return !st.users[i].user.CreatedAt.Before(r.user.CreatedAt) })
	for st.users[at] != r {
		at++
	}
	return at
}

// AddUser stores u and returns it as stored: an empty ID becomes
// "user_" + random, a zero CreatedAt becomes Now (but never before the newest
// stored user, so users added without a time keep their order), and empty
// email ids, verification and primary email id are filled in. A user with the
// ID of a stored user replaces it.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	u = u.normalize(s.nextCreatedAt(s.now()))
	s.store.put(u)
	return u.clone()
}

// nextCreatedAt is t, or one millisecond after the newest user when t is not
// after it. Callers hold s.mu.
func (s *Server) nextCreatedAt(t time.Time) time.Time {
	t = toMillis(t)
	if n := s.store.newest(); !t.After(n) && !n.IsZero() {
		return n.Add(time.Millisecond)
	}
	return t
}

// DeleteUser removes the user with id and reports whether there was one.
func (s *Server) DeleteUser(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store.remove(id)
}

// Users returns a copy of every stored user, ordered by created_at.
func (s *Server) Users() []User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]User, len(s.store.users))
	for i, r := range s.store.users {
		out[i] = r.user.clone()
	}
	return out
}

// user returns the stored JSON of the user with id.
func (s *Server) user(id string) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.store.byID[id]
	if !ok {
		return nil, false
	}
	return r.json, true
}

var (
	firstNames = []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis",
		"Radia", "John", "Katherine", "Tim", "Hedy", "Linus", "Sophie", "Guido", "Anita", "Bjarne"}
	lastNames = []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton",
		"Ritchie", "Perlman", "McCarthy", "Johnson", "Berners-Lee", "Lamarr", "Torvalds", "Wilson", "van Rossum", "Borg", "Stroustrup"}
	emailDomains = []string{"example.com", "example.org", "example.net"}
)

// SeedUsers adds n realistic users and returns them as stored: distinct
// names and emails, most with a username, a password and a sign-in soon
// after sign-up, some with public metadata. Their created_at values are one
// minute apart, the last a minute before Now, and strictly increasing, also
// past any user already stored.
func (s *Server) SeedUsers(n int) []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]User, 0, n)
	for i := range n {
		seq := s.store.seeds
		s.store.seeds++
		u := seedUser(seq, s.nextCreatedAt(now.Add(-time.Duration(n-i)*time.Minute)))
		u = u.normalize(u.CreatedAt)
		s.store.put(u)
		out = append(out, u.clone())
	}
	return out
}

// seedUser makes the seq-th seeded user, created at created.
func seedUser(seq int, created time.Time) User {
	first := firstNames[seq%len(firstNames)]
	last := lastNames[(seq/len(firstNames))%len(lastNames)]
	local := strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(first + "." + last))
	u := User{
		FirstName:       first,
		LastName:        last,
		EmailAddresses:  []EmailAddress{{EmailAddress: fmt.Sprintf("%s.%d@%s", local, seq, emailDomains[seq%len(emailDomains)])}},
		PasswordEnabled: seq%4 != 0,
		CreatedAt:       created,
		UpdatedAt:       created.Add(time.Duration(seq%50) * time.Second),
	}
	if seq%3 != 2 {
		u.Username = fmt.Sprintf("%s%d", strings.ToLower(first), seq)
	}
	if seq%5 != 4 {
		u.LastSignInAt = created.Add(time.Duration(seq%50+1) * time.Second)
		u.LastActiveAt = u.LastSignInAt.Truncate(24 * time.Hour)
	}
	if seq%10 == 0 {
		u.PublicMetadata = map[string]any{"plan": "pro"}
	}
	return u
}
