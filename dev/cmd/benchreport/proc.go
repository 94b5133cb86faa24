package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"clerk-lambda/internal/proctree"
)

// run runs name with args, in dir, to its end within limit, and returns its
// standard output. When limit or ctx ends first, the process and every
// process it started are killed. A failure names the command and quotes
// the end of its standard error.
func run(ctx context.Context, limit time.Duration, dir string, env []string, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = proctree.ChildAttr()
	cmd.Cancel = func() error {
		proctree.KillTree(cmd.Process.Pid)
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
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

// killDescendants kills every process this one started that is still
// running, however deep: with AdoptOrphans, even one whose parent was
// killed first. Where descendants cannot be listed it does nothing: every
// child is killed by group when it is stopped.
func killDescendants() {
	for _, pid := range proctree.Descendants(os.Getpid()) {
		proctree.KillGroup(pid)
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
