package pipeline

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/process"
)

// Process identifies the process that executes a run (tasker's hostname,
// PID, user).
type Process struct {
	Hostname string
	PID      int
	PPID     int
	User     string
}

// CurrentProcess describes the calling process.
func CurrentProcess() Process {
	return Process{Hostname: hostname(), PID: os.Getpid(), PPID: os.Getppid(), User: userName()}
}

// ProcessOf describes process pid on this host: the command-line tool
// records the script that called it (its parent) rather than itself. The
// parent PID is 0 when it cannot be read.
func ProcessOf(pid int) Process {
	p := Process{Hostname: hostname(), PID: pid, User: userName()}
	if proc, err := process.NewProcess(int32(pid)); err == nil {
		if ppid, err := proc.Ppid(); err == nil {
			p.PPID = int(ppid)
		}
	}
	return p
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func userName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// GitCommit returns the commit checked out in the git work tree that holds
// dir, or "" outside a work tree or without git.
func GitCommit(ctx context.Context, dir string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--verify", "--quiet", "HEAD")
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
