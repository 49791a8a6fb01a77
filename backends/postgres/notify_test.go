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

// TestNotifierAcrossRestart: when its server restarts — crashing, or shut
// down fast — a Notifier listens again, on a new session, by itself, and
// hears the changes committed after.
func TestNotifierAcrossRestart(t *testing.T) {
	ctx := context.Background()
	cluster := pgtest.StartCluster(t)
	pool, err := postgres.Open(ctx, cluster.URL(), training.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	n := postgres.NewNotifier(pool, "training")
	heard := make(chan backends.Notice, 16)
	c, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Listen(c, func(nt backends.Notice) { heard <- nt }) }()
	defer func() { cancel(); <-done }()

	// listening waits for a listening session other than old's.
	listening := func(old uint32) uint32 {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for n.PID() == 0 || n.PID() == old {
			if time.Now().After(deadline) {
				t.Fatalf("the Notifier did not listen again (pid %d)", n.PID())
			}
			time.Sleep(5 * time.Millisecond)
		}
		return n.PID()
	}
	pid := listening(0)
	for _, mode := range []pgtest.StopMode{pgtest.Immediate, pgtest.Fast} {
		cluster.Stop(t, mode)
		cluster.Start(t)
		pid = listening(pid)
		// Another process writes, over a pool opened after the restart.
		writer, err := postgres.Open(ctx, cluster.URL(), training.Migrations(postgres.Engine))
		if err != nil {
			t.Fatal(err)
		}
		x, err := backends.NewStore[training.Training, training.Event](trainingdb.NewDriver(writer)).Create(ctx, training.NewTraining(), backends.Meta{})
		writer.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := next(t, heard); got.ID != x.ID || got.Status != string(training.StatusQueued) {
			t.Errorf("after stop -m %s: heard %+v, want the creation of %s", mode, got, x.ID)
		}
	}
}

// next returns the next notice heard, failing the test after 10 s.
func next(t *testing.T, heard <-chan backends.Notice) backends.Notice {
	t.Helper()
	select {
	case nt := <-heard:
		return nt
	case <-time.After(10 * time.Second):
		t.Fatal("no notice heard")
		return backends.Notice{}
	}
}
