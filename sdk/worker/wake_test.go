package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

// twoProcesses opens the training model twice over one database, through
// separate connection pools, as two processes would: kind is "sqlite" or
// "postgres" or "mysql". It returns an engine over each and where they
// share the database (sharedTarget).
func twoProcesses(t testing.TB, kind string) (a, b *trainingEngine, target string) {
	t.Helper()
	target = sharedTarget(t, kind, t.TempDir())
	for _, e := range []**trainingEngine{&a, &b} {
		d, closeFn, err := openTraining(ctx, kind, target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closeFn)
		*e = engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker))
	}
	return a, b, target
}

// ranIDs is a handler that sends the id of each task it runs.
func ranIDs() (worker.Handler[training.Training], chan uuid.UUID) {
	ran := make(chan uuid.UUID, 100)
	return func(_ context.Context, x *training.Training, _ *worker.Progress[training.Training]) error {
		ran <- x.ID
		return nil
	}, ran
}

// awaitRun fails the test unless the pool runs task id. The pool's poll
// comes after an hour, so only a wake-up lets it run within the test; the
// deadline is the test's patience, not a measure of speed.
func awaitRun(t *testing.T, ran chan uuid.UUID, id uuid.UUID, what string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case got := <-ran:
			if got == id {
				return
			}
		case <-deadline:
			t.Fatalf("%s: the task created in the other process was not run: the pool was not woken", what)
		}
	}
}

// TestWakeAcrossProcesses: a pool whose poll comes after an hour runs the
// tasks that another process creates, one after another (each wake-up
// disarms the PostgreSQL trigger, and the pool arms it again when it waits),
// on SQLite and PostgreSQL. With NoWake, the same pool runs nothing (its
// first claim, at start, found the queue empty).
func TestWakeAcrossProcesses(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			ea, eb, _ := twoProcesses(t, kind)
			h, ran := ranIDs()
			runPool(t, ea, h, worker.Config{PollInterval: time.Hour})
			for i := range 3 {
				x := createTasks(t, eb, 1)[0]
				awaitRun(t, ran, x, "task "+string(rune('1'+i)))
			}
		})
	}
}

// TestWakeForTaskBehindThePosition: a task another process queues behind
// the position the pool's claims reached (created earlier, committed
// later) runs once the pool's Waker wakes it, though the pool's poll and
// its claim from the head are an hour away: the woken claim goes from the
// head of the queue.
func TestWakeForTaskBehindThePosition(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			worker.SetHeadEvery(t, time.Hour)
			ea, eb, target := twoProcesses(t, kind)
			d, closeFn, err := openTraining(ctx, kind, target)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(closeFn)
			// A third process whose clock is a minute behind.
			late := engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker),
				engine.WithClock(func() time.Time { return time.Now().Add(-time.Minute) }))
			h, ran := ranIDs()
			runPool(t, ea, h, worker.Config{PollInterval: time.Hour})
			awaitRun(t, ran, createTasks(t, eb, 1)[0], "the task at the position")
			awaitRun(t, ran, createTasks(t, late, 1)[0], "the task behind it")
		})
	}
}

// TestWakeAfterListenerReconnects: the PostgreSQL wake listener's session
// is terminated; it reconnects, registers again, and a task created by
// another process after that still wakes the pool (poll: an hour).
func TestWakeAfterListenerReconnects(t *testing.T) {
	ea, eb, schema := twoProcesses(t, "postgres")
	h, ran := ranIDs()
	runPool(t, ea, h, worker.Config{PollInterval: time.Hour})

	admin, err := pgx.Connect(ctx, pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	table := pgx.Identifier{schema, "taskmodel_listeners"}.Sanitize()
	// listener returns the registered wake listener's pid, waiting for one
	// other than not.
	listener := func(not int32) int32 {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var pid int32
			err := admin.QueryRow(ctx, `SELECT pid FROM `+table+` WHERE channel = 'training:wake' AND pid <> $1 AND pid IN (SELECT pid FROM pg_stat_activity)`, not).Scan(&pid)
			if err == nil {
				return pid
			}
			if err != pgx.ErrNoRows {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("no wake listener registered")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	first := listener(0)
	x := createTasks(t, eb, 1)[0]
	awaitRun(t, ran, x, "before the reconnect")
	var ok bool
	if err := admin.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, first).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminating the listener's session %d: %v %v", first, ok, err)
	}
	second := listener(first)
	t.Logf("listener session %d terminated, %d registered", first, second)
	for i := range 2 {
		x := createTasks(t, eb, 1)[0]
		awaitRun(t, ran, x, "after the reconnect, task "+string(rune('1'+i)))
	}
}
