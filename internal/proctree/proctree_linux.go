package proctree

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ChildAttr starts a child as the leader of a process group of its own, so
// KillGroup reaches everything it starts, and has the kernel kill it should
// this program die first, so no child outlives it.
func ChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// AdoptOrphans makes this process the reaper of its orphaned descendants
// (PR_SET_CHILD_SUBREAPER): a process whose parent was killed first, such
// as a function under a killed emulator, stays below this one, where
// Descendants still finds it, instead of moving to init.
func AdoptOrphans() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// awaitExit blocks until the child process pid has exited, without
// collecting it, and reports whether it saw that: until it is collected an
// exited process keeps its pid, so it can be marked ended before that pid
// may be reused.
func awaitExit(pid int) bool {
	var info unix.Siginfo // not read
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err == nil
		}
	}
}

// Children lists the processes whose parent is pid.
func Children(pid int) []int {
	return table()[pid]
}

// Descendants lists every process below pid, however deep, each after its
// parent. It reads the whole table first, so a caller that kills them all
// afterwards finds even those whose parent it kills first.
func Descendants(pid int) []int {
	children := table()
	var out []int
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// Alive reports whether pid is running: it exists and is not a zombie, a
// process that has ended and waits for its parent to collect it.
func Alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	state, _, ok := stat(pid)
	return ok && state != "Z"
}

// table maps each running process to its children, from /proc.
func table() map[int][]int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, ok := stat(pid); ok && ppid > 0 {
			children[ppid] = append(children[ppid], pid)
		}
	}
	return children
}

// stat reads a process's state and parent from /proc/<pid>/stat; ok is
// false when the process is gone.
func stat(pid int) (state string, ppid int, ok bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// the fields after the last ')' are the state, then the parent's pid.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return "", 0, false
	}
	return fields[0], ppid, true
}
