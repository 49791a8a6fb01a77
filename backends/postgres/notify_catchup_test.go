package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/analysis"
)

// execer is a pool, a connection or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// insertTask writes version 1 of a task straight into the table, stamped at.
func insertTask(ctx context.Context, db execer, id uuid.UUID, at time.Time) error {
	_, err := db.Exec(ctx, `INSERT INTO analysis (id, status, version, created_at, updated_at, user_id, tool_id, agents, progress, blobs_cleaned)
		VALUES ($1, 'CREATED', 1, $2, $2, 'u', 't', '["a"]', 0, false)`, id, at)
	return err
}

// bumpTask writes the next version of a task (a progress update), stamped at.
func bumpTask(ctx context.Context, db execer, id uuid.UUID, at time.Time) error {
	_, err := db.Exec(ctx, `UPDATE analysis SET version = version + 1, progress = progress + 1, updated_at = $2 WHERE id = $1`, id, at)
	return err
}

// notices collects what a Notifier sends.
type notices struct {
	mu    sync.Mutex
	got   map[string]backends.Notice // by "id vversion"
	times map[string]int             // how many times each was sent
}

func (n *notices) add(nt backends.Notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.got == nil {
		n.got, n.times = map[string]backends.Notice{}, map[string]int{}
	}
	k := fmt.Sprintf("%s v%d", nt.ID, nt.Version)
	n.got[k] = nt
	n.times[k]++
}

func (n *notices) count(id uuid.UUID, version int64) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.times[fmt.Sprintf("%s v%d", id, version)]
}

func (n *notices) get(id uuid.UUID, version int64) (backends.Notice, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	nt, ok := n.got[fmt.Sprintf("%s v%d", id, version)]
	return nt, ok
}

