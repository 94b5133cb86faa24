package export

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"clerk-lambda/shared/clerkapi"
)

// Users is where an export reads the users from. *clerkapi.Client is one:
// WalkUsers calls fn once for every user from the cursor on, page by page,
// in creation order, with the user's JSON object exactly as the Backend API
// returned it, moving the cursor past each user before fn sees it.
type Users interface {
	WalkUsers(ctx context.Context, cur *clerkapi.Cursor, fn func(raw json.RawMessage) error) error
}

// bufferSize is the buffer between the gzip writer and w, so w sees few,
// large writes rather than one per compressed block.
const bufferSize = 64 << 10

// Write streams every user of src to w as gzip-compressed JSON lines, one
// user per line, each the user's JSON from the Backend API with every field
// it had (compacted onto one line, nothing decoded or re-encoded), and returns how many users it wrote. onUser, when not nil,
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
	var (
		n    int64
		line bytes.Buffer
	)
	err = src.WalkUsers(ctx, &clerkapi.Cursor{}, func(raw json.RawMessage) error {
		line.Reset()
		if err := json.Compact(&line, raw); err != nil {
			return fmt.Errorf("user %s of the Backend API is not JSON: %w", thousands(n+1), err)
		}
		line.WriteByte('\n')
		if _, err := zw.Write(line.Bytes()); err != nil {
			return fmt.Errorf("write user %s: %w", thousands(n+1), err)
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
