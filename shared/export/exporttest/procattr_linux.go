package exporttest

import "syscall"

// dieWithParent has Linux kill the server when the test binary exits, even
// when it dies without running Close (a panic, a timeout).
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
