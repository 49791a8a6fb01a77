package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/mysqldb"
	"github.com/taskmodel/taskmodel/tasktype"
)

// queuedTrainings writes n queued training tasks, a millisecond apart, with
// their first history rows.
func queuedTrainings(t *testing.T, d *trainingdb.Driver, n int) []*training.Training {
	t.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	xs := make([]*training.Training, n)
	hs := make([]backends.History, n)
	for i := range xs {
		at := start.Add(time.Duration(i) * time.Millisecond)
		xs[i] = training.NewTraining()
		xs[i].Init(uuid.New(), at)
		hs[i] = backends.History{To: string(training.StatusQueued), At: at, Actor: "test", Message: "created"}
	}
	if err := d.InsertMany(context.Background(), xs, hs); err != nil {
		t.Fatal(err)
	}
	return xs
}

// unchanged fails unless every task is as written (queued, version 1, no
// lease) with its one history row.
func unchanged(t *testing.T, d *trainingdb.Driver, xs []*training.Training) {
	t.Helper()
	ctx := context.Background()
	for _, x := range xs {
		got, err := d.Get(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != training.StatusQueued || got.Version != 1 || got.StartedAt != nil {
			t.Errorf("task %s is %s, version %d, started %v; want QUEUED, version 1, never started", x.ID, got.Status, got.Version, got.StartedAt)
		}
		h, err := d.History(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 1 {
			t.Errorf("task %s has %d history rows, want 1: %+v", x.ID, len(h), h)
		}
	}
	// No lease was taken: the tasks are claimable now, by anyone.
	now := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	cs, err := d.Reserve(ctx, string(training.StatusQueued), "check", now, now.Add(time.Minute), len(xs)+1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Lease.Attempt != 1 {
			t.Errorf("task %s was leased before (attempt %d now, want 1)", c.Task.ID, c.Lease.Attempt)
		}
	}
	if len(cs) != len(xs) {
		t.Errorf("%d tasks reservable, want %d", len(cs), len(xs))
	}
}

// TestClaimScriptLeavesNothingHalfWritten: a claim is one query of many
// statements (lock, move, history rows, read back, commit). When it stops
// after its update has run, on a failing statement or a lost connection,
// none of it stays: the tasks are queued as before, unleased, with no
// history row added, and the connection holds no open transaction.
func TestClaimScriptLeavesNothingHalfWritten(t *testing.T) {
	for _, tc := range []struct {
		name string
		// end ends the blocking transaction while the claim waits on it:
		// commit (the claim's history insert then fails, duplicate) or kill
		// the claim's connection.
		end     func(t *testing.T, blocker *sql.Tx, admin *sql.DB, claimConn int64)
		wantErr func(error) bool
	}{
		{
			name: "a statement fails",
			end: func(t *testing.T, blocker *sql.Tx, _ *sql.DB, _ int64) {
				if err := blocker.Commit(); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: func(err error) bool { return errors.Is(err, tasktype.ErrDuplicate) },
		},
		{
			name: "the connection is lost",
			end: func(t *testing.T, blocker *sql.Tx, admin *sql.DB, claimConn int64) {
				if _, err := admin.Exec("KILL CONNECTION ?", claimConn); err != nil {
					t.Fatal(err)
				}
				if err := blocker.Rollback(); err != nil {
					t.Fatal(err)
				}
				// The server rolls a killed connection's transaction back
				// after KILL returns: until it has, its row locks stand and
				// a reservation (SKIP LOCKED) passes the tasks by.
				for deadline := time.Now().Add(10 * time.Second); ; {
					tx, err := admin.Begin()
					if err != nil {
						t.Fatal(err)
					}
					_, err = tx.Exec("SELECT id FROM training FOR UPDATE NOWAIT")
					tx.Rollback()
					if err == nil {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the tasks are still locked 10 s after the claim's connection was killed: %v", err)
					}
					time.Sleep(5 * time.Millisecond)
				}
			},
			wantErr: func(err error) bool { return err != nil },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			url := mysqltest.Database(t)
			db := open(t, url, training.Migrations(mysql.Engine))
			db.SetMaxOpenConns(1) // the claim's connection is the one checked after
			d := trainingdb.NewDriver(db)
			xs := queuedTrainings(t, d, 3)
			var claimConn int64
			if err := db.QueryRow("SELECT CONNECTION_ID()").Scan(&claimConn); err != nil {
				t.Fatal(err)
			}
			// A claim that never waits fails in seconds, not minutes.
			if _, err := db.Exec("SET SESSION innodb_lock_wait_timeout = 3"); err != nil {
				t.Fatal(err)
			}

			// Another transaction writes the history row the claim will
			// write for the first task (seq 2), without committing: the
			// claim's insert waits for it, after the claim's update ran.
			// (No foreign key check: it would lock the task, which the
			// claim would then skip.)
			admin := open(t, url)
			blockConn, err := admin.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer blockConn.Close()
			if _, err := blockConn.ExecContext(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
				t.Fatal(err)
			}
			blocker, err := blockConn.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer blocker.Rollback()
			if _, err := blocker.Exec("INSERT INTO training_history (task_id, seq, to_status, at, actor, message) VALUES (?, 2, 'RUNNING', NOW(6), 'other', 'other')", xs[0].ID); err != nil {
				t.Fatal(err)
			}

			var wg sync.WaitGroup
			var claimErr error
			var claimed []backends.Claim[training.Training]
			wg.Go(func() {
				now := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
				claimed, _, claimErr = d.Claim(ctx, "w1", now, now.Add(time.Minute), 10, backends.QueuePosition{})
			})
			// Wait until the claim is at its history insert (its update
			// done), which waits on the row.
			for deadline := time.Now().Add(10 * time.Second); ; {
				var n int
				if err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE id = ? AND info LIKE 'INSERT INTO training_history%'", claimConn).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n == 1 {
					break
				}
				if time.Now().After(deadline) {
					wg.Wait()
					t.Fatalf("the claim never reached its history insert: claimed %d, %v", len(claimed), claimErr)
				}
				time.Sleep(5 * time.Millisecond)
			}
			tc.end(t, blocker, admin, claimConn)
			wg.Wait()
			if !tc.wantErr(claimErr) {
				t.Fatalf("claim = %d tasks, error %v", len(claimed), claimErr)
			}
			var open int
			if err := db.QueryRow("SELECT @@in_transaction").Scan(&open); err != nil || open != 0 {
				t.Fatalf("@@in_transaction = %d, %v after the failed claim; want 0", open, err)
			}
			if _, err := admin.Exec("DELETE FROM training_history WHERE actor = 'other'"); err != nil {
				t.Fatal(err)
			}
			unchanged(t, d, xs)
		})
	}
}

// TestClaimScriptsRace: claims and reservations racing on a few
// connections never hand a task to two workers, and every task is taken.
func TestClaimScriptsRace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		limit   int
	}{
		{"one at a time", 8, 1},
		{"batches", 8, 7},
		{"more workers than tasks", 32, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t, mysqltest.Database(t), training.Migrations(mysql.Engine))
			d := trainingdb.NewDriver(db)
			xs := queuedTrainings(t, d, 200)
			now := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
			var mu sync.Mutex
			owner := map[uuid.UUID]string{}
			var wg sync.WaitGroup
			for w := range tc.workers {
				name := string(rune('a' + w%26))
				if w >= 26 {
					name += "2"
				}
				wg.Go(func() {
					for {
						var cs []backends.Claim[training.Training]
						var err error
						if w%2 == 0 {
							cs, _, err = d.Claim(ctx, name, now, now.Add(time.Minute), tc.limit, backends.QueuePosition{})
						} else {
							cs, err = d.Reserve(ctx, string(training.StatusQueued), name, now, now.Add(time.Minute), tc.limit)
						}
						if err != nil {
							t.Error(err)
							return
						}
						if len(cs) == 0 {
							return
						}
						mu.Lock()
						for _, c := range cs {
							if prev, dup := owner[c.Task.ID]; dup {
								t.Errorf("task %s taken by %s and %s", c.Task.ID, prev, name)
							}
							owner[c.Task.ID] = name
							if c.Lease.Owner != name || c.Lease.Attempt != 1 {
								t.Errorf("task %s: lease %+v, want %s attempt 1", c.Task.ID, c.Lease, name)
							}
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(owner) != len(xs) {
				t.Errorf("%d tasks taken, want %d", len(owner), len(xs))
			}
		})
	}
}

// TestBatchScriptRollsBack: a batch of writes is one query of many
// statements; when one fails, none of the batch stays and the connection
// holds no open transaction.
func TestBatchScriptRollsBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		dup  int // which task of the batch repeats an existing id
	}{
		{"the first write fails", 0},
		{"a later write fails", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t, mysqltest.Database(t), training.Migrations(mysql.Engine))
			db.SetMaxOpenConns(1)
			d := trainingdb.NewDriver(db)
			existing := queuedTrainings(t, d, 1)[0]
			at := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
			xs := make([]*training.Training, 3)
			hs := make([]backends.History, 3)
			for i := range xs {
				xs[i] = training.NewTraining()
				xs[i].Init(uuid.New(), at)
				hs[i] = backends.History{To: string(training.StatusQueued), At: at, Actor: "test"}
			}
			xs[tc.dup].ID = existing.ID
			if err := d.InsertMany(ctx, xs, hs); !errors.Is(err, tasktype.ErrDuplicate) {
				t.Fatalf("InsertMany = %v, want a duplicate", err)
			}
			var open, n int
			if err := db.QueryRow("SELECT @@in_transaction").Scan(&open); err != nil || open != 0 {
				t.Fatalf("@@in_transaction = %d, %v after the failed batch; want 0", open, err)
			}
			if err := db.QueryRow("SELECT COUNT(*) FROM training").Scan(&n); err != nil || n != 1 {
				t.Errorf("%d tasks stored, %v; want only the one before the batch", n, err)
			}
		})
	}
}

