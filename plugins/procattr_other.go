//go:build !linux

package plugins

import "syscall"

// sysProcAttr returns nil outside Linux, which has no parent-death signal;
// a served plugin watches its parent process instead (see Serve).
func sysProcAttr() *syscall.SysProcAttr { return nil }
