package proctree_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clerk-lambda/internal/proctree"
)

// helperEnv makes the test binary a helper that starts a sleep in a
// process group of its own, prints the sleep's pid and waits: a tree that
// one KillGroup of the helper does not reach.
const helperEnv = "PROCTREE_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		sleep := exec.Command("sleep", "60")
		sleep.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := sleep.Start(); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println(sleep.Process.Pid)
		_ = sleep.Wait()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// groupTree starts the helper and returns its pid and its sleep's, which
// leads a process group of its own.
func groupTree(t *testing.T) (helper, sleep int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.SysProcAttr = proctree.ChildAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	helper = cmd.Process.Pid
	line, readErr := bufio.NewReader(stdout).ReadString('\n')
	if sleep, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		proctree.KillGroup(helper)
		t.Fatalf("the helper said %q (%v), want its sleep's pid", line, readErr)
	}
	t.Cleanup(func() {
		proctree.KillGroup(sleep)
		proctree.KillGroup(helper)
		_ = cmd.Wait()
	})
	if pgid, _ := syscall.Getpgid(sleep); pgid != sleep {
		t.Fatalf("the helper's sleep is in group %d, want its own", pgid)
	}
	return helper, sleep
}

// TestKillTreeReachesOtherGroups kills a process whose child leads a
// process group of its own: KillTree finds and ends it too.
func TestKillTreeReachesOtherGroups(t *testing.T) {
	t.Parallel()
	helper, sleep := groupTree(t)
	proctree.KillTree(helper)
	waitEnded(t, helper)
	waitEnded(t, sleep)
}

// TestAdoptOrphans makes this test binary a subreaper and orphans a sleep:
// it becomes this process's child, where Descendants still finds it. It
// does not run in parallel, so no other test's orphan is adopted.
func TestAdoptOrphans(t *testing.T) {
	if err := proctree.AdoptOrphans(); err != nil {
		t.Fatal(err)
	}
	sh := exec.Command("sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!")
	sh.SysProcAttr = proctree.ChildAttr()
	out, err := sh.Output()
	if err != nil {
		t.Skipf("no shell to run: %v", err)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("the shell said %q, want the sleep's pid", out)
	}
	defer func() {
		proctree.KillGroup(orphan)
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(orphan, &ws, 0, nil)
	}()
	if got := proctree.Children(os.Getpid()); !slices.Contains(got, orphan) {
		t.Errorf("children of this process %v, want the orphaned sleep %d", got, orphan)
	}
}

// tree starts a shell that starts a sleep and a second shell, which starts
// a sleep of its own, and returns once all four processes exist: the outer
// shell's pid, the inner shell's, and both sleeps'. The whole group is
// killed when the test ends.
func tree(t *testing.T) (outer int, inner int, sleeps []int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", `sleep 60 & sh -c 'sleep 60 & echo ready; wait' & wait`)
	cmd.SysProcAttr = proctree.ChildAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("no shell to start: %v", err)
	}
	outer = cmd.Process.Pid
	t.Cleanup(func() {
		proctree.KillGroup(outer)
		_ = cmd.Wait()
	})
	// The inner shell says ready after starting its sleep, and the outer
	// shell started the first sleep before the inner shell.
	if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("the shell said %q (%v), want ready", line, err)
	}
	for _, c := range proctree.Children(outer) {
		if below := proctree.Children(c); len(below) > 0 {
			inner = c
			sleeps = append(sleeps, below...)
		} else {
			sleeps = append(sleeps, c)
		}
	}
	if inner == 0 || len(sleeps) != 2 {
		t.Fatalf("children of the outer shell: %v, want a sleep and a shell with a sleep", proctree.Children(outer))
	}
	return outer, inner, sleeps
}

func TestDescendants(t *testing.T) {
	t.Parallel()
	outer, inner, sleeps := tree(t)

	if got := proctree.Children(outer); len(got) != 2 || !slices.Contains(got, inner) {
		t.Errorf("Children(outer) = %v, want a sleep and the inner shell %d", got, inner)
	}
	got := proctree.Descendants(outer)
	want := append([]int{inner}, sleeps...)
	if len(got) != len(want) {
		t.Fatalf("Descendants(outer) = %v, want %v in some order", got, want)
	}
	for _, pid := range want {
		if !slices.Contains(got, pid) {
			t.Errorf("Descendants(outer) = %v, missing %d", got, pid)
		}
	}
	innerSleep := proctree.Children(inner)[0]
	if slices.Index(got, innerSleep) < slices.Index(got, inner) {
		t.Errorf("Descendants(outer) = %v lists %d before its parent %d", got, innerSleep, inner)
	}
	if mine := proctree.Descendants(os.Getpid()); !slices.Contains(mine, outer) || !slices.Contains(mine, innerSleep) {
		t.Errorf("Descendants(this test) = %v, want the outer shell %d and, deeper, %d", mine, outer, innerSleep)
	}
	if got := proctree.Children(innerSleep); len(got) != 0 {
		t.Errorf("Children(a sleep) = %v, want none", got)
	}
}

// TestKillGroupReachesTheTree checks that one KillGroup ends every process
// of a tree whose processes stayed in the leader's group.
func TestKillGroupReachesTheTree(t *testing.T) {
	t.Parallel()
	outer, inner, sleeps := tree(t)
	all := append([]int{outer, inner}, sleeps...)
	for _, pid := range all {
		if !proctree.Alive(pid) {
			t.Fatalf("process %d is not alive before the kill", pid)
		}
	}
	proctree.KillGroup(outer)
	for _, pid := range all {
		waitEnded(t, pid)
	}
}

// TestAlive covers a process that runs, one that has ended and been
// collected, and a zombie: ended, but not collected yet.
func TestAlive(t *testing.T) {
	t.Parallel()
	if !proctree.Alive(os.Getpid()) {
		t.Error("this test's own process is not alive")
	}

	collected := exec.Command("true")
	if err := collected.Run(); err != nil {
		t.Skipf("no true to run: %v", err)
	}
	if proctree.Alive(collected.Process.Pid) {
		t.Errorf("a collected process %d is alive", collected.Process.Pid)
	}

	zombie := exec.Command("true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	pid := zombie.Process.Pid
	waitEnded(t, pid)
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("the ended process %d was collected before Wait: %v", pid, err)
	}
	if err := zombie.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestStopEndsAProcessThatIgnoresTheSignal stops a shell that ignores
// SIGTERM: after the grace it is killed, with the sleep it started.
func TestStopEndsAProcessThatIgnoresTheSignal(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sh", "-c", `trap "" TERM; sleep 60 & wait`)
	p, err := proctree.Start(cmd, nil)
	if err != nil {
		t.Skipf("no shell to start: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(proctree.Children(cmd.Process.Pid)) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the shell started no sleep")
		}
	}
	sleep := proctree.Children(cmd.Process.Pid)[0]
	start := time.Now()
	p.Stop(syscall.SIGTERM, 200*time.Millisecond)
	select {
	case <-p.Done():
	default:
		t.Fatal("Stop returned before the process was collected")
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("Stop returned after %s, before the grace of 200ms", waited)
	}
	waitEnded(t, sleep)
}

// waitEnded polls until pid is no longer alive, and fails the test if that
// takes more than ten seconds.
func waitEnded(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); proctree.Alive(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still alive", pid)
		}
	}
}
