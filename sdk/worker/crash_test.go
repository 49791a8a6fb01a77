package worker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingmysql "github.com/taskmodel/taskmodel/gen/training/mysqldb"
	trainingpg "github.com/taskmodel/taskmodel/gen/training/pgdb"
	trainingsqlite "github.com/taskmodel/taskmodel/gen/training/sqlitedb"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

// The crash test runs a worker in a child process (this test binary, re-run
// with TASKMODEL_CRASH_WORKER set), kills it with SIGKILL while its handler
// runs, and checks that a pool in this process rescues the task and runs it
// to DONE: nothing lost, nothing run twice at once.

const (
	envWorker = "TASKMODEL_CRASH_WORKER" // "sqlite", "postgres" or "mysql"
	envTarget = "TASKMODEL_CRASH_TARGET" // the SQLite path, the PostgreSQL search path or the MySQL URL
	envApp    = "TASKMODEL_CRASH_APP"    // the child's application_name on PostgreSQL
)

// openTraining opens the training model on a backend shared by processes.
func openTraining(ctx context.Context, kind, target string) (backends.WorkDriver[training.Training], func(), error) {
	switch kind {
	case "sqlite":
		db, err := sqlite.Open(ctx, target, training.Migrations(sqlite.Engine))
		if err != nil {
			return nil, nil, err
		}
		return trainingsqlite.NewDriver(db), func() { db.Close() }, nil
	case "postgres":
		cfg, err := pgxpool.ParseConfig(pgtest.URL())
		if err != nil {
			return nil, nil, err
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = target
		if app := os.Getenv(envApp); app != "" {
			cfg.ConnConfig.RuntimeParams["application_name"] = app
		}
		pool, err := postgres.OpenConfig(ctx, cfg, training.Migrations(postgres.Engine))
		if err != nil {
			return nil, nil, err
		}
		return trainingpg.NewDriver(pool), pool.Close, nil
	case "mysql":
		db, err := mysql.Open(ctx, target, training.Migrations(mysql.Engine))
		if err != nil {
			return nil, nil, err
		}
		return trainingmysql.NewDriver(db), func() { db.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unknown backend %q", kind)
}

// sharedTraining opens the training model for a test on a backend another
// process can open too (a file in dir, or a schema of its own), closed when
// the test ends: it returns the target to give that process.
func sharedTraining(t *testing.T, kind, dir string) (string, backends.WorkDriver[training.Training], *engine.Engine[training.Training, training.Event, *training.Training]) {
	t.Helper()
	target := sharedTarget(t, kind, dir)
	d, closeDB, err := openTraining(ctx, kind, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeDB)
	return target, d, engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker))
}

// sharedTarget returns where processes share a database of kind: a file
// in dir, a schema of its own, or a database of its own.
func sharedTarget(t testing.TB, kind, dir string) string {
	switch kind {
	case "postgres":
		return pgtest.Schema(t).ConnConfig.RuntimeParams["search_path"]
	case "mysql":
		return mysqltest.Database(t)
	}
	return filepath.Join(dir, "tasks.db")
}

// TestCrashWorkerProcess is the child: it is skipped unless the parent set
// envWorker. Its handler blocks until the process is killed.
func TestCrashWorkerProcess(t *testing.T) {
	kind := os.Getenv(envWorker)
	if kind == "" {
		t.Skip("the child process of TestSIGKILLedWorkerIsRescued")
	}
	d, closeDB, err := openTraining(ctx, kind, os.Getenv(envTarget))
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	e := engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker))
	p, err := worker.New(e, func(ctx context.Context, _ *training.Training, _ *worker.Progress[training.Training]) error {
		<-ctx.Done()
		return ctx.Err()
	}, worker.Config{Owner: "doomed", PollInterval: 10 * time.Millisecond, NoRescue: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Run(ctx) // runs until SIGKILL
}

func TestSIGKILLedWorkerIsRescued(t *testing.T) {
	if os.Getenv(envWorker) != "" {
		t.Skip("in the child process")
	}
	for _, kind := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			target, d, e := sharedTraining(t, kind, t.TempDir())
			x, err := e.Create(ctx, training.NewTraining(), engine.Meta{})
			if err != nil {
				t.Fatal(err)
			}

			child := exec.Command(os.Args[0], "-test.run", "^TestCrashWorkerProcess$")
			child.Env = append(os.Environ(), envWorker+"="+kind, envTarget+"="+target)
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			defer child.Process.Kill()
			// Wait until the child's handler runs the task.
			deadline := time.Now().Add(30 * time.Second)
			for {
				got, err := e.Get(ctx, x.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status == training.StatusRunning {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the child never started the task")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := child.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = child.Wait()

			// This process's pool sees the world a lease later: the dead
			// worker's lease has expired, without the test sleeping for it.
			later := func() time.Time { return time.Now().Add(training.Worker.Lease + time.Second) }
			e2 := engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker), engine.WithClock(later))
			var runs atomic.Int32
			p, err := worker.New(e2, func(context.Context, *training.Training, *worker.Progress[training.Training]) error {
				runs.Add(1)
				return nil
			}, worker.Config{Owner: "survivor", PollInterval: 10 * time.Millisecond, NoRescue: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			r, err := p.Rescue(ctx)
			if err != nil || r.Requeued != 1 {
				t.Fatalf("rescue: %+v, %v", r, err)
			}
			c, cancel := context.WithCancel(ctx)
			stopped := make(chan struct{})
			go func() { defer close(stopped); _ = p.Run(c) }()
			for {
				got, err := e.Get(ctx, x.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status.IsTerminal() {
					if got.Status != training.StatusDone {
						t.Fatalf("rescued task ended %s", got.Status)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("rescued task still %s", got.Status)
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-stopped
			if runs.Load() != 1 {
				t.Errorf("the survivor ran the task %d times", runs.Load())
			}
			h, err := e.History(ctx, x.ID)
			if err != nil {
				t.Fatal(err)
			}
			var steps []string
			for _, r := range h[1:] {
				steps = append(steps, fmt.Sprintf("%s by %s (attempt %d)", r.Event, r.Actor, r.Attempt))
			}
			want := "start by doomed (attempt 1), requeue by survivor (attempt 1), start by survivor (attempt 2), complete by survivor (attempt 2)"
			if got := strings.Join(steps, ", "); got != want {
				t.Errorf("history:\n got %s\nwant %s", got, want)
			}
		})
	}
}
