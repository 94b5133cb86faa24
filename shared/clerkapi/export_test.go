package clerkapi

import (
	"context"
	"time"
)

// SetWait replaces how c waits between attempts, so tests can see the waits
// without spending them.
func SetWait(c *Client, wait func(context.Context, time.Duration) error) { c.wait = wait }