// TestClaimStartsAtItsPosition: a claim after a queue position reads the
// status index from that position (a range), not from the status's first
// entry (MariaDB's ref access), which would pass every queued task before
// the position, and every claimed task's entry purge has not yet removed.
// The server's count of index-condition checks (Handler_icp_attempts) on
// the claim's connection tells how many entries it read.
func TestClaimStartsAtItsPosition(t *testing.T) {
	ctx := context.Background()
	db := open(t, mysqltest.Database(t), training.Migrations(mysql.Engine))
	db.SetMaxOpenConns(1) // the claim's statements and the counter on one connection
	d := trainingdb.NewDriver(db)
	xs := queuedTrainings(t, d, 2000)
	icp := func() int {
		var name string
		var n int
		if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Handler_icp_attempts'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		name  string
		after int // tasks before the position
	}{
		{"from the head", 0}, // the cases claim distinct tasks
		{"mid-queue", 1000},
		{"near the end", 1990},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pos backends.QueuePosition
			if tc.after > 0 {
				pos = backends.QueuePosition{CreatedAt: xs[tc.after-1].CreatedAt, ID: xs[tc.after-1].ID}
			}
			now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
			before := icp()
			cs, next, err := d.Claim(ctx, "w1", now, now.Add(time.Minute), 5, pos)
			if err != nil {
				t.Fatal(err)
			}
			read := icp() - before
			if len(cs) != 5 || cs[0].Task.ID != xs[tc.after].ID || next.ID != xs[tc.after+4].ID {
				t.Fatalf("claimed %d tasks from %v, want 5 from task %d", len(cs), cs, tc.after)
			}
			// The 5 claimed, and a few the range's ends and the server's
			// own lookups may add; the whole queue before the position
			// would be 1,000 more.
			if read > 50 {
				t.Errorf("the claim checked %d index entries, want at most 50", read)
			}
		})
	}
}

