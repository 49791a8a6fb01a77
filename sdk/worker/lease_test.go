package worker_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/tasktype"
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
		done := make(chan error, 1)
		p := newPool(t, e, func(ctx context.Context, _ *analysis.Task, _ *worker.Progress[analysis.Task]) error {
			select {
			case <-time.After(1200 * time.Millisecond):
				done <- nil
				return nil
			case <-ctx.Done():
				done <- context.Cause(ctx)
				return context.Cause(ctx)
			}
		}, worker.Config{Owner: "long"})
		rescuer := newPool(t, e, func(context.Context, *analysis.Task, *worker.Progress[analysis.Task]) error { return nil }, worker.Config{Owner: "rescuer"})
		tasks := queued(t, e, 1)
		start(t, p)
		for running := true; running; {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("the handler was stopped: %v", err)
				}
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
	const lease = 400 * time.Millisecond // shortLease's
	for _, c := range []struct {
		name string
		beat func() (bool, error)
		// The handler stops at the first heartbeat (after Heartbeat, a third
		// of the lease) when it is refused, and only once a whole lease
		// passed without one when they fail.
		beats    func(int64) bool
		stopsIn  func(time.Duration) bool
		expected string
	}{
		{"heartbeat refused", func() (bool, error) { return false, nil },
			func(n int64) bool { return n == 1 }, func(d time.Duration) bool { return d < lease }, "one heartbeat, within a lease"},
		{"heartbeats fail for a lease period", func() (bool, error) { return false, errors.New("connection refused") },
			// A failing heartbeat is retried until the lease is over: what
			// tells it from a refusal is that the handler ran a lease long.
			// How many heartbeats fit in it depends on the machine's load
			// (one, under make test beside other packages).
			func(n int64) bool { return n >= 1 }, func(d time.Duration) bool { return d >= lease-50*time.Millisecond }, "heartbeats for a whole lease"},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, _ *Engine, d backends.WorkDriver[analysis.Task], _ *backendtest.Clock) {
				hb := &heartbeats{WorkDriver: d, beat: c.beat}
				e := engine.New[analysis.Task, analysis.Event](hb, shortLease())
				cause := make(chan error, 1)
				var ran time.Duration
				p := newPool(t, e, func(ctx context.Context, _ *analysis.Task, _ *worker.Progress[analysis.Task]) error {
					began := time.Now()
					<-ctx.Done()
					ran = time.Since(began)
					cause <- context.Cause(ctx)
					return nil // would complete the task if the pool let it
				}, worker.Config{Owner: "w"})
				tasks := queued(t, e, 1)
				stop := start(t, p)
				select {
				case err := <-cause:
					if err != worker.ErrLeaseLost {
						t.Fatalf("handler stopped with %v, want the lost lease", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the handler was never stopped")
				}
				if n := hb.beats.Load(); !c.beats(n) || !c.stopsIn(ran) {
					t.Errorf("the handler stopped after %d heartbeats and %v, want %s", n, ran, c.expected)
				}
				stop() // Run returns once the run has ended: what it wrote, if anything, is written
				x, err := e.Get(ctx, tasks[0].ID)
				if err != nil || x.Status != analysis.StatusProcessing {
					t.Fatalf("task %s, %v; want it left PROCESSING for the rescue", x.Status, err)
				}
			})
		})
	}
}

// lostReply wraps a driver: the next transition to status to is written,
// and then answered with an error, as a connection that drops before the
// commit's reply arrives; lost counts them.
//
// With before set, the transition is not written: before runs (another
// writer's change), and then the same error answers, as a connection that
// drops before the write reaches the server.
type lostReply struct {
	backends.WorkDriver[analysis.Task]
	to     atomic.Pointer[analysis.Status]
	lost   atomic.Int64
	before func()
}

func (d *lostReply) Transition(ctx context.Context, from backends.Key, next *analysis.Task, h backends.History) (bool, error) {
	if to := d.to.Load(); d.before != nil && to != nil && next.Status == *to && d.to.CompareAndSwap(to, nil) {
		d.before()
		return false, errors.New("read tcp 127.0.0.1:5432: connection reset by peer")
	}
	ok, err := d.WorkDriver.Transition(ctx, from, next, h)
	if to := d.to.Load(); ok && err == nil && to != nil && next.Status == *to && d.to.CompareAndSwap(to, nil) {
		d.lost.Add(1)
		return false, errors.New("read tcp 127.0.0.1:5432: connection reset by peer")
	}
	return ok, err
}

