package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestInterruptEndsEveryProcess starts the local API as a subprocess, makes
// it start several emulator and function processes, interrupts it as Ctrl-C
// would, and checks that every one of those processes is gone.
func TestInterruptEndsEveryProcess(t *testing.T) {
	t.Parallel()
	cmd, url := startDevapi(t, "-template", "testdata/serve.yaml")
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(fmt.Sprintf("%s/open?mode=sleep&ms=200&i=%d", url, i))
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	pids := descendants(cmd.Process.Pid)
	var rie, bootstrap int
	for _, pid := range pids {
		switch name := processName(pid); {
		case strings.Contains(name, "aws-lambda-rie"):
			rie++
		case strings.Contains(name, "bootstrap"):
			bootstrap++
		}
	}
	if rie < 2 || bootstrap < 2 {
		t.Fatalf("before the interrupt: %d emulators and %d function processes, want several of each", rie, bootstrap)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after the interrupt: %v, want status 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the local API did not stop within 20 s of the interrupt")
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d (%s) outlived the local API", pid, processName(pid))
		}
	}
}

// descendants lists every process below pid, from /proc.
func descendants(pid int) []int {
	parents := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid := statField(child, 1); ppid != "" {
			p, _ := strconv.Atoi(ppid)
			parents[p] = append(parents[p], child)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		for _, c := range parents[next] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// alive reports whether a process exists and is not a zombie waiting for
// its new parent to collect it.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	return statField(pid, 0) != "Z"
}

// statField returns a field of /proc/<pid>/stat after the command name:
// 0 is the state, 1 the parent's pid.
func statField(pid, n int) string {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) <= n {
		return ""
	}
	return fields[n]
}

func processName(pid int) string {
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(string(cmdline), "\x00", " ")
}
