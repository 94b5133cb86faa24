//go:build unix && !linux

package main

import "syscall"

// childAttr puts a child in a process group of its own, so it can be killed
// with everything it started.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// adoptOrphans does nothing where processes cannot adopt orphans.
func adoptOrphans() {}

// killDescendants does nothing where descendants cannot be listed: every
// child is killed by group when it is stopped.
func killDescendants() {}

// killTree kills pid and its process group.
func killTree(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// descendants cannot be listed here.
func descendants(int) []int { return nil }
