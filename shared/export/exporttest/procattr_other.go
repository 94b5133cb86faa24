//go:build !linux

package exporttest

import "syscall"

// dieWithParent is Linux only; elsewhere Close stops the server.
func dieWithParent() *syscall.SysProcAttr { return nil }
