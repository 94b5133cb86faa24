//go:build !linux

package emulator

import "syscall"

// childAttr puts an emulator in its own process group.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killTree kills an emulator's process group. Function processes, which the
// emulator starts in groups of their own, end when they lose the emulator's
// connection.
func killTree(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
