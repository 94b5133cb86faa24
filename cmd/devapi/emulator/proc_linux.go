package emulator

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// childAttr puts an emulator in its own process group, and has the kernel
// kill it should the local API itself die without cleaning up.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killTree kills an emulator and the function processes it started. The
// emulator starts each bootstrap in a process group of its own, so the
// bootstraps are found as the emulator's children and killed by group.
func killTree(pid int) {
	for _, child := range children(pid) {
		_ = syscall.Kill(-child, syscall.SIGKILL)
		_ = syscall.Kill(child, syscall.SIGKILL)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// children lists the processes whose parent is pid, from /proc.
func children(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if parentPID(child) == pid {
			out = append(out, child)
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
	// The command name, in parentheses, may hold spaces: fields start after
	// its closing parenthesis with the state, then the parent's pid.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}
