package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"clerk-lambda/dev/emulator"
	"clerk-lambda/internal/proctree"
)

// killLog records the pids a Runner kills, and kills them.
type killLog struct {
	mu   sync.Mutex
	pids map[int]int
}

func (k *killLog) kill(pid int) {
	k.mu.Lock()
	k.pids[pid]++
	k.mu.Unlock()
	proctree.KillTree(pid)
}

func (k *killLog) counts() map[int]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[int]int{}
	for pid, n := range k.pids {
		out[pid] = n
	}
	return out
}

// newKillLoggingRunner returns a Runner with the fixture as "Fixture"
// whose kills are logged, and output goes to out.
func newKillLoggingRunner(t *testing.T, out *signalWriter) (*emulator.Runner, *killLog) {
	t.Helper()
	kills := &killLog{pids: map[int]int{}}
	cfg := emulator.Config{RIE: rieBin(t)}
	if out != nil {
		cfg.Output = out
	}
	r := emulator.NewRunner(emulator.WithKill(cfg, kills.kill))
	t.Cleanup(func() { r.Close() })
	r.Set(emulator.Function{Name: "Fixture", Bootstrap: fixtureBinary(t), Timeout: 10 * time.Second, MemoryMB: 128})
	return r, kills
}

// signalWriter closes seen once a write contains mark.
type signalWriter struct {
	mark string
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.mark) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// TestCloseWhileBusyKillsOnce closes a Runner during an invocation: Close
// stops the busy instance, and the invocation's end stops it again, which
// must not signal the emulator's pid a second time, since by then it may
// belong to another process.
func TestCloseWhileBusyKillsOnce(t *testing.T) {
	t.Parallel()
	busy := &signalWriter{mark: "fixture mode sleep", seen: make(chan struct{})}
	r, kills := newKillLoggingRunner(t, busy)
	errc := make(chan error, 1)
	go func() {
		_, err := r.Invoke(context.Background(), "Fixture", []byte(`{"mode":"sleep","ms":"8000"}`))
		errc <- err
	}()
	<-busy.seen
	r.Close()
	if err := <-errc; err == nil {
		t.Fatal("the invocation succeeded, want an error: its instance was stopped")
	}
	got := kills.counts()
	if len(got) != 1 {
		t.Fatalf("kills %v, want one emulator killed", got)
	}
	for pid, n := range got {
		if n != 1 {
			t.Errorf("emulator %d killed %d times, want once", pid, n)
		}
	}
}

// TestCrashedEmulatorIsNotKilled crashes an idle instance's emulator and
// waits until it has been collected; the next invocation finds it broken
// and stops it, which must send no signal to its pid.
func TestCrashedEmulatorIsNotKilled(t *testing.T) {
	t.Parallel()
	r, kills := newKillLoggingRunner(t, nil)
	ctx := context.Background()
	answer, err := r.Invoke(ctx, "Fixture", []byte(`{"mode":"pid"}`))
	if err != nil {
		t.Fatal(err)
	}
	var ids struct{ PPID int }
	if err := json.Unmarshal(answer, &ids); err != nil || ids.PPID <= 1 {
		t.Fatalf("answer %s, want the emulator's pid as ppid", answer)
	}
	emulatorPID := ids.PPID
	if err := syscall.Kill(emulatorPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Signal 0 reaches a process until it is collected, so ESRCH means
	// the Runner has collected the emulator.
	deadline := time.Now().Add(10 * time.Second)
	for !errors.Is(syscall.Kill(emulatorPID, 0), syscall.ESRCH) {
		if time.Now().After(deadline) {
			t.Fatalf("emulator %d not collected within 10 s of its crash", emulatorPID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := r.Invoke(ctx, "Fixture", []byte(`{"mode":"echo"}`)); err == nil {
		t.Fatal("an invocation on the crashed emulator succeeded")
	}
	if _, err := r.Invoke(ctx, "Fixture", []byte(`{"mode":"echo"}`)); err != nil {
		t.Errorf("after a crash, a fresh instance failed: %v", err)
	}
	if n := kills.counts()[emulatorPID]; n != 0 {
		t.Errorf("the crashed emulator's pid %d was killed %d times after it was collected, want never", emulatorPID, n)
	}
}
