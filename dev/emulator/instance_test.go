package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"clerk-lambda/dev/emulator"
	"clerk-lambda/internal/lockedio"
	"clerk-lambda/internal/proctree"
)

// TestStartInvokeStop runs one instance outside a Runner: it answers from
// one function process until it is stopped, and then nothing it started
// runs on.
func TestStartInvokeStop(t *testing.T) {
	t.Parallel()
	out := &lockedio.Buffer{}
	fn := emulator.Function{Name: "Fixture", Bootstrap: fixtureBinary(t), Timeout: 3 * time.Second, MemoryMB: 128}
	inst, err := emulator.Start(emulator.Config{RIE: rieBin(t), Output: out}, fn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var pids []int
	for range 3 {
		answer, err := inst.Invoke(ctx, []byte(`{"mode":"pid"}`))
		if err != nil {
			inst.Stop()
			t.Fatal(err)
		}
		var ids struct{ PID, PPID int }
		if err := json.Unmarshal(answer, &ids); err != nil {
			inst.Stop()
			t.Fatalf("answer %s: %v", answer, err)
		}
		pids = append(pids, ids.PID, ids.PPID)
	}
	if pids[0] != pids[2] || pids[0] != pids[4] {
		t.Errorf("function pids %v, want one warm process for every invocation", pids)
	}
	_, err = inst.Invoke(ctx, []byte(`{"mode":"error"}`))
	var fe *emulator.FunctionError
	if !errors.As(err, &fe) || fe.Type != "errorString" {
		t.Errorf("error %v, want the function's error", err)
	}
	inst.Stop()
	inst.Stop() // a second Stop does nothing
	for _, pid := range pids[:2] {
		waitGone(t, pid)
	}
	if !strings.Contains(out.String(), "Fixture | fixture mode pid\n") {
		t.Errorf("output %q, want the function's lines prefixed with its name", out.String())
	}
}

// TestInvokeEndsWithTheContext gives up on an invocation when its context
// ends, long before the function's timeout.
func TestInvokeEndsWithTheContext(t *testing.T) {
	t.Parallel()
	fn := emulator.Function{Name: "Fixture", Bootstrap: fixtureBinary(t), Timeout: 10 * time.Second, MemoryMB: 128}
	inst, err := emulator.Start(emulator.Config{RIE: rieBin(t)}, fn)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := inst.Invoke(ctx, []byte(`{"mode":"sleep","ms":"5000"}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the context's deadline", err)
	}
}

func TestStartWithoutTheEmulator(t *testing.T) {
	t.Parallel()
	_, err := emulator.Start(emulator.Config{RIE: "/nonexistent/aws-lambda-rie"}, emulator.Function{Name: "F", Bootstrap: "/x/bootstrap"})
	if err == nil || !strings.Contains(err.Error(), "start the Lambda Runtime Interface Emulator") {
		t.Errorf("error %v, want the emulator not started", err)
	}
}

func TestEnvironInheritsNothing(t *testing.T) {
	t.Setenv("CLERK_SECRET_KEY", "sk_live_real")
	t.Setenv("AWS_PROFILE", "production")
	env := strings.Join(emulator.Environ(emulator.Function{Name: "authorizer", Bootstrap: "/x/bootstrap", MemoryMB: 128, Timeout: 10 * time.Second,
		Env: map[string]string{"CLERK_API_URL": "http://127.0.0.1:1/v1", "AWS_LAMBDA_FUNCTION_NAME": "spoofed"}}), "\n")
	for _, want := range []string{"AWS_LAMBDA_FUNCTION_NAME=authorizer", "CLERK_API_URL=http://127.0.0.1:1/v1", "LAMBDA_TASK_ROOT=/x",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "AWS_LAMBDA_FUNCTION_TIMEOUT=10", "PATH=" + os.Getenv("PATH")} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %s", want)
		}
	}
	for _, leak := range []string{"sk_live_real", "AWS_PROFILE", "spoofed"} {
		if strings.Contains(env, leak) {
			t.Errorf("environment holds %s", leak)
		}
	}
}

func TestLines(t *testing.T) {
	t.Parallel()
	var lines []string
	w := emulator.NewLines(func(s string) { lines = append(lines, s) })
	w.Write([]byte("local API on http://127.0.0.1:"))
	w.Write([]byte("4000: 5 routes\nnext"))
	w.Write([]byte(" line\npartial"))
	if got := strings.Join(lines, "|"); got != "local API on http://127.0.0.1:4000: 5 routes|next line" {
		t.Errorf("lines = %q, want the complete lines only, without line endings", lines)
	}
	w.Flush()
	if got := lines[len(lines)-1]; got != "partial" {
		t.Errorf("after Flush the last line is %q, want the unterminated one", got)
	}

	lines = nil
	w.Write([]byte("a line from Windows\r\n"))
	if len(lines) != 1 || lines[0] != "a line from Windows" {
		t.Errorf("lines = %q, want the line without its CRLF", lines)
	}

	lines = nil
	w.Write([]byte(strings.Repeat("x", 100<<10)))
	if len(lines) != 1 || len(lines[0]) != 64<<10 {
		t.Errorf("an unterminated 100 KiB line gave %d lines, want one 64 KiB piece held no longer", len(lines))
	}
}

// waitGone polls until pid is no longer running, and fails the test if
// that takes more than ten seconds.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); proctree.Alive(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs after Stop", pid)
		}
	}
}
