package s3server

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the server when the test binary dies,
// so a crashed or interrupted test run leaves no gateway behind.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
