package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"clerk-lambda/internal/proctree"
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
	pids := proctree.Descendants(cmd.Process.Pid)
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
		if proctree.Alive(pid) {
			t.Errorf("process %d (%s) outlived the local API", pid, processName(pid))
		}
	}
}

// processName is a process's command line, from /proc.
func processName(pid int) string {
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(string(cmdline), "\x00", " ")
}
