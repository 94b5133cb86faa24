//go:build unix

package proctree_test

import (
	"bytes"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"clerk-lambda/internal/proctree"
)

// TestExitedRunsBeforeDone checks that the exited hook sees all of the
// output and runs before Done is closed.
func TestExitedRunsBeforeDone(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	var seen string
	cmd := exec.Command("sh", "-c", "printf 'last line, unterminated'")
	cmd.Stdout = &out
	p, err := proctree.Start(cmd, func() { seen = out.String() })
	if err != nil {
		t.Skipf("no shell to start: %v", err)
	}
	<-p.Done()
	if seen != "last line, unterminated" {
		t.Errorf("exited saw %q, want all the output", seen)
	}
}

// TestKillSendsNothingOnceExited kills a process that has exited and been
// collected: its pid may belong to another process by then, so kill must
// not be called.
func TestKillSendsNothingOnceExited(t *testing.T) {
	t.Parallel()
	p, err := proctree.Start(exec.Command("true"), nil)
	if err != nil {
		t.Skipf("no true to run: %v", err)
	}
	<-p.Done()
	var mu sync.Mutex
	var killed []int
	p.Kill(func(pid int) {
		mu.Lock()
		killed = append(killed, pid)
		mu.Unlock()
	})
	p.Stop(syscall.SIGTERM, time.Second)
	if len(killed) != 0 {
		t.Errorf("an exited process was killed: %v", killed)
	}
}

func TestStartFailure(t *testing.T) {
	t.Parallel()
	if _, err := proctree.Start(exec.Command("/nonexistent/program"), nil); err == nil {
		t.Error("starting a missing program succeeded")
	}
}
