package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// childAttr puts a child in a process group of its own, so it can be killed
// with everything it started, and has the kernel kill it should this
// program die first.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// adoptOrphans makes this process the reaper of its orphaned descendants
// (PR_SET_CHILD_SUBREAPER), so a process whose parent was killed first
// (a function under a killed emulator) is still found and ended by
// killDescendants.
func adoptOrphans() {
	const prSetChildSubreaper = 36
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
}

// killDescendants kills every process this one started that is still
// running, however deep.
func killDescendants() {
	for _, pid := range descendants(os.Getpid()) {
		kill(pid)
	}
}

// killTree kills pid, its process group, and all its descendants, found
// before anything is killed so none is orphaned first.
func killTree(pid int) {
	below := descendants(pid)
	kill(pid)
	for _, d := range below {
		kill(d)
	}
}

func kill(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// descendants lists the processes below pid, from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp := parentPID(p); pp > 0 {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parentPID reads a process's parent from /proc/<pid>/stat; 0 when the
// process is gone.
func parentPID(pid int) int {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// the fields after the last ')' are the state, then the parent's pid.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}