// TestRetentionReadsOldestFirst guards the server's plan for retention,
// which has no index of its own on MySQL: it reads the index of tasks by
// their last change from its start, so a batch removes the finished tasks
// changed longest ago and reads about as many index entries as it removes,
// passing only over the unfinished tasks that have not changed since the
// cutoff; not a range of finished tasks sorted whole, nor a table scan.
// (MariaDB chose this plan with the index of finished tasks too.)
func TestRetentionReadsOldestFirst(t *testing.T) {
	ctx := context.Background()
	db := open(t, mysqltest.Database(t), training.Migrations(mysql.Engine))
	db.SetMaxOpenConns(1) // the statement and the counters on one connection
	d := trainingdb.NewDriver(db)
	xs := queuedTrainings(t, d, 2000)
	// The first 20 stay queued; the others finished in the reverse order of
	// their creation, the newest first, a second apart.
	if _, err := db.ExecContext(ctx, `UPDATE training SET status = 'DONE',
		updated_at = TIMESTAMPADD(SECOND, -TIMESTAMPDIFF(MICROSECOND, '2026-01-01', created_at) DIV 1000, '2026-02-01')
		WHERE created_at >= ?`, xs[20].CreatedAt); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE TABLE training"); err != nil {
		t.Fatal(err)
	}
	reads := func() int {
		var total int
		for _, counter := range []string{"Handler_read_first", "Handler_read_key", "Handler_read_next", "Handler_read_rnd_next"} {
			var name string
			var n int
			if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE ?", counter).Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			total += n
		}
		return total
	}
	cutoff := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for batch := range 3 {
		before := reads()
		n, err := d.DeleteFinished(ctx, cutoff, 5)
		if err != nil || n != 5 {
			t.Fatalf("DeleteFinished = %d, %v; want 5", n, err)
		}
		read := reads() - before
		// The newest created, finished first.
		for i := 1999 - 5*batch; i > 1994-5*batch; i-- {
			if _, err := d.Get(ctx, xs[i].ID); !errors.Is(err, tasktype.ErrNotFound) {
				t.Errorf("batch %d: task %d, among the 5 finished longest ago, was not removed: %v", batch, i, err)
			}
		}
		// The 5 removed, the 20 queued tasks changed before them, their
		// history rows (the cascade), and the server's own lookups; a
		// sort of the finished tasks, or a scan, reads 2,000 more.
		if read > 200 {
			t.Errorf("batch %d read %d rows and index entries, want at most 200", batch, read)
		}
	}
	for _, x := range xs[:20] {
		if _, err := d.Get(ctx, x.ID); err != nil {
			t.Errorf("queued task %s was removed: %v", x.ID, err)
		}
	}
}

