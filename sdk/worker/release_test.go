package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/internal/sdktest"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/tasktype"
)

type trainingLeases = worker.Leases[training.Training, training.Event, *training.Training]

// trainingWith opens the training model on every backend with its worker
// section changed by edit, on a fake clock.
func trainingWith(t *testing.T, edit func(*tasktype.Worker), fn func(t *testing.T, e *engine.Engine[training.Training, training.Event, *training.Training], l *trainingLeases, clock *backendtest.Clock)) {
	for _, b := range sdktest.TrainingBackends {
		t.Run(b.Name, func(t *testing.T) {
			spec := training.Worker
			if edit != nil {
				edit(&spec)
			}
			clock := backendtest.NewClock()
			e := engine.New[training.Training, training.Event](b.Open(t), engine.WithClock(clock.Now), engine.WithWorker(spec))
			l, err := worker.NewLeases(e)
			if err != nil {
				t.Fatal(err)
			}
			fn(t, e, l, clock)
		})
	}
}

// claimOne claims the one queued task as owner.
func claimOne(t *testing.T, l *trainingLeases, owner string) worker.Claimed[training.Training] {
	t.Helper()
	got, _, err := l.Claim(ctx, owner, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim as %s: %d tasks, %v", owner, len(got), err)
	}
	return got[0]
}

// TestReleaseIsNotAnAttempt: a released task is back in the queue at once,
// claimable by anyone, with a history row naming the worker; the released
// claims are left out of the attempts Rescue counts. With max_attempts 2,
// a task released once and then lost is requeued (its first counted
// attempt), where counting every claim would have failed it; with
// max_attempts 1 it can still run, and fails only when its one counted
// attempt is lost.
func TestReleaseIsNotAnAttempt(t *testing.T) {
	for _, tc := range []struct {
		max  int
		want training.Status
		msg  string
	}{
		{2, training.StatusQueued, "worker b lost the task (lease expired, attempt 1 of 2; 1 released claim(s) not counted); requeued"},
		{1, training.StatusFailed, "worker b lost the task (lease expired, attempt 1 of 1; 1 released claim(s) not counted)"},
	} {
		t.Run(fmt.Sprintf("max_attempts %d", tc.max), func(t *testing.T) {
			trainingWith(t, func(s *tasktype.Worker) { s.MaxAttempts = tc.max }, func(t *testing.T, e *engine.Engine[training.Training, training.Event, *training.Training], l *trainingLeases, clock *backendtest.Clock) {
				x, err := e.Create(ctx, training.NewTraining(), engine.Meta{})
				if err != nil {
					t.Fatal(err)
				}
				a := claimOne(t, l, "a")
				back, err := l.Release(ctx, a.Task, a.Lease, "no GPU")
				if err != nil || back.Status != training.StatusQueued {
					t.Fatalf("Release: %v, %v", back, err)
				}
				hs, err := e.History(ctx, x.ID)
				if err != nil {
					t.Fatal(err)
				}
				last := hs[len(hs)-1]
				if last.Event != string(training.EventRequeue) || last.Actor != "a" || last.Attempt != 1 || last.Message != "released by a (attempt 1, not counted): no GPU" {
					t.Errorf("the release's history row: %+v", last)
				}
				if ok, err := l.Released(ctx, x.ID, a.Lease); !ok || err != nil {
					t.Errorf("Released = %v, %v", ok, err)
				}
				// Claimable at once, though the clock has not moved.
				b := claimOne(t, l, "b")
				if b.Lease.Attempt != 2 || b.Task.ID != x.ID {
					t.Fatalf("claim after the release: %+v", b.Lease)
				}
				clock.Advance(training.Worker.Lease + time.Second)
				r, err := l.Rescue(ctx, "rescuer")
				if err != nil || r.Requeued+r.Failed != 1 {
					t.Fatalf("Rescue: %+v, %v", r, err)
				}
				got, err := e.Get(ctx, x.ID)
				if err != nil || got.Status != tc.want {
					t.Fatalf("after the rescue: %s, %v; want %s", got.Status, err, tc.want)
				}
				hs, _ = e.History(ctx, x.ID)
				if m := hs[len(hs)-1].Message; m != tc.msg {
					t.Errorf("the rescue's history row:\n got %q\nwant %q", m, tc.msg)
				}
			})
		})
	}
}

