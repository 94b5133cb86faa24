//go:build unix

package proctree

import (
	"os"
	"os/exec"
	"sync"
	"time"
)

// collectTimeout bounds how long Kill waits for a killed process to be
// collected.
const collectTimeout = 5 * time.Second

// Process is a started command that is collected as soon as it exits and
// is never signalled after that: a collected pid may already name another
// process, whose tree a kill would end.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}

	// mu orders ended against the signals Stop and Kill send: once ended
	// is set the pid may be collected, so it is not signalled again.
	mu    sync.Mutex
	ended bool
}

// Start starts cmd as the leader of a process group of its own (ChildAttr)
// and collects it when it exits. exited, when not nil, runs once the
// process is collected and its output copied, before Done is closed: a
// caller flushes what it captured there.
func Start(cmd *exec.Cmd, exited func()) (*Process, error) {
	cmd.SysProcAttr = ChildAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		// Where the exit can be seen before the process is collected, it
		// is marked ended first, so its pid is never signalled once it
		// could be reused; elsewhere it is marked just after.
		if awaitExit(cmd.Process.Pid) {
			p.markEnded()
		}
		_ = cmd.Wait()
		p.markEnded()
		if exited != nil {
			exited()
		}
		close(p.done)
	}()
	return p, nil
}

// Done is closed once the process has exited and been collected.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop asks the process to end with sig, gives it grace to do so, and then
// kills it and everything it started (Kill with KillTree).
func (p *Process) Stop(sig os.Signal, grace time.Duration) {
	if p.whileRunning(func(int) { _ = p.cmd.Process.Signal(sig) }) {
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	p.Kill(KillTree)
}

// Kill calls kill with the process's pid, unless it has exited, and then
// waits a few seconds at most for it to be collected. kill is KillTree, or
// a test's wrapper of it that records what is killed.
func (p *Process) Kill(kill func(pid int)) {
	if p.whileRunning(kill) {
		select {
		case <-p.done:
		case <-time.After(collectTimeout):
		}
	}
}

// whileRunning calls f with the pid unless the process has exited, and
// reports whether it did; the pid cannot be collected until f returns.
func (p *Process) whileRunning(f func(pid int)) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return false
	}
	f(p.cmd.Process.Pid)
	return true
}

func (p *Process) markEnded() {
	p.mu.Lock()
	p.ended = true
	p.mu.Unlock()
}
