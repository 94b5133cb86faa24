package emulator

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// maxLine is the longest line Lines holds back; a longer one is passed on
// in pieces of this size, so output that never ends a line cannot grow
// without bound.
const maxLine = 64 << 10

// Lines is an io.Writer that passes on each line written to it, without
// its line ending, as soon as the line is complete: for reading a
// process's output as it runs. It is safe for concurrent use.
type Lines struct {
	mu   sync.Mutex
	buf  []byte
	line func(string)
}

// NewLines returns a Lines that passes each line to line.
func NewLines(line func(string)) *Lines {
	return &Lines{line: line}
}

func (l *Lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		line, rest, found := bytes.Cut(l.buf, []byte("\n"))
		if !found {
			if len(l.buf) < maxLine {
				break
			}
			line, rest = l.buf[:maxLine], l.buf[maxLine:]
		}
		l.line(strings.TrimSuffix(string(line), "\r"))
		l.buf = rest
	}
	return len(p), nil
}

// Flush passes on a last line that has no line ending.
func (l *Lines) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.line(strings.TrimSuffix(string(l.buf), "\r"))
		l.buf = nil
	}
}

// functionOutput writes a function's output to out one line at a time,
// each prefixed with the function's name. It drops blank lines and the
// emulator's own per-invocation START/END/REPORT lines, which the request
// log already covers.
func functionOutput(out io.Writer, name string) *Lines {
	prefix := name + " | "
	return NewLines(func(line string) {
		if strings.TrimSpace(line) == "" {
			return
		}
		for _, noise := range []string{"START RequestId: ", "END RequestId: ", "REPORT RequestId: "} {
			if strings.HasPrefix(line, noise) {
				return
			}
		}
		_, _ = io.WriteString(out, prefix+line+"\n")
	})
}
