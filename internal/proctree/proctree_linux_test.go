package proctree_test

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"clerk-lambda/internal/proctree"
)

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
