//go:build !unix

package cli

import (
	"io/fs"
	"os"
	"os/exec"
)

// newProcessGroup does nothing where there are no process groups.
func newProcessGroup(*exec.Cmd) {}

// terminate asks cmd to stop (an interrupt where SIGTERM does not exist).
func terminate(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Signal(os.Interrupt)
	}
}

// kill kills cmd.
func kill(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

// startCommand starts cmd.
func startCommand(cmd *exec.Cmd) error { return cmd.Start() }

// isExecutable is true: whether a file runs is known when it is started.
func isExecutable(string, fs.FileInfo) bool { return true }

// killedBy is false: a command ends with an exit status here.
func killedBy(*exec.ExitError) (string, bool) { return "", false }
