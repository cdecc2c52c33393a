//go:build unix && !linux

package proccluster

import "syscall"

// sysProcAttr puts a replica in a process group of its own (Kill and Close
// signal the group).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
