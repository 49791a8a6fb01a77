package worker_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingpg "github.com/taskmodel/taskmodel/gen/training/pgdb"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

// The tests here take PostgreSQL away from a working pool — its sessions
// terminated, or the whole server restarted — and check that the pool
// reconnects and carries on: every task ends DONE, none runs twice at once,
// and every history row is a move the spec allows.

type trainingEngine = engine.Engine[training.Training, training.Event, *training.Training]

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openTrainingTasks opens the training model on cfg and creates n tasks.
func openTrainingTasks(t *testing.T, cfg *pgxpool.Config, n int) (*pgxpool.Pool, *trainingEngine, []uuid.UUID) {
	t.Helper()
	pool, err := postgres.OpenConfig(ctx, cfg, training.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e := engine.New[training.Training, training.Event](trainingpg.NewDriver(pool), engine.WithWorker(training.Worker))
	return pool, e, createTasks(t, e, n)
}

// createTasks creates n training tasks.
func createTasks(t *testing.T, e *trainingEngine, n int) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, 0, n)
	for range n {
		x, err := e.Create(ctx, training.NewTraining(), engine.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, x.ID)
	}
	return ids
}

// runs is a handler that sleeps a little, and its record: how many runs
// began, and which tasks were run while another run of theirs had not
// returned.
type runs struct {
	started atomic.Int32
	mu      sync.Mutex
	now     map[uuid.UUID]int
	twice   []uuid.UUID
}

func (r *runs) handler(sleep time.Duration) worker.Handler[training.Training] {
	return func(_ context.Context, x *training.Training, _ *worker.Progress[training.Training]) error {
		r.mu.Lock()
		if r.now == nil {
			r.now = map[uuid.UUID]int{}
		}
		if r.now[x.ID] > 0 {
			r.twice = append(r.twice, x.ID)
		}
		r.now[x.ID]++
		r.mu.Unlock()
		r.started.Add(1)
		defer func() { r.mu.Lock(); r.now[x.ID]--; r.mu.Unlock() }()
		time.Sleep(sleep)
		return nil
	}
}

// check fails the test if a task ran twice at once.
func (r *runs) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.twice {
		t.Errorf("task %s ran twice at once", id)
	}
}

