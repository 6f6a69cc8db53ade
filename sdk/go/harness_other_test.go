//go:build !linux

package keyhold_test

import "os/exec"

// orphanProof does nothing here: only Linux kills a child with its parent.
func orphanProof(*exec.Cmd) {}
