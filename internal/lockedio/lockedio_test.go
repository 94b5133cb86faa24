package lockedio_test

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"clerk-lambda/internal/lockedio"
)

// writers and lines are how many goroutines write, and how many lines each.
const writers, lines = 8, 200

// writeLines has each of the writers write its lines to w at once, each
// line in one Write, and returns the lines all of them wrote, sorted.
func writeLines(t *testing.T, w io.Writer, during func()) []string {
	t.Helper()
	var wg sync.WaitGroup
	var want []string
	for g := range writers {
		for i := range lines {
			want = append(want, fmt.Sprintf("writer %d line %d", g, i))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				if _, err := fmt.Fprintf(w, "writer %d line %d\n", g, i); err != nil {
					t.Error(err)
					return
				}
				if during != nil {
					during()
				}
			}
		}()
	}
	wg.Wait()
	sort.Strings(want)
	return want
}

// checkLines fails t unless text holds exactly the lines of want, whole.
func checkLines(t *testing.T, text string, want []string) {
	t.Helper()
	got := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	sort.Strings(got)
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %q, want %q: a write was split or mixed", got[i], want[i])
		}
	}
}

// exclusive is a destination that records any Write that begins while
// another is under way.
type exclusive struct {
	active, overlaps atomic.Int32
	text             strings.Builder
}

func (e *exclusive) Write(p []byte) (int, error) {
	if e.active.Add(1) > 1 {
		e.overlaps.Add(1)
	}
	defer e.active.Add(-1)
	// Two halves with a yield between, so that an unguarded concurrent
	// write would likely begin in between and split the line.
	half := len(p) / 2
	e.text.Write(p[:half])
	runtime.Gosched()
	e.text.Write(p[half:])
	return len(p), nil
}

func TestWriterOneWriteAtATime(t *testing.T) {
	t.Parallel()
	dst := &exclusive{}
	want := writeLines(t, lockedio.NewWriter(dst), nil)
	if n := dst.overlaps.Load(); n > 0 {
		t.Errorf("%d writes overlapped", n)
	}
	checkLines(t, dst.text.String(), want)
}

func TestBufferReadWhileWritten(t *testing.T) {
	t.Parallel()
	var b lockedio.Buffer
	if got := b.String(); got != "" {
		t.Errorf("a new Buffer holds %q, want nothing", got)
	}
	want := writeLines(t, &b, func() {
		if s := b.String(); s != "" && !strings.HasSuffix(s, "\n") {
			t.Errorf("read a line half written: %q", s[max(0, len(s)-20):])
		}
	})
	checkLines(t, b.String(), want)
}
