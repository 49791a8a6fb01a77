package worker_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

// shortLease is the analysis model's worker section with a lease short
// enough for tests on the real clock, which heartbeats and lease deadlines
// run on.
func shortLease() engine.Option {
	w := analysis.Worker
	w.Lease = 400 * time.Millisecond
	return engine.WithWorker(w)
}

// heartbeats wraps a driver: beat answers every Heartbeat instead of the
// driver when it is set, and beats counts them.
type heartbeats struct {
	backends.WorkDriver[analysis.Task]
	beat  func() (bool, error)
	beats atomic.Int64
}

func (h *heartbeats) Heartbeat(ctx context.Context, id uuid.UUID, lease backends.Lease, running string, expires time.Time) (bool, error) {
	h.beats.Add(1)
	if h.beat != nil {
		return h.beat()
	}
	return h.WorkDriver.Heartbeat(ctx, id, lease, running, expires)
}

// TestHeartbeatsKeepTheLease: a handler that runs three lease periods keeps
// its task: the pool renews the lease, so a rescuer checking all along finds
// nothing lost, and the task completes.
func TestHeartbeatsKeepTheLease(t *testing.T) {
	forEach(t, func(t *testing.T, _ *Engine, d backends.WorkDriver[analysis.Task], _ *backendtest.Clock) {
		hb := &heartbeats{WorkDriver: d}
		e := engine.New[analysis.Task, analysis.Event](hb, shortLease())
		done := make(chan struct{})
		p := newPool(t, e, func(ctx context.Context, _ *analysis.Task, _ *worker.Progress[analysis.Task]) error {
			defer close(done)
			select {
			case <-time.After(1200 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}, worker.Config{Owner: "long"})
		rescuer := newPool(t, e, func(context.Context, *analysis.Task, *worker.Progress[analysis.Task]) error { return nil }, worker.Config{Owner: "rescuer"})
		tasks := queued(t, e, 1)
		start(t, p)
		for running := true; running; {
			select {
			case <-done:
				running = false
			case <-time.After(50 * time.Millisecond):
				if r, err := rescuer.Rescue(ctx); err != nil || r != (worker.RescueResult{}) {
					t.Fatalf("rescue while the handler runs and heartbeats: %+v, %v", r, err)
				}
			}
		}
		if x := waitFor(t, e, tasks)[0]; x.Status != analysis.StatusCompleted {
			t.Fatalf("task %s after a long handler, want COMPLETED", x.Status)
		}
		if n := hb.beats.Load(); n < 3 {
			t.Errorf("%d heartbeats over three lease periods, want at least 3", n)
		}
	})
}

// TestLeaseLossStopsHandler: a worker whose heartbeat is refused (another
// holds the lease now), or that cannot renew its lease for a whole lease
// period, cancels its handler with that cause and writes nothing.
func TestLeaseLossStopsHandler(t *testing.T) {
	for _, c := range []struct {
		name string
		beat func() (bool, error)
	}{
		{"heartbeat refused", func() (bool, error) { return false, nil }},
		{"heartbeats fail for a lease period", func() (bool, error) { return false, errors.New("connection refused") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, _ *Engine, d backends.WorkDriver[analysis.Task], _ *backendtest.Clock) {
				hb := &heartbeats{WorkDriver: d, beat: c.beat}
				e := engine.New[analysis.Task, analysis.Event](hb, shortLease())
				cause := make(chan error, 1)
				began := time.Now()
				p := newPool(t, e, func(ctx context.Context, _ *analysis.Task, _ *worker.Progress[analysis.Task]) error {
					<-ctx.Done()
					cause <- context.Cause(ctx)
					return nil // would complete the task if the pool let it
				}, worker.Config{Owner: "w"})
				tasks := queued(t, e, 1)
				start(t, p)
				select {
				case err := <-cause:
					if err == nil || !strings.Contains(err.Error(), "lease") {
						t.Fatalf("handler stopped with %v, want the lost lease", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the handler was never stopped")
				}
				if took := time.Since(began); took > 5*time.Second {
					t.Errorf("the handler stopped after %v", took)
				}
				time.Sleep(50 * time.Millisecond)
				x, err := e.Get(ctx, tasks[0].ID)
				if err != nil || x.Status != analysis.StatusProcessing {
					t.Fatalf("task %s, %v; want it left PROCESSING for the rescue", x.Status, err)
				}
			})
		})
	}
}
