package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/pgdb"
	"github.com/taskmodel/taskmodel/sdk/engine"
)

// TestLeasesCommitWithoutFlush: a claim and a reservation turn
// synchronous_commit off for their own transaction (their commit does not
// wait for the write-ahead log's flush), and only for it: the session's
// next transaction waits again.
func TestLeasesCommitWithoutFlush(t *testing.T) {
	ctx := context.Background()
	cfg := pgtest.Schema(t)
	cfg.MaxConns = 1 // one session: the setting's scope
	pool, err := postgres.OpenConfig(ctx, cfg, training.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	e := engine.New[training.Training, training.Event](trainingdb.NewDriver(pool))
	now := time.Now().UTC().Truncate(time.Microsecond)
	leases := []struct {
		name string
		take func(d *trainingdb.Driver) (int, error)
	}{
		{"claim", func(d *trainingdb.Driver) (int, error) {
			cs, _, err := d.Claim(ctx, "w1", now, now.Add(time.Minute), 1, backends.QueuePosition{})
			return len(cs), err
		}},
		{"reservation", func(d *trainingdb.Driver) (int, error) {
			cs, err := d.Reserve(ctx, training.Worker.Queue, "w1", now, now.Add(time.Minute), 1)
			return len(cs), err
		}},
	}
	show := func(db interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) string {
		t.Helper()
		var v string
		if err := db.QueryRow(ctx, "SHOW synchronous_commit").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, l := range leases {
		t.Run(l.name, func(t *testing.T) {
			if _, err := e.Create(ctx, training.NewTraining(), engine.Meta{}); err != nil {
				t.Fatal(err)
			}
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if got := show(tx); got != "on" {
				t.Fatalf("synchronous_commit before the %s = %q, want on", l.name, got)
			}
			n, err := l.take(trainingdb.NewDriver(tx))
			if err != nil || n != 1 {
				t.Fatalf("%s: %d tasks, %v; want 1", l.name, n, err)
			}
			if got := show(tx); got != "off" {
				t.Errorf("synchronous_commit in the %s's transaction = %q, want off", l.name, got)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if got := show(pool); got != "on" {
				t.Errorf("synchronous_commit after the %s's transaction = %q, want on", l.name, got)
			}
		})
	}
}
