package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/sqlite"
)

// TestWake: sqlite.Wake reads claimable when the pool signals it is idle and
// after each commit of another process (another *sql.DB over the file)
// while armed, and wakes the pool only when claimable says a task can be
// claimed; after a wake-up it waits for the next idle signal. Over a private
// in-memory database it reads nothing.
func TestWake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "tasks.db")
	open := func(path string) *sql.DB {
		t.Helper()
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	mine, other := open(path), open(path)
	if _, err := other.ExecContext(ctx, `CREATE TABLE t (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	commit := func() {
		t.Helper()
		if _, err := other.ExecContext(ctx, `INSERT INTO t VALUES (1)`); err != nil {
			t.Fatal(err)
		}
	}

	var claimable atomic.Bool
	reads := make(chan bool, 16) // what each read of claimable answered
	var wakes atomic.Int32
	idle := make(chan struct{}, 1)
	run := func(db *sql.DB, idle chan struct{}, reads chan bool) (stop func()) {
		c, cancelWake := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = sqlite.Wake(c, db, func(context.Context, time.Time) (bool, error) {
				ok := claimable.Load()
				reads <- ok
				return ok, nil
			}, idle, func() { wakes.Add(1) })
		}()
		return func() { cancelWake(); <-done }
	}
	// read waits for a read of claimable that answers want. A commit may
	// come as several writes to the file, each a signal: reads that
	// answered false before claimable turned true are skipped.
	read := func(what string, want bool, wantWakes int32) {
		t.Helper()
		for got := !want; got != want; {
			select {
			case got = <-reads:
				if got && !want {
					t.Fatalf("%s: claimable answered true", what)
				}
			case <-ctx.Done():
				t.Fatalf("%s: claimable was not read", what)
			}
		}
		// A wake-up follows its read at once, in the same goroutine; the
		// next read comes only after it.
		if want {
			for wakes.Load() != wantWakes && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
		}
		if got := wakes.Load(); got != wantWakes {
			t.Fatalf("%s: %d wake-ups, want %d", what, got, wantWakes)
		}
	}

	stop := run(mine, idle, reads)
	idle <- struct{}{}
	read("idle, nothing queued", false, 0)
	commit()
	read("a commit, nothing claimable", false, 0)
	claimable.Store(true)
	commit()
	read("a commit, a task claimable", true, 1)
	idle <- struct{}{}
	read("idle, a task still claimable", true, 2)
	stop()

	mem := open(":memory:")
	memIdle, memReads := make(chan struct{}, 1), make(chan bool, 1)
	stop = run(mem, memIdle, memReads)
	memIdle <- struct{}{}
	stop()
	select {
	case <-memReads:
		t.Error("Wake over a private in-memory database read claimable")
	case <-memIdle: // unread
	}
}
