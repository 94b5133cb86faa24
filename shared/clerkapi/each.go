package clerkapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
)

// pageSize is the most users Clerk returns in one page.
const pageSize = 500

// EachUser calls fn with every user, oldest first, each exactly once, one
// request per page of up to 500 and no request for the count. The walk ends
// at the first page that brings no new user, so it costs one request more
// than the pages hold, and a server that answers with fewer users than asked
// for cannot end it early. It stops at the first error from fn, which it
// returns as is, or when ctx ends, and fails rather than loop when a page
// brings only users it has already seen. So that a steady stream of
// sign-ups cannot keep it going, it also ends at a short page whose new
// users were all created after the walk began.
//
// Paging by offset would skip users: deleting a user from an earlier page
// shifts every later one back by one, so the next offset steps over a user
// never seen (and Clerk's offsets get slower the deeper they go). EachUser
// pages by creation time instead. It orders by +created_at and asks each
// page for the users created at or after the newest creation time it has
// seen (created_at_after = that time - 1ms), so a deletion elsewhere cannot
// move the start of the next page, and users created meanwhile come after
// everyone else, at the end. Each page re-reads the users it has already
// seen at that boundary millisecond, and skips them by id: of the users
// sharing the boundary millisecond, it passes over all but the last seen
// with the offset and drops that one as a duplicate. That overlap of one
// makes a deletion of the boundary user itself harmless too. What paging
// cannot see it does not claim: a user created during the walk with a
// creation time in the past (an import setting created_at) may be missed,
// and if two or more users of a boundary millisecond are deleted between two
// pages, users of that same millisecond may be.
func (c *Client) EachUser(ctx context.Context, fn func(*clerk.User) error) error {
	return c.EachRawUser(ctx, func(raw json.RawMessage) error {
		var u clerk.User
		if err := json.Unmarshal(raw, &u); err != nil {
			return fmt.Errorf("clerkapi: list users: decode user: %w", err)
		}
		return fn(&u)
	})
}

// EachRawUser walks the users as EachUser does, but passes each user as the
// JSON object the Backend API returned, every field kept, including those
// clerk-sdk-go's User does not have. fn must not keep raw after it returns.
// A null entry in a page is skipped.
func (c *Client) EachRawUser(ctx context.Context, fn func(raw json.RawMessage) error) error {
	return c.WalkUsers(ctx, &Cursor{}, fn)
}

// Cursor is where a walk of the users stands: enough to continue it in
// another process exactly where it stopped, every user still passed once.
// The zero Cursor starts at the oldest user. It holds no secret.
type Cursor struct {
	// Started is false until the first user was passed.
	Started bool `json:"started"`
	// Mark is the created_at (ms) of the newest user passed.
	Mark int64 `json:"mark"`
	// AtMark are the ids passed that were created at Mark.
	AtMark []string `json:"atMark,omitempty"`
	// Begun is when the walk began (ms): users created after it come at the
	// end, and a short page of only those ends the walk.
	Begun int64 `json:"begun"`
}

// WalkUsers walks the users as EachRawUser does from cur, and moves cur past
// each user before passing it to fn: when fn stops the walk (returning an
// error), cur is where a later WalkUsers continues, after that user.
func (c *Client) WalkUsers(ctx context.Context, cur *Cursor, fn func(raw json.RawMessage) error) error {
	if cur.Begun == 0 {
		cur.Begun = time.Now().UnixMilli()
	}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("clerkapi: list users: %w", context.Cause(ctx))
		}
		page, err := c.listRawPage(ctx, cur.query())
		if err != nil {
			return err
		}
		fresh, oldest, err := cur.pass(page, fn)
		if err != nil {
			return err
		}
		if fresh == 0 {
			return endOfWalk(len(page), cur.Mark)
		}
		if len(page) < pageSize && oldest > cur.Begun {
			return nil // caught up: everything new on this short page was created during the walk
		}
	}
}

// query asks for the next page: the users created at or after Mark, past
// all but the last of those already passed at Mark.
func (cur *Cursor) query() url.Values {
	q := url.Values{"limit": {strconv.Itoa(pageSize)}, "order_by": {"+created_at"}}
	if cur.Started {
		q.Set("created_at_after", strconv.FormatInt(cur.Mark-1, 10))
		if skip := len(cur.AtMark) - 1; skip > 0 {
			q.Set("offset", strconv.Itoa(skip))
		}
	}
	return q
}

// pass hands fn the users of page not passed before, moving the cursor past
// each first, and returns how many there were and the first one's
// created_at.
func (cur *Cursor) pass(page []json.RawMessage, fn func(raw json.RawMessage) error) (fresh int, oldest int64, err error) {
	for _, raw := range page {
		u, ok, err := walkKey(raw)
		if err != nil {
			return fresh, oldest, err
		}
		if !ok || cur.seen(u) {
			continue
		}
		if !cur.Started || u.CreatedAt > cur.Mark {
			cur.Started, cur.Mark, cur.AtMark = true, u.CreatedAt, nil
		}
		cur.AtMark = append(cur.AtMark, u.ID)
		if fresh++; fresh == 1 {
			oldest = u.CreatedAt
		}
		if err := fn(raw); err != nil {
			return fresh, oldest, err
		}
	}
	return fresh, oldest, nil
}

// seen reports whether u was passed on an earlier page.
func (cur *Cursor) seen(u userKey) bool {
	return cur.Started && (u.CreatedAt < cur.Mark || (u.CreatedAt == cur.Mark && slices.Contains(cur.AtMark, u.ID)))
}

// endOfWalk decides what a page that brought no new user means. The walk
// ends there: a short page alone proves nothing, since a server may return
// fewer users than asked for. A page of at most one user (the boundary user
// seen on the page before) is the end; a longer page of users already seen
// means the server did not honour the cursor, and asking again would get the
// same page forever.
func endOfWalk(pageLen int, mark int64) error {
	if pageLen <= 1 {
		return nil
	}
	return fmt.Errorf("clerkapi: list users: the Backend API did not advance past created_at %d: a page of %d users held none not seen before", mark, pageLen)
}

// userKey is what the walk reads of each user.
type userKey struct {
	ID        string `json:"id"`
	CreatedAt int64  `json:"created_at"`
}

// walkKey reads the id and creation time of one entry of a page; ok is
// false for a null entry, which the walk skips.
func walkKey(raw json.RawMessage) (k userKey, ok bool, err error) {
	if string(bytes.TrimSpace(raw)) == "null" {
		return k, false, nil
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return k, false, fmt.Errorf("clerkapi: list users: decode user: %w", err)
	}
	if k.ID == "" {
		return k, false, errors.New("clerkapi: list users: a user without an id")
	}
	return k, true, nil
}
