package clerkapi

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/clerk/clerk-sdk-go/v2"
)

// pageSize is the most users Clerk returns in one page.
const pageSize = 500

// EachUser calls fn with every user, oldest first, each exactly once, one
// request per page of 500 and no request for the count. It stops at the
// first error from fn, which it returns as is, or when ctx ends.
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
	var (
		started bool
		mark    int64           // created_at of the newest user passed to fn
		atMark  map[string]bool // ids passed to fn that were created at mark
	)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("clerkapi: list users: %w", context.Cause(ctx))
		}
		q := url.Values{"limit": {strconv.Itoa(pageSize)}, "order_by": {"+created_at"}}
		if started {
			q.Set("created_at_after", strconv.FormatInt(mark-1, 10))
			if skip := len(atMark) - 1; skip > 0 {
				q.Set("offset", strconv.Itoa(skip))
			}
		}
		page, err := c.listPage(ctx, q)
		if err != nil {
			return err
		}
		for _, u := range page {
			if started && (u.CreatedAt < mark || (u.CreatedAt == mark && atMark[u.ID])) {
				continue // seen on an earlier page
			}
			if !started || u.CreatedAt > mark {
				started, mark, atMark = true, u.CreatedAt, map[string]bool{}
			}
			atMark[u.ID] = true
			if err := fn(u); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
	}
}
