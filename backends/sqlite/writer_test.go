package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// openKV opens a database with one table, kv, for the writer's tests.
func openKV(t *testing.T, path string) *sql.DB {
	t.Helper()
	if path != ":memory:" {
		path = filepath.Join(t.TempDir(), path)
	}
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))`); err != nil {
		t.Fatal(err)
	}
	return db
}

func put(k string, v int) func(DBTX) error {
	return func(tx DBTX) error {
		_, err := tx.ExecContext(context.Background(), `INSERT INTO kv (k, v) VALUES (?, ?)`, k, v)
		return err
	}
}

func keys(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT k FROM kv ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ks []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	return strings.Join(ks, " ")
}

// hold starts a call that keeps the writer busy until release is called,
// then queues calls, in order: they go out as one batch when released.
func hold(t *testing.T, w *Writer, calls []func(DBTX) error) (errs []error, release func()) {
	t.Helper()
	gate := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.Do(context.Background(), func(tx DBTX) error {
			close(started)
			<-gate
			return put("held", 1)(tx)
		}); err != nil {
			t.Error(err)
		}
	})
	<-started
	errs = make([]error, len(calls))
	for i, fn := range calls {
		// One at a time, so that they queue in order.
		wg.Go(func() { errs[i] = w.Do(context.Background(), fn) })
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Microsecond) {
			w.mu.Lock()
			n := len(w.queue)
			w.mu.Unlock()
			if n == i+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d calls queued", n, i+1)
			}
		}
	}
	return errs, func() { close(gate); wg.Wait() }
}

func TestWriterBatches(t *testing.T) {
	for _, path := range []string{"tasks.db", ":memory:"} {
		t.Run(path, func(t *testing.T) {
			db := openKV(t, path)
			w := WriterFor(db)
			if WriterFor(db) != w {
				t.Fatal("WriterFor returned two writers for one database")
			}
			var calls []func(DBTX) error
			var want []string
			for i := range 20 {
				k := fmt.Sprintf("k%02d", i)
				calls = append(calls, put(k, i))
				want = append(want, k)
			}
			errs, release := hold(t, w, calls)
			release()
			for i, err := range errs {
				if err != nil {
					t.Errorf("call %d: %v", i, err)
				}
			}
			want = append(want, "held")
			sort.Strings(want)
			if got := keys(t, db); got != strings.Join(want, " ") {
				t.Errorf("rows: %s", got)
			}
			// The held call, then the 20 queued behind it in one transaction.
			if s := w.Stats(); s != (WriterStats{Transactions: 2, Writes: 21}) {
				t.Errorf("stats %+v, want 2 transactions of 21 writes", s)
			}
			w.lock.Lock()
			conn := w.conn
			w.lock.Unlock()
			if conn != nil {
				t.Error("the idle writer keeps its connection")
			}
		})
	}
}

// TestWriterFailureIsolated checks that a call that fails in a batch fails
// alone: the batch is rolled back and every call runs again on its own.
func TestWriterFailureIsolated(t *testing.T) {
	errBoom := errors.New("boom")
	cases := []struct {
		name    string
		culprit func(DBTX) error
		wantErr string
	}{
		{"an error after a write", func(tx DBTX) error {
			if err := put("culprit", 1)(tx); err != nil {
				return err
			}
			return errBoom
		}, "boom"},
		{"a constraint violated", put("culprit", -1), "CHECK constraint failed"},
		{"a key taken in the same batch", put("a", 9), "UNIQUE constraint failed"},
		{"a panic", func(DBTX) error { panic("no") }, "sqlite: write panicked: no"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := openKV(t, "tasks.db")
			w := WriterFor(db)
			errs, release := hold(t, w, []func(DBTX) error{put("a", 1), c.culprit, put("b", 2)})
			release()
			if errs[0] != nil || errs[2] != nil {
				t.Errorf("the others failed: %v, %v", errs[0], errs[2])
			}
			if errs[1] == nil || !strings.Contains(errs[1].Error(), c.wantErr) {
				t.Errorf("culprit's error %v, want %q", errs[1], c.wantErr)
			}
			if got := keys(t, db); got != "a b held" {
				t.Errorf("rows %q, want a b held", got)
			}
		})
	}
}

func TestWriterCallerGivesUp(t *testing.T) {
	db := openKV(t, "tasks.db")
	w := WriterFor(db)
	gate := make(chan struct{})
	started := make(chan struct{})
	go func() {
		_ = w.Do(context.Background(), func(tx DBTX) error { close(started); <-gate; return nil })
	}()
	<-started
	c, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := w.Do(c, put("late", 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do while queued past its deadline: %v", err)
	}
	if err := w.Do(c, put("later", 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do with an ended context: %v", err)
	}
	close(gate)
	// The writer goes on: the given-up call was written or not, and the
	// next one is.
	if err := w.Do(context.Background(), put("next", 1)); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, db); got != "late next" && got != "next" {
		t.Errorf("rows %q", got)
	}
}

func TestWrite(t *testing.T) {
	db := openKV(t, "tasks.db")
	w := WriterFor(db)
	n, err := Write(context.Background(), w, func(tx DBTX) (int64, error) {
		res, err := tx.ExecContext(context.Background(), `INSERT INTO kv (k, v) VALUES ('x', 1), ('y', 2)`)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
	if n != 2 || err != nil {
		t.Errorf("Write: %d, %v", n, err)
	}
	n, err = Write(context.Background(), w, func(tx DBTX) (int64, error) {
		return 5, put("x", 1)(tx)
	})
	if n != 0 || err == nil {
		t.Errorf("a failed Write returned %d, %v; want 0 and the error", n, err)
	}
}

// TestWriterWaitsForAnotherProcess: a batch waits for the write lock that
// another process (here a second handle on the file) holds, and writes once
// it is free; the writer then knows the file is shared. A writer that knows
// it tries for the lock itself, its connection's busy timeout set to 0, and
// fails with SQLITE_BUSY after writerBusyTimeout. Either way its connection
// goes back to the pool with the busy timeout the pool's readers wait with.
// A writer that never waited does not take the file for shared.
func TestWriterWaitsForAnotherProcess(t *testing.T) {
	for _, tc := range []struct {
		name       string
		shared     bool          // the writer knows the file is shared
		timeout    time.Duration // writerBusyTimeout
		held       bool          // the other process holds the write lock as the batch starts
		free       bool          // the other process commits while the batch waits
		wantKeys   string
		wantShared bool
	}{
		{"the lock is freed", false, 10 * time.Second, true, true, "a b", true},
		{"polling, the lock is freed", true, 10 * time.Second, true, true, "a b", true},
		{"polling, the lock is held past the timeout", true, 50 * time.Millisecond, true, false, "a", true},
		{"the other process is done first", false, 10 * time.Second, false, false, "a b", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := writerBusyTimeout
			writerBusyTimeout = tc.timeout
			t.Cleanup(func() { writerBusyTimeout = old })
			ctx := context.Background()
			here := openKV(t, "kv.db")
			var path string
			if err := here.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path); err != nil {
				t.Fatal(err)
			}
			other, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			w := WriterFor(here)
			w.shared.Store(tc.shared)
			if !tc.held {
				// A BEGIN that a loaded machine slows past 1 ms would be
				// taken for a wait: only a second's is, here.
				sharedAfter = time.Second
				t.Cleanup(func() { sharedAfter = time.Millisecond })
				if _, err := other.Exec(`INSERT INTO kv (k, v) VALUES ('a', 1)`); err != nil {
					t.Fatal(err)
				}
				if err := w.Do(ctx, put("b", 2)); err != nil {
					t.Fatal(err)
				}
				check(t, here, w, tc.wantKeys, tc.wantShared)
				return
			}
			tx, err := other.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(`INSERT INTO kv (k, v) VALUES ('a', 1)`); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- w.Do(ctx, put("b", 2)) }()
			if tc.free {
				time.Sleep(20 * time.Millisecond) // let the batch start waiting
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				if err := <-done; err != nil {
					t.Fatalf("the batch, after the lock was freed: %v", err)
				}
			} else {
				err := <-done
				if !isBusy(err) {
					t.Fatalf("the batch: %v, want SQLITE_BUSY", err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			check(t, here, w, tc.wantKeys, tc.wantShared)
		})
	}
}

// check fails unless db holds the keys want, w takes the file for shared
// or not as wantShared says, and every connection of db's pool, the
// writer's included, waits for locks with the busy timeout.
func check(t *testing.T, db *sql.DB, w *Writer, want string, wantShared bool) {
	t.Helper()
	if got := keys(t, db); got != want {
		t.Errorf("keys %q, want %q", got, want)
	}
	if got := w.shared.Load(); got != wantShared {
		t.Errorf("the writer takes the file for shared: %v, want %v", got, wantShared)
	}
	ctx := context.Background()
	n := db.Stats().OpenConnections
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var ms int64
		if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&ms); err != nil {
			t.Fatal(err)
		}
		if ms != busyTimeout.Milliseconds() {
			t.Errorf("connection %d of %d: busy timeout %d ms, want %d", i+1, n, ms, busyTimeout.Milliseconds())
		}
	}
}
