package export

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/clerk/clerk-sdk-go/v2"
)

// Users is where an export reads the users from. *clerkapi.Client is one:
// EachUser calls fn once for every user, page by page, in creation order.
type Users interface {
	EachUser(ctx context.Context, fn func(*clerk.User) error) error
}

// bufferSize is the buffer between the gzip writer and w, so w sees few,
// large writes rather than one per compressed block.
const bufferSize = 64 << 10

// Write streams every user of src to w as gzip-compressed JSON lines, one
// user per line, and returns how many users it wrote. onUser, when not nil,
// is called after each user with the count so far (for progress display).
//
// Nothing is held but the page being read: memory stays flat however many
// users there are. On an error the count says how far it got; what was
// written to w is then incomplete and must not be used.
func Write(ctx context.Context, src Users, w io.Writer, onUser func(n int64)) (int64, error) {
	buf := bufio.NewWriterSize(w, bufferSize)
	zw, err := gzip.NewWriterLevel(buf, gzip.BestSpeed)
	if err != nil {
		return 0, err
	}
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	var n int64
	err = src.EachUser(ctx, func(u *clerk.User) error {
		if err := enc.Encode(u); err != nil {
			return fmt.Errorf("write user %s: %w", u.ID, err)
		}
		n++
		if onUser != nil {
			onUser(n)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	if err := zw.Close(); err != nil {
		return n, fmt.Errorf("finish gzip stream: %w", err)
	}
	if err := buf.Flush(); err != nil {
		return n, fmt.Errorf("finish gzip stream: %w", err)
	}
	return n, nil
}

// thousands formats a count with comma separators, as in "3,500".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
