//go:build !linux

package redistest

import "syscall"

// sysProcAttr has no parent-death signal off Linux; t.Cleanup still kills
// the servers of a test that ends normally.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