// TestReleaseRefusals: Release moves nothing for a lease that does not
// hold the task (released already, stale, taken over), a nil task, a
// reason too long, or a model without a requeue event.
func TestReleaseRefusals(t *testing.T) {
	trainingWith(t, nil, func(t *testing.T, e *engine.Engine[training.Training, training.Event, *training.Training], l *trainingLeases, clock *backendtest.Clock) {
		x, err := e.Create(ctx, training.NewTraining(), engine.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		a := claimOne(t, l, "a")
		if _, err := l.Release(ctx, nil, a.Lease, ""); !errors.Is(err, backends.ErrNilTask) {
			t.Errorf("Release(nil): %v", err)
		}
		if _, err := l.Release(ctx, a.Task, a.Lease, strings.Repeat("x", worker.MaxReleaseReason+1)); err == nil || !strings.Contains(err.Error(), "at most 1000 bytes") {
			t.Errorf("Release with a long reason: %v", err)
		}
		if _, err := l.Release(ctx, a.Task, backends.Lease{Owner: "a", Attempt: 2}, ""); !errors.Is(err, worker.ErrNotHeld) {
			t.Errorf("Release with another attempt's lease: %v", err)
		}
		if _, err := l.Release(ctx, a.Task, backends.Lease{Owner: "b", Attempt: 1}, ""); !errors.Is(err, worker.ErrNotHeld) {
			t.Errorf("Release with another owner's lease: %v", err)
		}
		if _, err := l.Release(ctx, a.Task, a.Lease, ""); err != nil {
			t.Fatal(err)
		}
		cur, err := e.Get(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Release(ctx, cur, a.Lease, ""); !errors.Is(err, worker.ErrNotHeld) {
			t.Errorf("a second Release: %v", err)
		}
		// The same owner claims again: the released lease (attempt 1) does
		// not hold the new claim (attempt 2).
		b := claimOne(t, l, "a")
		if _, err := l.Release(ctx, b.Task, a.Lease, ""); !errors.Is(err, worker.ErrNotHeld) {
			t.Errorf("the released lease after a claim by the same owner: %v", err)
		}
		if ok, _, err := l.Heartbeat(ctx, x.ID, a.Lease); ok || err != nil {
			t.Errorf("the released lease heartbeats: %v, %v", ok, err)
		}
		if ok, _, err := l.Heartbeat(ctx, x.ID, b.Lease); !ok || err != nil {
			t.Errorf("the new lease does not heartbeat: %v, %v", ok, err)
		}
		// A version read before the task moved.
		if _, err := l.Release(ctx, a.Task, b.Lease, ""); err == nil {
			t.Error("Release of a stale copy of the task succeeded")
		}
	})
	t.Run("no requeue event", func(t *testing.T) {
		forEach(t, func(t *testing.T, e *Engine, _ backends.WorkDriver[analysis.Task], _ *backendtest.Clock) {
			l, err := worker.NewLeases(e)
			if err != nil {
				t.Fatal(err)
			}
			queued(t, e, 1)
			got, _, err := l.Claim(ctx, "a", 1)
			if err != nil || len(got) != 1 {
				t.Fatal(got, err)
			}
			if _, err := l.Release(ctx, got[0].Task, got[0].Lease, ""); !errors.Is(err, worker.ErrNoRequeue) {
				t.Errorf("Release on a model without requeue: %v", err)
			}
		})
	})
}

// fireHook calls after once the claim event's write succeeded.
type fireHook struct {
	backends.WorkDriver[training.Training]
	after func()
}

func (d *fireHook) Transition(ctx context.Context, from backends.Key, next *training.Training, h backends.History) (bool, error) {
	ok, err := d.WorkDriver.Transition(ctx, from, next, h)
	if ok && err == nil && h.Event == string(training.EventStart) {
		d.after()
	}
	return ok, err
}

// TestPoolGivesBackTasksClaimedAsItStops: a pool whose Run is stopping
// when its claim returns gives the claimed task back instead of starting
// its handler: the task is queued, and the claim is not counted.
func TestPoolGivesBackTasksClaimedAsItStops(t *testing.T) {
	for _, b := range sdktest.TrainingBackends {
		t.Run(b.Name, func(t *testing.T) {
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			d := &fireHook{WorkDriver: b.Open(t), after: stop}
			e := engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker))
			x, err := e.Create(ctx, training.NewTraining(), engine.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			var ran atomic.Bool
			p, err := worker.New(e, func(context.Context, *training.Training, *worker.Progress[training.Training]) error {
				ran.Store(true)
				return nil
			}, worker.Config{Owner: "p", NoRescue: true, PollInterval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(runCtx); err != nil {
				t.Fatal(err)
			}
			if ran.Load() {
				t.Error("the handler ran on a task claimed as the pool stopped")
			}
			got, err := e.Get(ctx, x.ID)
			if err != nil || got.Status != training.StatusQueued {
				t.Fatalf("the task is %s, %v; want QUEUED", got.Status, err)
			}
			hs, _ := e.History(ctx, x.ID)
			if m := hs[len(hs)-1].Message; m != "released by p (attempt 1, not counted): the worker pool is shutting down" {
				t.Errorf("history: %q", m)
			}
			// Claimable at once by another worker.
			l, err := worker.NewLeases(e)
			if err != nil {
				t.Fatal(err)
			}
			if c, _, err := l.Claim(ctx, "q", 1); err != nil || len(c) != 1 {
				t.Errorf("claim after the give-back: %d, %v", len(c), err)
			}
		})
	}
}
