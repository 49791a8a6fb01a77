package worker_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingpg "github.com/taskmodel/taskmodel/gen/training/pgdb"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

// TestPostgresConnectionsDropped: while a pool works, every connection the
// test's pool holds is terminated by the server, again and again — what
// clients see when PostgreSQL restarts. The pool reconnects and carries on;
// every task ends DONE, and every history row is a move the spec allows.
// (Restarting the shared server itself would break the other packages'
// tests that run at the same time.)
func TestPostgresConnectionsDropped(t *testing.T) {
	cfg := pgtest.Schema(t)
	app := "tm_drop_" + strings.TrimPrefix(cfg.ConnConfig.RuntimeParams["search_path"], "t_")
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	pool, err := postgres.OpenConfig(ctx, cfg, training.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	d := trainingpg.NewDriver(pool)
	e := engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker))
	const n = 150
	ids := make([]training.Training, 0, n)
	for range n {
		x, err := e.Create(ctx, training.NewTraining(), engine.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, *x)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := worker.New(e, func(context.Context, *training.Training, *worker.Progress[training.Training]) error {
		time.Sleep(2 * time.Millisecond)
		return nil
	}, worker.Config{Concurrency: 8, PollInterval: 10 * time.Millisecond, NoRescue: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = p.Run(c) }()

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
	t.Logf("terminated %d connections", killed)

	// Tasks whose claim was cut off stay reserved until their lease ends: a
	// pool that sees the world a lease later takes them (and rescues any
	// that were left running), without the test sleeping for it.
	// waitQuiet returns when every task is DONE, or when the count of open
	// tasks has not moved for a second (what is left waits for a lease).
	waitQuiet := func() {
		deadline := time.Now().Add(20 * time.Second)
		last, since := -1, time.Now()
		for time.Now().Before(deadline) {
			var open int
			if err := killer.QueryRow(ctx, `SELECT count(*) FROM `+cfg.ConnConfig.RuntimeParams["search_path"]+`.training WHERE status <> 'DONE'`).Scan(&open); err != nil {
				t.Fatal(err)
			}
			if open == 0 || open == last && time.Since(since) > time.Second {
				return
			}
			if open != last {
				last, since = open, time.Now()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitQuiet()
	stop()
	<-stopped
	later := func() time.Time { return time.Now().Add(training.Worker.Lease + time.Second) }
	e2 := engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker), engine.WithClock(later))
	p2, err := worker.New(e2, func(context.Context, *training.Training, *worker.Progress[training.Training]) error { return nil },
		worker.Config{PollInterval: 10 * time.Millisecond, NoRescue: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Rescue(ctx); err != nil {
		t.Fatal(err)
	}
	c2, stop2 := context.WithCancel(ctx)
	stopped2 := make(chan struct{})
	go func() { defer close(stopped2); _ = p2.Run(c2) }()
	waitQuiet()
	stop2()
	<-stopped2

	for _, x := range ids {
		got, err := e.Get(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != training.StatusDone {
			t.Errorf("task %s ended %s", x.ID, got.Status)
		}
		h, err := e.History(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range h[1:] {
			if r.From != h[i].To || !training.CanTransition(training.Status(r.From), training.Status(r.To)) {
				t.Errorf("task %s history %d: %s → %s does not follow %s", x.ID, r.Seq, r.From, r.To, h[i].To)
			}
		}
	}
}
