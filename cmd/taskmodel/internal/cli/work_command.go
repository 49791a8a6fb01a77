package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// checkCommand refuses a command that cannot start here, before anything is
// claimed: a missing file or command, a directory, a file that is not
// executable.
func checkCommand(name string) error {
	if !strings.Contains(name, string(os.PathSeparator)) {
		if _, err := exec.LookPath(name); err != nil {
			if errors.Is(err, exec.ErrDot) {
				return usagef(fmt.Errorf("work: %s is found only in the current directory through PATH; give it as ./%s", name, name))
			}
			return usagef(fmt.Errorf("work: no such command: %s is not in PATH (give a path, such as ./%s, for a file here)", name, name))
		}
		return nil
	}
	fi, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usagef(fmt.Errorf("work: no such command: %s does not exist", name))
	case err != nil:
		return usagef(fmt.Errorf("work: the command %s cannot be read: %s", name, errnoText(err)))
	case fi.IsDir():
		return usagef(fmt.Errorf("work: %s is a directory, not a command", name))
	case !fi.Mode().IsRegular():
		return usagef(fmt.Errorf("work: %s is not a regular file, so it cannot be a command", name))
	case !isExecutable(name, fi):
		return usagef(fmt.Errorf("work: %s is not executable (chmod +x it)", name))
	}
	return nil
}

// startProblem says why a command could not start, without Go's wording
// ("fork/exec …").
func startProblem(name string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return name + " no longer exists"
	case errors.Is(err, fs.ErrPermission):
		return name + " is not executable (chmod +x it)"
	case errors.Is(err, syscall.ENOEXEC):
		return name + " is not a program the system can run (a script needs a #! line)"
	}
	return name + ": " + errnoText(err)
}

// errnoText is the system's text for err's errno, else err's text.
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