// waitUntil polls cond until it holds or ctx ends.
func waitUntil(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestNotifierCatchesUp: the listener's session is terminated and tasks
// change before it is back (before it even reconnects, or while it
// registers); after the reconnect it sends a notice for each change it did
// not hear, and not again the one it heard.
func TestNotifierCatchesUp(t *testing.T) {
	// A down func runs in the listener's goroutine before its reconnection:
	// it changes tasks, and returns the (id, version) it expects notices of
	// and, optionally, a transaction to commit once the listener has
	// registered again.
	type want struct {
		id      uuid.UUID
		version int64
	}
	tests := []struct {
		name  string
		batch int
		down  func(ctx context.Context, pool *pgxpool.Pool, old uuid.UUID) ([]want, pgx.Tx, error)
	}{
		{"changed while down", 500, func(ctx context.Context, pool *pgxpool.Pool, old uuid.UUID) ([]want, pgx.Tx, error) {
			id := uuid.New()
			if err := insertTask(ctx, pool, id, time.Now()); err != nil {
				return nil, nil, err
			}
			return []want{{id, 1}, {old, 2}}, nil, bumpTask(ctx, pool, old, time.Now())
		}},
		{"stamped before the drop, committed while down", 500, func(ctx context.Context, pool *pgxpool.Pool, old uuid.UUID) ([]want, pgx.Tx, error) {
			// The writer read its clock, then waited for a lock while the
			// listener heard other changes and dropped.
			return []want{{old, 2}}, nil, bumpTask(ctx, pool, old, time.Now().Add(-2*time.Second))
		}},
		{"pages of rows stamped alike", 2, func(ctx context.Context, pool *pgxpool.Pool, old uuid.UUID) ([]want, pgx.Tx, error) {
			at := time.Now()
			var ws []want
			for range 5 {
				id := uuid.New()
				if err := insertTask(ctx, pool, id, at); err != nil {
					return nil, nil, err
				}
				ws = append(ws, want{id, 1})
			}
			return ws, nil, nil
		}},
		{"written before the registration, committed after it", 500, func(ctx context.Context, pool *pgxpool.Pool, old uuid.UUID) ([]want, pgx.Tx, error) {
			// As a clean stop would, drop the old registration (and close
			// the model's gate where a sequence keeps it, as later
			// migrations do): the trigger does not notify this write, whose
			// transaction commits only once the listener has registered
			// again.
			if _, err := pool.Exec(ctx, `DELETE FROM taskmodel_listeners`); err != nil {
				return nil, nil, err
			}
			if _, err := pool.Exec(ctx, `SELECT setval(seq, 0, true) FROM (SELECT to_regclass('analysis_listening') AS seq) AS s WHERE seq IS NOT NULL`); err != nil {
				return nil, nil, err
			}
			tx, err := pool.Begin(ctx)
			if err != nil {
				return nil, nil, err
			}
			if err := bumpTask(ctx, tx, old, time.Now()); err != nil {
				_ = tx.Rollback(ctx)
				return nil, nil, err
			}
			return []want{{old, 2}}, tx, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), analysis.Migrations(postgres.Engine))
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			n := postgres.NewNotifier(pool, analysis.ModelName)
			n.Batch = tt.batch
			// Long enough that the wait for running transactions does not
			// give up before the test commits its own.
			n.Lookback = 30 * time.Second
			old := uuid.New()
			type downResult struct {
				wants []want
				tx    pgx.Tx
			}
			downs := make(chan downResult, 1)
			var once sync.Once
			postgres.SetBeforeReconnect(n, func() {
				once.Do(func() {
					ws, tx, err := tt.down(ctx, pool, old)
					if err != nil {
						t.Errorf("changing tasks while the listener is down: %v", err)
					}
					downs <- downResult{ws, tx}
				})
			})
			var got notices
			lctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); _ = n.Listen(lctx, got.add) }()
			defer func() { stop(); <-done }()
			waitUntil(ctx, t, "the listener", func() bool { return n.PID() != 0 })

			// A change heard live, before the drop.
			if err := insertTask(ctx, pool, old, time.Now()); err != nil {
				t.Fatal(err)
			}
			waitUntil(ctx, t, "the live notice", func() bool { _, ok := got.get(old, 1); return ok })

			pid := n.PID()
			var ok bool
			if err := pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, int32(pid)).Scan(&ok); err != nil || !ok {
				t.Fatalf("terminate %d: %v %v", pid, ok, err)
			}
			var d downResult
			select {
			case d = <-downs:
			case <-ctx.Done():
				t.Fatal("the listener did not try to reconnect")
			}
			if d.tx != nil {
				waitUntil(ctx, t, "the listener's registration", func() bool {
					var k int
					err := pool.QueryRow(ctx, `SELECT count(*) FROM taskmodel_listeners WHERE pid <> $1`, int32(pid)).Scan(&k)
					return err == nil && k > 0
				})
				if err := d.tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for _, w := range d.wants {
				waitUntil(ctx, t, fmt.Sprintf("a notice of %s v%d", w.id, w.version), func() bool {
					_, ok := got.get(w.id, w.version)
					return ok
				})
				nt, _ := got.get(w.id, w.version)
				if nt.From != "" || nt.Status != "CREATED" || nt.At.IsZero() {
					t.Errorf("caught-up notice %+v: want status CREATED, no From, and its updated_at", nt)
				}
			}
			// The version heard live is stamped before the ones caught up
			// (sent in updated_at order): had the catch-up sent it again, it
			// would have been by now.
			if k := got.count(old, 1); k != 1 {
				t.Errorf("the version heard before the drop was sent %d times, want once", k)
			}
		})
	}
}

// TestNotifierHearsChangesWhileStarting: a change made as soon as Listen is
// called, before its connection has registered and listens (the trigger
// does not notify it then), is sent by the first connection's catch-up; a
// change made before Listen was called is not.
func TestNotifierHearsChangesWhileStarting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), analysis.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	before := uuid.New()
	if err := insertTask(ctx, pool, before, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	n := postgres.NewNotifier(pool, analysis.ModelName)
	var got notices
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Listen(lctx, got.add) }()
	defer func() { stop(); <-done }()
	// Listen has started (it stamps its start before it connects): the
	// insert is stamped after it, and mostly commits before the listener
	// registers.
	time.Sleep(time.Millisecond)
	early := uuid.New()
	if err := insertTask(ctx, pool, early, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitUntil(ctx, t, "a notice of the change made while the listener started", func() bool { _, ok := got.get(early, 1); return ok })
	waitUntil(ctx, t, "the listener", func() bool { return n.PID() != 0 })
	if _, ok := got.get(before, 1); ok {
		t.Error("the change made before Listen was sent")
	}
	if k := got.count(early, 1); k != 1 {
		t.Errorf("the early change was sent %d times, want once", k)
	}
}
