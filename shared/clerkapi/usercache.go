package clerkapi

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"golang.org/x/sync/singleflight"
)

// UserCache keeps the users a Client looked up, per execution environment,
// for a TTL: GET /me asks for the caller's own user on every request, and a
// user calling it in a loop would otherwise spend the whole instance's
// Backend API quota. Clerk's answer that a user does not exist is kept too.
// Other failures are not kept. Concurrent lookups of one user share one
// request. It is safe for concurrent use.
//
// A user's changes (a new name, new metadata) show after at most the TTL.
// What is kept, and returned to every caller alike, leaves out the private
// and unsafe metadata: the first is
// never shown to the user, and the second the user can make as large as
// Clerk allows, which would make the size bound meaningless.
type UserCache struct {
	client  *Client
	ttl     time.Duration
	max     int
	now     func() time.Time
	flight  singleflight.Group
	mu      sync.Mutex
	entries map[string]cachedUser
}

type cachedUser struct {
	user    *clerk.User
	err     error // a "no such user" answer
	expires time.Time
}

// DefaultUserCacheSize bounds a UserCache: at about a kilobyte a user, 10,000
// users are some 10 MiB of a 128 MB function.
const DefaultUserCacheSize = 10000

// NewUserCache keeps c's users for ttl, at most max of them (0 =
// DefaultUserCacheSize). A ttl of 0 keeps nothing: every lookup asks Clerk.
func NewUserCache(c *Client, ttl time.Duration, max int) *UserCache {
	if max <= 0 {
		max = DefaultUserCacheSize
	}
	return &UserCache{client: c, ttl: ttl, max: max, now: time.Now, entries: map[string]cachedUser{}}
}

// User is Client.User, answered from the cache while the entry is fresh.
func (u *UserCache) User(ctx context.Context, id string) (*clerk.User, error) {
	if u.ttl <= 0 {
		return u.client.User(ctx, id)
	}
	if e, ok := u.fresh(id); ok {
		return e.user, e.err
	}
	// The lookup serves every caller waiting on it, so the first caller's
	// leaving does not cut it short; it keeps the first caller's deadline.
	flightCtx := context.WithoutCancel(ctx)
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		flightCtx, cancel = context.WithDeadline(flightCtx, d)
		defer cancel()
	}
	v, err, _ := u.flight.Do(id, func() (any, error) {
		user, err := u.client.User(flightCtx, id)
		user = slim(user)
		if err == nil || NoSuchUser(err) {
			u.keep(id, cachedUser{user: user, err: err, expires: u.now().Add(u.ttl)})
		}
		return user, err
	})
	user, _ := v.(*clerk.User)
	return user, err
}

func (u *UserCache) fresh(id string) (cachedUser, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	e, ok := u.entries[id]
	if !ok || !u.now().Before(e.expires) {
		return cachedUser{}, false
	}
	return e, true
}

// slim is a copy of user without its private and unsafe metadata.
func slim(user *clerk.User) *clerk.User {
	if user == nil {
		return nil
	}
	c := *user
	c.PrivateMetadata, c.UnsafeMetadata = nil, nil
	return &c
}

// keep stores an entry; when the cache is full it first drops the expired
// entries, then, if none had expired, any one entry.
func (u *UserCache) keep(id string, e cachedUser) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.entries[id]; !ok && len(u.entries) >= u.max {
		now := u.now()
		for k, old := range u.entries {
			if !now.Before(old.expires) {
				delete(u.entries, k)
			}
		}
		for k := range u.entries {
			if len(u.entries) < u.max {
				break
			}
			delete(u.entries, k)
		}
	}
	u.entries[id] = e
}

// NoSuchUser reports Clerk's own answer that a user does not exist (a 404
// with Clerk's resource_not_found code), or an id refused without asking. A
// bare 404, from a proxy or a URL that is not the Backend API's, is a
// failure to reach Clerk instead.
func NoSuchUser(err error) bool {
	if !errors.Is(err, ErrNotFound) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == "resource_not_found"
	}
	return true
}
