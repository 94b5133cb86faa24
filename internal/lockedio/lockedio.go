// Package lockedio provides writers that many goroutines may share: each
// Write reaches its destination whole, never interleaved with another, so
// the lines of several processes or loggers stay whole, and a Buffer may be
// read while it is being written.
package lockedio

import (
	"bytes"
	"io"
	"sync"
)

// Writer passes each Write to the writer it wraps, one at a time.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter wraps w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Write writes p to the wrapped writer once no other Write is under way.
func (l *Writer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Buffer collects what is written to it, for reading while writers still
// run: the output of a process or a goroutine under test, for instance.
// Its zero value is an empty buffer ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
