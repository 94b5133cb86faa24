package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress redraws one line on a terminal at a steady pace: users done of
// the total, the rate and the time left. A nil *progress draws nothing, so
// callers need not care whether there is a terminal.
type progress struct {
	w      io.Writer
	total  int64
	start  time.Time
	done   atomic.Int64
	quit   chan struct{}
	exited chan struct{}
	once   sync.Once
}

// startProgress draws on w every interval until stop.
func startProgress(w io.Writer, total int64, every time.Duration) *progress {
	p := &progress{w: w, total: total, start: time.Now(), quit: make(chan struct{}), exited: make(chan struct{})}
	go p.loop(every)
	return p
}

// set records how many users are done; it is cheap enough to call per user.
func (p *progress) set(n int64) {
	if p != nil {
		p.done.Store(n)
	}
}

// stop ends the drawing and clears the line. It may be called more than once.
func (p *progress) stop() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.quit)
		<-p.exited
		fmt.Fprint(p.w, "\r\033[K")
	})
}

func (p *progress) loop(every time.Duration) {
	defer close(p.exited)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-tick.C:
			fmt.Fprint(p.w, "\r"+progressLine(p.done.Load(), p.total, time.Since(p.start))+"\033[K")
		}
	}
}

// barWidth is the width of the bar, in characters.
const barWidth = 30

// progressLine renders the state of an export: a bar and "done/total users"
// when the total is known (0 = unknown), the rate, and the time left.
func progressLine(done, total int64, elapsed time.Duration) string {
	var b strings.Builder
	if total > 0 {
		filled := int(min(float64(done)/float64(total), 1) * barWidth)
		fmt.Fprintf(&b, "[%s%s] %d/%d users", strings.Repeat("=", filled), strings.Repeat(" ", barWidth-filled), done, total)
	} else {
		fmt.Fprintf(&b, "%d users", done)
	}
	var rate float64
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	fmt.Fprintf(&b, "  %.0f/s", rate)
	if rate > 0 && total > done {
		left := time.Duration(float64(total-done) / rate * float64(time.Second))
		fmt.Fprintf(&b, "  ETA %s", left.Round(time.Second))
	}
	return b.String()
}
