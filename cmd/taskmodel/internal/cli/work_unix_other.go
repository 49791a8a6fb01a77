//go:build unix && !linux

package cli

import (
	"io/fs"
	"os/exec"
	"syscall"
)

// killWithParent does nothing: only Linux kills a command when taskmodel
// work dies.
func killWithParent(*syscall.SysProcAttr) {}

// startCommand starts cmd.
func startCommand(cmd *exec.Cmd) error { return cmd.Start() }

// isExecutable reports whether the file has an execute permission bit.
func isExecutable(_ string, fi fs.FileInfo) bool { return fi.Mode().Perm()&0o111 != 0 }
