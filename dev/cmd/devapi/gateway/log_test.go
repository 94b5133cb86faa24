package gateway

import (
	"net"
	"strings"
	"testing"
	"time"
	"unicode"
)

// TestLogLineEscapesTheRequest: a page in the developer's browser can send
// any path to 127.0.0.1; the request log shows it, escaped, and never lets
// it reach the terminal as control characters or forge the line's fields.
func TestLogLineEscapesTheRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/admin/users/user_1", "GET     /admin/users/user_1 200 1ms"},
		{"GET", "/caf\u00e9/\u65e5\u672c", "GET     /caf\u00e9/\u65e5\u672c 200 1ms"},
		{"GET", "/\x1b[2J\x1b]0;owned\x07", `GET     "/\x1b[2J\x1b]0;owned\a" 200 1ms`},
		{"GET", "/a\r\n12:00:00 GET /forged 200", `GET     "/a\r\n12:00:00 GET /forged 200" 200 1ms`},
		{"GET", "/a b", `GET     "/a b" 200 1ms`},
		{"GET", `/"quoted"`, `GET     "/\"quoted\"" 200 1ms`},
		{"GET", "/rtl\u202eexe.txt", `GET     "/rtl\u202eexe.txt" 200 1ms`},
		{"GET", "/bad\xffutf8", `GET     "/bad\xffutf8" 200 1ms`},
		{"G\x1bT", "/", `"G\x1bT" / 200 1ms`},
	} {
		line := Entry{Method: tc.method, Path: tc.path, Status: 200, Duration: time.Millisecond}.String()
		if line != tc.want {
			t.Errorf("path %q: line %q, want %q", tc.path, line, tc.want)
		}
		if strings.ContainsFunc(line, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) {
			t.Errorf("path %q: line %q holds a character that does not print", tc.path, line)
		}
	}
}

// TestRequestWithEscapesThroughTheGateway sends the ESC sequence as a
// browser would, percent-encoded, to the running gateway.
func TestRequestWithEscapesThroughTheGateway(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.server.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /public%1b%5b2J%0a%07 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	e := <-f.logs
	if e.Path != "/public\x1b[2J\n\a" {
		t.Fatalf("logged path %q, want the decoded path", e.Path)
	}
	if line := e.String(); !strings.Contains(line, `"/public\x1b[2J\n\a" 404`) || strings.ContainsAny(line, "\x1b\n\a") {
		t.Errorf("log line %q", line)
	}
}
