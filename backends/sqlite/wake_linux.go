package sqlite

import (
	"context"
	"os"
	"syscall"
)

// fileWatch is an inotify watch of a write-ahead log: a commit writes its
// frames to the log, which the kernel reports as IN_MODIFY to every
// process watching the file, at no cost while nothing is written. Events
// that are not read are coalesced into one, so a watch nobody reads while
// its pools are busy costs the writers nothing either.
type fileWatch struct {
	f       *os.File
	started bool
}

// watchFile watches path (a database's -wal file, which exists while a
// connection has the database open in WAL mode), or returns nil when it
// cannot.
func watchFile(path string) commits {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil
	}
	if _, err := syscall.InotifyAddWatch(fd, path, syscall.IN_MODIFY); err != nil {
		syscall.Close(fd)
		return nil
	}
	// Non-blocking: reads wait in the runtime's poller, and close ends them.
	return &fileWatch{f: os.NewFile(uintptr(fd), "inotify "+path)}
}

func (w *fileWatch) next(ctx context.Context) error {
	if !w.started {
		// A commit may have come before the watch was added.
		w.started = true
		return nil
	}
	stop := context.AfterFunc(ctx, func() { _ = w.f.Close() })
	defer stop()
	var buf [4096]byte
	if _, err := w.f.Read(buf[:]); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return nil
}

func (w *fileWatch) close() { _ = w.f.Close() }
