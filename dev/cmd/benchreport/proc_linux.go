package main

import "syscall"

// adoptOrphans makes this process the reaper of its orphaned descendants
// (PR_SET_CHILD_SUBREAPER), so a process whose parent was killed first
// (a function under a killed emulator) is still found and ended by
// killDescendants.
func adoptOrphans() {
	const prSetChildSubreaper = 36
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
}
