package keyhold_test

import (
	"os/exec"
	"syscall"
)

// orphanProof makes the Keyhold of the tests die with the test binary,
// so that a test binary killed at its timeout leaves no server behind.
func orphanProof(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
