package redistest

import "syscall"

// sysProcAttr makes the kernel SIGKILL redis-server when the test binary
// dies, so that a panic or a go test timeout leaves no server behind.
// Pdeathsig follows the thread that forked; the Go runtime does not end
// its threads, so in practice that is the life of the test binary.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
