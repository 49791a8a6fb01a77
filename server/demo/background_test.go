package demo_test

import (
	"context"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/server/demo"
)

// TestBackground: in a worker pool, the background handler moves a task to
// DONE through the progress of its steps (25, 50, 75, then 100 when
// done), and fails one tagged fail….
func TestBackground(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := engine.New[training.Training, training.Event](memory.New[training.Training](), engine.WithWorker(training.Worker))
	p, err := worker.New(e, demo.Background[training.Training](20*time.Millisecond), worker.Config{Concurrency: 2, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	create := func(tag string) *training.Training {
		x := training.NewTraining()
		x.Tag = &tag
		x, err := e.Create(ctx, x, engine.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	ok, failing := create("ok"), create("fail-me")
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	seen := map[int64]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for {
		x, err := e.Get(ctx, ok.ID)
		if err != nil {
			t.Fatal(err)
		}
		seen[x.Progress] = true
		f, _ := e.Get(ctx, failing.ID)
		if x.Status == training.StatusDone && f.Status == training.StatusFailed {
			if x.Progress != 100 {
				t.Errorf("done at progress %d", x.Progress)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ok is %s at %d%%, fail-me is %s", x.Status, x.Progress, f.Status)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !seen[25] && !seen[50] && !seen[75] {
		t.Errorf("no step's progress was seen while running: %v", seen)
	}
	cancel()
	if err := <-done; err != nil && err != context.Canceled {
		t.Errorf("pool: %v", err)
	}
}
