//go:build unix

// Package proctree starts, finds and kills trees of processes: a server or
// an emulator together with everything it started, however deep.
//
// A program that starts such processes puts each in a process group of its
// own (ChildAttr), so that one signal reaches the whole group (KillGroup).
// A grandchild that moved to a group of its own is found through the process
// table instead (Children, Descendants), which is read from /proc on Linux;
// elsewhere those lists are empty and only the group can be reached. What to
// kill, and when, is left to the caller.
package proctree

import "syscall"

// KillGroup sends SIGKILL to the process group pid leads and to pid itself,
// which may have left that group. A process that is already gone is not an
// error: there is nothing left to kill.
func KillGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
