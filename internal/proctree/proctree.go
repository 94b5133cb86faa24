//go:build unix

// Package proctree starts, finds and kills trees of processes: a server or
// an emulator together with everything it started, however deep.
//
// A program that starts such processes puts each in a process group of its
// own (ChildAttr), so that one signal reaches the whole group (KillGroup).
// A grandchild that moved to a group of its own is found through the process
// table instead (Children, Descendants, KillTree), which is read from /proc
// on Linux; elsewhere those lists are empty and only the group can be
// reached. Start runs a long-lived process that can be stopped without ever
// signalling a pid the kernel may have handed to another process.
package proctree

import "syscall"

// KillGroup sends SIGKILL to the process group pid leads and to pid itself,
// which may have left that group. A process that is already gone is not an
// error: there is nothing left to kill.
func KillGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// KillTree kills pid's group and every process below pid, each by its
// group, since a child may lead a group of its own. The tree is listed
// before anything is killed, so no process is orphaned, and lost from the
// list, by its parent's death; the deepest are killed first, while their
// parents still stand.
func KillTree(pid int) {
	below := Descendants(pid)
	for i := len(below) - 1; i >= 0; i-- {
		KillGroup(below[i])
	}
	KillGroup(pid)
}
