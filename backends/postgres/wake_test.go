package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/pgdb"
)

// TestWakeTrigger: the wake trigger (migration worker_wake) notifies only
// while a WakeListener of the model has armed it, once, for the first task
// queued after (a batch of creates included), never for a write that leaves
// a task out of the queue, and nothing once the last listener stopped.
// Each step reads the arming sequence after it and counts the
// notifications of a raw session that listens without registering.
func TestWakeTrigger(t *testing.T) {
	ctx := context.Background()
	pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), training.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	d := trainingdb.NewDriver(pool)
	store := backends.NewStore[training.Training, training.Event](d)
	armed := func() int64 {
		t.Helper()
		var v int64
		if err := pool.QueryRow(ctx, `SELECT coalesce(pg_sequence_last_value('training_waking'), 0)`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	create := func(n int) func() error {
		return func() error {
			xs := make([]*training.Training, n)
			for i := range xs {
				xs[i] = training.NewTraining()
			}
			_, err := store.CreateMany(ctx, xs, backends.Meta{})
			return err
		}
	}
	claim := func() error {
		_, _, err := d.Claim(ctx, "test", time.Now(), time.Now().Add(time.Minute), 100, backends.QueuePosition{})
		return err
	}

	var (
		listener *postgres.WakeListener
		idle     = make(chan struct{}, 1)
		stop     func()
	)
	start := func() {
		listener = postgres.NewWakeListener(pool, "training")
		postgres.SetWakeBackoff(listener, time.Hour)
		c, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = listener.Wake(c, idle, func() {}) }()
		stop = func() { cancel(); <-done }
		for deadline := time.Now().Add(10 * time.Second); listener.PID() == 0; time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the WakeListener did not listen")
			}
		}
	}
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	arm := func() {
		idle <- struct{}{}
		for deadline := time.Now().Add(10 * time.Second); armed() != 1; time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the idle signal did not arm the trigger")
			}
		}
	}

	heard := listenProbeOn(t, pool, "taskmodel_wake_training")
	for _, s := range []struct {
		name   string
		before func()
		write  func() error
		notes  int
		after  int64
	}{
		{"nobody listens", func() {}, create(1), 0, 0},
		{"a listener that was not idle", start, create(1), 0, 0},
		{"armed: the first task queued", arm, create(1), 1, 0},
		{"disarmed by it", func() {}, create(1), 0, 0},
		{"armed: a batch of creates", arm, create(5), 1, 0},
		{"armed: claims leave the queue", arm, claim, 0, 1},
		{"the last listener stops while armed", func() { stop(); stop = nil }, create(1), 0, 0},
	} {
		s.before()
		if got := heard(s.write); got != s.notes {
			t.Errorf("%s: %d notifications, want %d", s.name, got, s.notes)
		}
		if got := armed(); got != s.after {
			t.Errorf("%s: the arming sequence is %d after, want %d", s.name, got, s.after)
		}
	}
}

// TestWakeAfterWriterInFlight: a writer whose trigger read the arming
// sequence just before a WakeListener armed it notifies nobody, and its
// task is not yet visible to the look that follows the arming's wake; the
// listener wakes the pool again once that writer's transaction has ended.
// Without it the task would wait for the pool's poll.
func TestWakeAfterWriterInFlight(t *testing.T) {
	ctx := context.Background()
	pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), training.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, end := range []string{"commit", "rollback"} {
		t.Run(end, func(t *testing.T) {
			wakes := make(chan struct{}, 16)
			idle := make(chan struct{}, 1)
			listener := postgres.NewWakeListener(pool, "training")
			c, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = listener.Wake(c, idle, func() { wakes <- struct{}{} })
			}()
			defer func() { cancel(); <-done }()
			await := func(what string) {
				t.Helper()
				select {
				case <-wakes:
				case <-time.After(10 * time.Second):
					t.Fatalf("no wake-up %s", what)
				}
			}
			await("once listening")

			// The writer's trigger reads the sequence disarmed.
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			store := backends.NewStore[training.Training, training.Event](trainingdb.NewDriver(tx))
			if _, err := store.Create(ctx, training.NewTraining(), backends.Meta{}); err != nil {
				t.Fatal(err)
			}
			idle <- struct{}{}
			await("when the idle signal armed a disarmed trigger")
			select {
			case <-wakes:
				t.Fatal("woken again while the writer's transaction is in progress")
			case <-time.After(50 * time.Millisecond):
			}
			if end == "commit" {
				err = tx.Commit(ctx)
			} else {
				err = tx.Rollback(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			await("after the writer's " + end)
		})
	}
}
