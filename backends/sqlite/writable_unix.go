//go:build unix

package sqlite

import (
	"errors"
	"syscall"
)

// checkWritable reports whether this process may write the file at path. It
// asks the system (access(2)) instead of opening the file: closing any
// descriptor of a database file drops the POSIX locks this process holds on
// it, those of its open connections too.
func checkWritable(path string) error {
	const wOK = 2
	switch err := syscall.Access(path, wOK); {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return errors.New("the file is read-only for this process, and taskmodel writes to its database")
	case errors.Is(err, syscall.EROFS):
		return errors.New("the file is on a read-only file system, and taskmodel writes to its database")
	default:
		return err
	}
}
