package proccluster

import "syscall"

// sysProcAttr puts a replica in a process group of its own (Kill and Close
// signal the group) and has the kernel kill it if the process that started
// it dies without cleaning up.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