// runPool runs a pool of e with cfg (quiet, without a rescue loop: the tests
// rescue a lease later) until the returned stop is called. stop fails the
// test if Run returned before it was asked to, or returned an error.
func runPool(t *testing.T, e *trainingEngine, h worker.Handler[training.Training], cfg worker.Config) (stop func()) {
	t.Helper()
	cfg.NoRescue, cfg.Logger = true, quiet
	p, err := worker.New(e, h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(c) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			select {
			case err := <-done:
				t.Errorf("Run returned before it was stopped (err %v)", err)
				cancel()
				return
			default:
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitQuiet returns when no task is open (open counts them), or when the
// count has not moved for a second: what is left waits for a lease. Errors
// are retried: the server may be restarting. After 20 s it gives up; the
// checks that follow say what is wrong.
func waitQuiet(t *testing.T, open func() (int, error)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last, since := -1, time.Now()
	for time.Now().Before(deadline) {
		n, err := open()
		switch {
		case err != nil:
			t.Logf("counting open tasks: %v (retrying)", err)
		case n == 0 || n == last && time.Since(since) > time.Second:
			return
		case n != last:
			last, since = n, time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openTasks counts the tasks not DONE, over pool.
func openTasks(pool *pgxpool.Pool) func() (int, error) {
	return func() (n int, err error) {
		err = pool.QueryRow(ctx, `SELECT count(*) FROM training WHERE status <> 'DONE'`).Scan(&n)
		return n, err
	}
}

// finishALeaseLater waits for the pool stopped by stop to settle and stops
// it. Tasks whose claim or final write was cut off stay reserved, or
// running, until their lease ends: a pool over d that sees the world a lease
// later rescues them and runs them with h, without the test sleeping for it.
func finishALeaseLater(t *testing.T, d backends.WorkDriver[training.Training], stop func(), open func() (int, error), h worker.Handler[training.Training]) {
	t.Helper()
	waitQuiet(t, open)
	stop()
	later := func() time.Time { return time.Now().Add(training.Worker.Lease + time.Second) }
	e := engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker), engine.WithClock(later))
	p, err := worker.New(e, h, worker.Config{NoRescue: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Rescue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a lease later: %+v", r)
	stop = runPool(t, e, h, worker.Config{PollInterval: 10 * time.Millisecond})
	waitQuiet(t, open)
	stop()
}

// checkDone fails the test unless every task is DONE and every row of its
// history is a move the spec allows, from the status the previous row left.
func checkDone(t *testing.T, e *trainingEngine, ids []uuid.UUID) {
	t.Helper()
	for _, id := range ids {
		got, err := e.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != training.StatusDone {
			t.Errorf("task %s ended %s", id, got.Status)
		}
		h, err := e.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range h[1:] {
			if r.From != h[i].To || !training.CanTransition(training.Status(r.From), training.Status(r.To)) {
				t.Errorf("task %s history %d: %s → %s does not follow %s", id, r.Seq, r.From, r.To, h[i].To)
			}
		}
	}
}

// TestPostgresConnectionsDropped: while a pool works, every connection the
// test's pool holds is terminated by the server, again and again, on the
// shared server (TestPostgresRestarted restarts a private one). The pool
// reconnects and carries on.
func TestPostgresConnectionsDropped(t *testing.T) {
	cfg := pgtest.Schema(t)
	app := "tm_drop_" + strings.TrimPrefix(cfg.ConnConfig.RuntimeParams["search_path"], "t_")
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	pool, e, ids := openTrainingTasks(t, cfg, 150)
	var r runs
	stop := runPool(t, e, r.handler(2*time.Millisecond), worker.Config{Concurrency: 8, PollInterval: 10 * time.Millisecond})

	killer, err := pgx.Connect(ctx, pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(ctx)
	killed := 0
	for range 8 {
		time.Sleep(40 * time.Millisecond)
		var k int
		if err := killer.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&k); err != nil {
			t.Fatal(err)
		}
		killed += k
	}
	if killed == 0 {
		t.Fatal("no connection was terminated: the test proves nothing")
	}
	t.Logf("terminated %d connections; %d runs", killed, r.started.Load())

	finishALeaseLater(t, trainingpg.NewDriver(pool), stop, openTasks(pool), r.handler(0))
	checkDone(t, e, ids)
	r.check(t)
}

// TestPostgresRestarted: while a pool works, the PostgreSQL server — a
// private cluster, so that other packages' tests keep theirs — goes down and
// comes back: once crashing (every session cut, recovery from the WAL), once
// shutting down cleanly (sessions told the administrator ends them), each
// time staying down a moment (connecting is refused); then once more while
// the pool is idle, its claims failing until the server is back. The pool's
// Run goes on through all three: it runs tasks created after the last
// restart, every task ends DONE, none ran twice at once, and every history
// row is a move the spec allows.
func TestPostgresRestarted(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	cfg, err := pgxpool.ParseConfig(cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	const n = 150
	pool, e, ids := openTrainingTasks(t, cfg, n)
	var r runs
	// 4 handlers of 5 ms: at least 190 ms of work, so that the server goes
	// down with tasks left. (The handlers, then their final writes retrying,
	// hold every slot while the server is down: the idle restart is the one
	// that meets the pool's claims.)
	stop := runPool(t, e, r.handler(5*time.Millisecond), worker.Config{Concurrency: 4, PollInterval: 10 * time.Millisecond})

	// startedAt reads the postmaster's start time over a connection of its own.
	startedAt := func() time.Time {
		t.Helper()
		conn, err := pgx.Connect(ctx, cluster.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var at time.Time
		if err := conn.QueryRow(ctx, `SELECT pg_postmaster_start_time()`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	// begun waits until k runs have begun.
	begun := func(k int) func() {
		return func() {
			deadline := time.Now().Add(20 * time.Second)
			for int(r.started.Load()) < k {
				if time.Now().After(deadline) {
					t.Fatalf("only %d runs began; waited for %d", r.started.Load(), k)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
	}
	for _, restart := range []struct {
		name    string
		wait    func() // until the moment the server goes down
		working bool   // tasks must be left when it does
		mode    pgtest.StopMode
	}{
		{"crash while working", begun(n / 5), true, pgtest.Immediate},
		{"fast shutdown while working", begun(n / 2), true, pgtest.Fast},
		{"crash while idle", func() { waitQuiet(t, openTasks(pool)) }, false, pgtest.Immediate},
	} {
		restart.wait()
		before := startedAt()
		cluster.Stop(t, restart.mode)
		left := n - int(r.started.Load())
		time.Sleep(200 * time.Millisecond) // down a moment: connecting is refused
		cluster.Start(t)
		if after := startedAt(); !after.After(before) {
			t.Fatalf("%s: the postmaster started at %s, not after %s: the server did not restart", restart.name, after, before)
		}
		if restart.working && left == 0 {
			t.Fatalf("%s: all %d tasks had begun when the server went down: the test proves nothing", restart.name, n)
		}
		t.Logf("%s: restarted with %d tasks not begun", restart.name, left)
	}

	// A process that takes over a lease later opens a pool of its own; the
	// first pool's stale connections are not the test's business. It
	// creates tasks, which the first pool must run.
	later, err := postgres.OpenConfig(ctx, cfg.Copy(), training.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer later.Close()
	lateE := engine.New[training.Training, training.Event](trainingpg.NewDriver(later), engine.WithWorker(training.Worker))
	fresh := createTasks(t, lateE, 10)
	deadline := time.Now().Add(20 * time.Second)
	for _, id := range fresh {
		for {
			x, err := lateE.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if x.Status == training.StatusDone {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s, created after the restarts, is still %s: the pool stopped working", id, x.Status)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	finishALeaseLater(t, trainingpg.NewDriver(later), stop, openTasks(later), r.handler(0))
	checkDone(t, lateE, append(ids, fresh...))
	r.check(t)
	t.Logf("%d runs of %d tasks", r.started.Load(), n+len(fresh))
}
