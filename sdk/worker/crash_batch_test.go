package worker_test

import (
	"bufio"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

// The batch crash test kills a process whose writes are group-committed
// (creates, claims and completions of many tasks in shared transactions) in
// the middle of its work, and checks what it left: no task half-written,
// none of its acknowledged creates lost, and none run to DONE twice.

const envBatchLog = "TASKMODEL_CRASH_BATCH_LOG" // the file the child lists its acknowledged creates in

// TestCrashBatchProcess is the child: it is skipped unless the parent set
// envBatchLog. Producers create tasks one at a time while a pool of 64 runs
// them, until the process is killed.
func TestCrashBatchProcess(t *testing.T) {
	logPath := os.Getenv(envBatchLog)
	if logPath == "" {
		t.Skip("the child process of TestKilledMidBatch")
	}
	d, closeDB, err := openTraining(ctx, os.Getenv(envWorker), os.Getenv(envTarget))
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker))
	p, err := worker.New(e, func(context.Context, *training.Training, *worker.Progress[training.Training]) error {
		return nil
	}, worker.Config{Owner: "doomed", Concurrency: 64, PollInterval: 5 * time.Millisecond, NoRescue: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	for range 8 {
		go func() {
			for {
				x, err := e.Create(ctx, training.NewTraining(), engine.Meta{Actor: "producer"})
				if err != nil {
					continue
				}
				mu.Lock()
				_, _ = log.WriteString(x.ID.String() + "\n") // acknowledged: it must survive
				mu.Unlock()
			}
		}()
	}
	_ = p.Run(ctx) // runs until SIGKILL
}

func TestKilledMidBatch(t *testing.T) {
	if os.Getenv(envBatchLog) != "" || os.Getenv(envWorker) != "" {
		t.Skip("in the child process")
	}
	for _, kind := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			target, d, e := sharedTraining(t, kind, dir)
			logPath := filepath.Join(dir, "created.log")
			child := exec.Command(os.Args[0], "-test.run", "^TestCrashBatchProcess$")
			app := "taskmodel-crash-" + uuid.NewString()[:8]
			child.Env = append(os.Environ(), envWorker+"="+kind, envTarget+"="+target, envBatchLog+"="+logPath, envApp+"="+app)
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			defer child.Process.Kill()
			// Kill it once it has finished a few hundred tasks: by then
			// creates, claims and completions go in batches.
			deadline := time.Now().Add(60 * time.Second)
			for {
				done, err := d.ListByStatus(ctx, string(training.StatusDone), 300)
				if err != nil {
					t.Fatal(err)
				}
				if len(done) >= 300 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the child finished only %d tasks in 60 s", len(done))
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := child.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = child.Wait()
			// A COMMIT the child sent before it died may still run on the
			// server: wait for its sessions to end.
			switch kind {
			case "postgres":
				waitSessionsGone(t, app)
			case "mysql":
				waitMySQLSessionsGone(t, target)
			}

			if kind == "sqlite" {
				db, err := sql.Open("sqlite", target)
				if err != nil {
					t.Fatal(err)
				}
				var check string
				if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
					t.Errorf("integrity_check: %q, %v", check, err)
				}
				db.Close()
			}

			// Every task is whole: one history row per version, the last one
			// leading to its status.
			tasks := map[uuid.UUID]*training.Training{}
			for _, st := range training.Statuses() {
				xs, err := d.ListByStatus(ctx, string(st), 1_000_000)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range xs {
					tasks[x.ID] = x
				}
			}
			doneBefore := map[uuid.UUID]bool{}
			for id, x := range tasks {
				h, err := e.History(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(h)) != x.Version || h[len(h)-1].To != string(x.Status) {
					t.Fatalf("task %s half-written: %s version %d, %d history rows, the last to %s", id, x.Status, x.Version, len(h), h[len(h)-1].To)
				}
				if x.Status == training.StatusDone {
					doneBefore[id] = true
				}
			}
			// No acknowledged create is lost.
			f, err := os.Open(logPath)
			if err != nil {
				t.Fatal(err)
			}
			acked := 0
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				id, err := uuid.Parse(line)
				if err != nil {
					continue // the last line, cut by the kill
				}
				acked++
				if tasks[id] == nil {
					t.Errorf("task %s was acknowledged to the child, and is lost", id)
				}
			}
			f.Close()
			if acked < 300 {
				t.Fatalf("the child acknowledged %d creates", acked)
			}

			// A pool here, a lease later, runs what the child left: each
			// task ends DONE once, and none the child finished runs again.
			later := func() time.Time { return time.Now().Add(training.Worker.Lease + time.Second) }
			e2 := engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker), engine.WithClock(later))
			var mu sync.Mutex
			runs := map[uuid.UUID]int{}
			var left atomic.Int64
			left.Store(int64(len(tasks) - len(doneBefore)))
			all := make(chan struct{})
			p, err := worker.New(e2, func(_ context.Context, x *training.Training, _ *worker.Progress[training.Training]) error {
				mu.Lock()
				runs[x.ID]++
				mu.Unlock()
				return nil
			}, worker.Config{Owner: "survivor", Concurrency: 32, PollInterval: 5 * time.Millisecond, NoRescue: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Rescue(ctx); err != nil {
				t.Fatal(err)
			}
			c, cancel := context.WithCancel(ctx)
			stopped := make(chan struct{})
			go func() { defer close(stopped); _ = p.Run(c) }()
			go func() {
				for left.Load() > 0 {
					n := 0
					for _, st := range []training.Status{training.StatusQueued, training.StatusRunning} {
						xs, _ := d.ListByStatus(ctx, string(st), 1)
						n += len(xs)
					}
					if n == 0 {
						close(all)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
			select {
			case <-all:
			case <-time.After(60 * time.Second):
				t.Fatal("the survivor did not finish the tasks left")
			}
			cancel()
			<-stopped
			for id := range tasks {
				x, err := e.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if x.Status != training.StatusDone {
					t.Errorf("task %s ended %s", id, x.Status)
				}
				h, err := e.History(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				completes := 0
				for _, r := range h {
					if r.Event == string(training.EventComplete) {
						completes++
					}
				}
				if completes != 1 {
					t.Errorf("task %s completed %d times", id, completes)
				}
				if doneBefore[id] && runs[id] > 0 {
					t.Errorf("task %s, finished by the child, ran again", id)
				}
			}
			t.Logf("%d tasks, %d finished before the kill, %d run by the survivor", len(tasks), len(doneBefore), len(runs))
		})
	}
}

// waitSessionsGone waits until no PostgreSQL session has application_name
// app.
func waitSessionsGone(t *testing.T, app string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of the killed child still run", n)
		}
	}
}

// waitMySQLSessionsGone waits until no session but idle ones (this
// process's pool) works in the database of url.
func waitMySQLSessionsGone(t *testing.T, url string) {
	t.Helper()
	db, err := mysql.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.PROCESSLIST
			WHERE DB = DATABASE() AND COMMAND <> 'Sleep' AND ID <> CONNECTION_ID()`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of the killed child still run", n)
		}
	}
}
