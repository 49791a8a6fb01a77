package cli

import (
	"io/fs"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// killWithParent has the kernel send the command SIGKILL when the thread
// that started it ends (Pdeathsig). startCommand starts every command from
// one goroutine locked to its thread for the life of the process, so that
// thread ends only with taskmodel work.
func killWithParent(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}

type startRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	starterOnce sync.Once
	starts      chan startRequest
)

// startCommand starts cmd from the locked starter thread.
func startCommand(cmd *exec.Cmd) error {
	starterOnce.Do(func() {
		starts = make(chan startRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range starts {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	starts <- startRequest{cmd, done}
	return <-done
}

// isExecutable reports whether this process may execute the file.
func isExecutable(name string, fi fs.FileInfo) bool {
	const xOK = 1
	return fi.Mode().Perm()&0o111 != 0 && syscall.Access(name, xOK) == nil
}