// TestClaimsOldestFirst: the driver returns claimed tasks in the claim
// order, by creation time and then by id, whatever order the server's read
// back (Locked, which has no ORDER BY) gives them in.
func TestClaimsOldestFirst(t *testing.T) {
	d := trainingdb.NewDriver(nil)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	task := func(id string, ms int) backends.Claim[training.Training] {
		x := training.NewTraining()
		x.Init(uuid.MustParse(id), at.Add(time.Duration(ms)*time.Millisecond))
		return backends.Claim[training.Training]{Task: x}
	}
	a := task("00000000-0000-0000-0000-00000000000c", 0) // oldest, largest id
	b := task("00000000-0000-0000-0000-00000000000a", 1) // same time: by id
	c := task("00000000-0000-0000-0000-00000000000b", 1)
	e := task("00000000-0000-0000-0000-000000000001", 2) // newest, smallest id
	for _, tc := range []struct {
		name string
		in   []backends.Claim[training.Training]
	}{
		{"reversed", []backends.Claim[training.Training]{e, c, b, a}},
		{"by id", []backends.Claim[training.Training]{e, b, c, a}},
		{"in order", []backends.Claim[training.Training]{a, b, c, e}},
		{"one", []backends.Claim[training.Training]{c}},
		{"none", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := slices.Clone(tc.in)
			mysql.OldestFirst(d.Driver, cs)
			var want []backends.Claim[training.Training]
			for _, x := range []backends.Claim[training.Training]{a, b, c, e} {
				if slices.Contains(tc.in, x) {
					want = append(want, x)
				}
			}
			if !slices.Equal(cs, want) {
				t.Errorf("got %v, want %v", ids(cs), ids(want))
			}
		})
	}
}

func ids(cs []backends.Claim[training.Training]) []uuid.UUID {
	out := make([]uuid.UUID, len(cs))
	for i, c := range cs {
		out[i] = c.Task.ID
	}
	return out
}
