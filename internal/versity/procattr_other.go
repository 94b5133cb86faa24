//go:build !linux

package versity

import "syscall"

// dieWithParent is Linux only; elsewhere Close stops the server.
func dieWithParent() *syscall.SysProcAttr { return nil }