// moveLog is an engine.Observer that keeps the moves it sees.
type moveLog struct {
	mu    sync.Mutex
	moves []engine.Move
}

func (m *moveLog) Moved(mv engine.Move) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.moves = append(m.moves, mv)
}

// count returns how many moves from → to it saw.
func (m *moveLog) count(from, to string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, mv := range m.moves {
		if mv.From == from && mv.To == to {
			n++
		}
	}
	return n
}

// TestFinishAfterALostReply: an end write that committed but whose reply
// was lost is retried; the retry's conflict is that write's own, and
// Finish answers the task as it ended. The same conflict after another
// writer's change stays a conflict, whether it came before the end's
// first try or between a try that wrote nothing and the next. The
// observers and the engine's subscribers see a recovered end once.
func TestFinishAfterALostReply(t *testing.T) {
	for _, c := range []struct {
		name    string
		to      analysis.Status // the transition whose reply is lost
		outcome error
		want    analysis.Status // "" for a conflict
		between bool            // the cancel lands between the end's tries
	}{
		{"complete", analysis.StatusCompleted, nil, analysis.StatusCompleted, false},
		{"fail", analysis.StatusFailed, errors.New("bad input"), analysis.StatusFailed, false},
		{"another writer's cancel", analysis.StatusCancelled, nil, "", false},
		{"another writer's cancel between tries", analysis.StatusCompleted, nil, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, _ *Engine, d backends.WorkDriver[analysis.Task], _ *backendtest.Clock) {
				lr := &lostReply{WorkDriver: d}
				moves := &moveLog{}
				e := engine.New[analysis.Task, analysis.Event](lr, engine.WithWorker(analysis.Worker), engine.WithObserver(moves))
				l, err := worker.NewLeases(e)
				if err != nil {
					t.Fatal(err)
				}
				queued(t, e, 1)
				claims, _, err := l.Claim(ctx, "w1", 1)
				if err != nil || len(claims) != 1 {
					t.Fatalf("claim: %v, %v", claims, err)
				}
				cl := claims[0]
				sub := e.SubscribeLocal(ctx, cl.Task.ID)
				defer sub.Close()
				to := c.to
				if c.between {
					lr.before = func() {
						if _, err := e.Cancel(ctx, cl.Task.ID, engine.Meta{Actor: "user"}); err != nil {
							t.Errorf("cancel: %v", err)
						}
					}
				}
				lr.to.Store(&to)
				if c.want == "" && !c.between {
					// Another request cancels first, and its reply is lost:
					// the worker's end then conflicts with a change that is
					// not its own.
					if _, err := e.Cancel(ctx, cl.Task.ID, engine.Meta{Actor: "user"}); err == nil {
						t.Fatal("the cancel's reply was not lost")
					}
				}
				x, err := l.Finish(ctx, cl.Task, cl.Lease, c.outcome, nil)
				if c.want == "" {
					if !errors.Is(err, tasktype.ErrConflict) {
						t.Fatalf("Finish after another writer's change: %v, %v; want a conflict", x, err)
					}
					return
				}
				if err != nil || x.Status != c.want {
					t.Fatalf("Finish: %v, %v; want %s", x, err, c.want)
				}
				if lr.lost.Load() != 1 {
					t.Errorf("%d replies lost, want 1", lr.lost.Load())
				}
				// The observers (metrics) see the end once, as if its reply
				// had come.
				if n := moves.count(string(analysis.StatusProcessing), string(c.want)); n != 1 {
					t.Errorf("observers saw %d moves PROCESSING → %s, want 1", n, c.want)
				}
				select {
				case ch := <-sub.C:
					if ch.Key.Status != string(c.want) || ch.From != string(analysis.StatusProcessing) {
						t.Errorf("subscribers saw %s → %s, want PROCESSING → %s", ch.From, ch.Key.Status, c.want)
					}
				case <-time.After(5 * time.Second):
					t.Errorf("subscribers never saw the end")
				}
				if got, err := e.Get(ctx, cl.Task.ID); err != nil || got.Status != c.want || got.Version != x.Version {
					t.Errorf("stored: %v, %v", got, err)
				}
			})
		})
	}
}
