package versity

import "syscall"

// dieWithParent has Linux kill the server when the process that started it
// exits, even when it dies without running Close (a panic, a kill).
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
