package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"clerk-lambda/internal/proctree"
)

// command is name with args, in dir, bounded by ctx: when ctx ends, the
// process and every process it started are killed.
func command(ctx context.Context, dir string, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = proctree.ChildAttr()
	cmd.Cancel = func() error {
		killTree(cmd.Process.Pid)
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs a command to its end within limit and returns its standard
// output. A failure names the command and quotes the end of its standard
// error.
func run(ctx context.Context, limit time.Duration, dir string, env []string, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := command(ctx, dir, env, name, args...)
	var stdout bytes.Buffer
	stderr := &tail{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return stdout.Bytes(), fmt.Errorf("%s: stopped after %s: %s", describe(name, args), limit, stderr)
	}
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %v: %s", describe(name, args), err, stderr)
	}
	return stdout.Bytes(), nil
}

// describe is a command line short enough for an error message.
func describe(name string, args []string) string {
	s := strings.Join(append([]string{name}, args...), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// proc is a long-running process, such as a server, that must be stopped.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// start starts cmd and watches for its end.
func start(cmd *exec.Cmd) (*proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to end with sig, gives it grace to clean up, then
// kills it and everything it started, and waits for it.
func (p *proc) stop(sig os.Signal, grace time.Duration) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(sig)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	killTree(p.cmd.Process.Pid)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// killDescendants kills every process this one started that is still
// running, however deep. Where descendants cannot be listed it does nothing:
// every child is killed by group when it is stopped.
func killDescendants() {
	for _, pid := range proctree.Descendants(os.Getpid()) {
		proctree.KillGroup(pid)
	}
}

// killTree kills pid, its process group, and all its descendants, found
// before anything is killed so none is orphaned first.
func killTree(pid int) {
	below := proctree.Descendants(pid)
	proctree.KillGroup(pid)
	for _, d := range below {
		proctree.KillGroup(d)
	}
}

// tail keeps the last max bytes written to it, for error messages from a
// process that may write a lot.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return "(no output)"
	}
	return s
}

// lineWatcher passes lines to a function as a process writes them.
type lineWatcher struct {
	mu      sync.Mutex
	partial []byte
	line    func(string)
}

func (l *lineWatcher) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 64<<10 { // a line this long is not one we look for
		l.partial = l.partial[:0]
	}
	return len(p), nil
}

var _ io.Writer = (*lineWatcher)(nil)
