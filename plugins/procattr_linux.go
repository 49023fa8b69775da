package plugins

import "syscall"

// sysProcAttr asks the kernel to SIGKILL a plugin when the thread that
// started it dies: with the host process, even when the host is killed with
// SIGKILL. Go starts the process from an OS thread that lives as long as
// the host unless a goroutine locked to it exits; should that kill a
// plugin, the Manager restarts it like any crashed plugin.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
