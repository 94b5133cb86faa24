//go:build unix && !linux

package proctree

import "syscall"

// ChildAttr starts a child as the leader of a process group of its own, so
// KillGroup reaches everything it starts.
func ChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// AdoptOrphans does nothing here, where processes cannot adopt orphans: an
// orphan moves to init, out of Descendants' reach.
func AdoptOrphans() error { return nil }

// awaitExit cannot see an exit before the process is collected here, so it
// reports false at once: a Process counts as ended once it is collected.
func awaitExit(int) bool { return false }

// Children cannot be listed here: it is always empty.
func Children(int) []int { return nil }

// Descendants cannot be listed here: it is always empty.
func Descendants(int) []int { return nil }

// Alive reports whether pid exists; an ended process its parent has not
// collected yet counts as alive here.
func Alive(pid int) bool { return syscall.Kill(pid, 0) == nil }
