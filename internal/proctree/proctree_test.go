//go:build unix

package proctree_test

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"

	"clerk-lambda/internal/proctree"
)

// TestKillGroup starts a child with ChildAttr and checks that it leads a
// group of its own and that KillGroup ends it with SIGKILL.
func TestKillGroup(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = proctree.ChildAttr()
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep to start: %v", err)
	}
	pid := cmd.Process.Pid
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	if pgid != pid {
		t.Errorf("the child's process group is %d, want its own, %d", pgid, pid)
	}
	proctree.KillGroup(pid)
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("wait: %v, want the child killed", err)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the child ended with %v, want SIGKILL", exit)
	}
	proctree.KillGroup(pid) // gone already: nothing to kill, nothing to report
}
