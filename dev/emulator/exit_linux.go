package emulator

import (
	"syscall"
	"unsafe"
)

// pidOnly is waitid's P_PID: wait for the one process named by its pid.
const pidOnly = 1

// awaitExit blocks until the child process pid has exited, without
// collecting it, and reports whether it saw that. Until it is collected an
// exited process keeps its pid, so marking it ended first means it is never
// signalled once the pid could belong to another process.
func awaitExit(pid int) bool {
	var info [128]byte // siginfo_t, not read
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pidOnly, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			return errno == 0
		}
	}
}
