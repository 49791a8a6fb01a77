package stage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	stagemodel "github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/sdk/stage"
	"github.com/taskmodel/taskmodel/tasktype"
)

// pollEvery is the CancelCheck of these tests: real ticks, short.
const pollEvery = 10 * time.Millisecond

// within is the generous bound on what should take about pollEvery.
const within = 5 * time.Second

func waitDone(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(within):
		t.Fatalf("%s not cancelled within %s of another process's Cancel", what, within)
	}
}

// TestCancelFromAnotherProcess: a Runner over another connection to the
// database (another process) cancels the task while b blocks on its context;
// the running Runner's poll sees it, cancels b's context with ErrCanceled, and
// the task ends as a Cancel in the running Runner leaves it: b CANCELED with
// the entry Cancel wrote, c never run, nothing rolled back, no retry.
func TestCancelFromAnotherProcess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		cfg := e.config(stage.RetryPolicyStage, 3)
		cfg.CancelCheck = pollEvery
		b := startBlocked(t, e, rec, cfg)
		e.clock.Advance(2 * time.Second)
		other := e.runner(t, e.other(t), b.stages, cfg)
		if err := other.Cancel(e.ctx, "t"); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		waitDone(t, b.ctx, "b's context")
		err := <-b.done
		if !errors.Is(err, stage.ErrCanceled) || !errors.Is(b.cause, stage.ErrCanceled) {
			t.Fatalf("Run = %v, stage context cause %v; want ErrCanceled for both", err, b.cause)
		}
		rows := e.rows(t, "t", abc...)
		if rows[0].Status != complete || rows[1].Status != canceled || rows[2].Status != canceled {
			t.Errorf("statuses %s %s %s, want COMPLETE CANCELED CANCELED", rows[0].Status, rows[1].Status, rows[2].Status)
		}
		h := rows[1].History
		if len(h) != 1 || h[0].Attempt != 1 || h[0].BeginStatus != created || h[0].EndStatus != canceled ||
			h[0].Message != "canceled" || h[0].RunTimeSeconds != 2 || rows[1].Attempts != 1 || rows[1].Result != nil {
			t.Errorf("b's history = %+v (attempts %d), want its attempt ended CANCELED after 2s", h, rows[1].Attempts)
		}
		if len(rows[2].History) != 0 || rows[2].Attempts != 0 || rec.count("b") != 1 || rec.count("c") != 0 ||
			len(rec.undone()) != 0 || len(rollbackMessages(rows[0])) != 0 {
			t.Errorf("b ran %d, c %d times; rollbacks %v: cancel neither retries, runs on nor rolls back", rec.count("b"), rec.count("c"), rec.undone())
		}
		hist, _ := e.store(e.driver).History(e.ctx, rows[1].ID)
		if last := hist[len(hist)-1]; last.From != "RUNNING" || last.Event != "cancel" {
			t.Errorf("b's last move = %+v, want the cancel from RUNNING", last)
		}
		if _, err := b.runner.Run(e.ctx, "t", state{}); !errors.Is(err, stage.ErrCanceled) || rec.count("b") != 1 {
			t.Errorf("Run after Cancel = %v; b ran %d times", err, rec.count("b"))
		}
	})
}

// TestCancelFromAnotherProcessDuringBackoff: the cancel comes while b waits
// to retry; the wait's context is cancelled with ErrCanceled and b does not
// run again.
func TestCancelFromAnotherProcessDuringBackoff(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		waiting, release := make(chan context.Context, 1), make(chan struct{})
		defer close(release)
		cfg := e.config(stage.RetryPolicyStage, 3)
		cfg.CancelCheck = pollEvery
		var cause atomic.Value
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			waiting <- ctx
			select {
			case <-ctx.Done():
				cause.Store(context.Cause(ctx))
				return context.Cause(ctx)
			case <-release:
				return nil
			}
		}
		r := e.runner(t, e.driver, rec.stages(abc, 0, 1), cfg)
		done := runAsync(e, r, "t")
		var sleepCtx context.Context
		select {
		case sleepCtx = <-waiting:
		case err := <-done:
			t.Fatalf("Run returned %v without a backoff", err)
		}
		if err := e.runner(t, e.other(t), rec.stages(abc), cfg).Cancel(e.ctx, "t"); err != nil {
			t.Fatal(err)
		}
		waitDone(t, sleepCtx, "the backoff's context")
		if err := <-done; !errors.Is(err, stage.ErrCanceled) {
			t.Fatalf("Run = %v", err)
		}
		if c, _ := cause.Load().(error); !errors.Is(c, stage.ErrCanceled) {
			t.Errorf("backoff context cause = %v, want ErrCanceled", c)
		}
		rows := e.rows(t, "t", abc...)
		b := rows[1]
		if b.Status != canceled || !slices.Equal(attemptEnds(b), []stagemodel.Status{retry}) || b.Attempts != 1 || rec.count("b") != 1 {
			t.Errorf("b: %s, attempts ended %v (%d), ran %d times", b.Status, attemptEnds(b), b.Attempts, rec.count("b"))
		}
		if rows[2].Status != canceled || rec.count("c") != 0 || len(rec.undone()) != 0 {
			t.Errorf("c %s ran %d times; rollbacks %v", rows[2].Status, rec.count("c"), rec.undone())
		}
		hist, _ := e.store(e.driver).History(e.ctx, b.ID)
		if last := hist[len(hist)-1]; last.From != "RETRY" || last.Event != "cancel" {
			t.Errorf("last move = %+v", last)
		}
	})
}

// flakyDriver fails every Get with a context error while failing is set,
// and counts the Gets.
type flakyDriver struct {
	Driver
	failing      atomic.Bool
	gets, failed atomic.Int64
}

func (d *flakyDriver) Get(ctx context.Context, id uuid.UUID) (*stagemodel.StageState, error) {
	d.gets.Add(1)
	if d.failing.Load() {
		d.failed.Add(1)
		return nil, fmt.Errorf("read: %w", context.DeadlineExceeded)
	}
	return d.Driver.Get(ctx, id)
}

// waitFor polls cond until it holds, failing the test after within.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCancelPollFailureDoesNotCancel: polls that fail (a context error) do
// not cancel the running stage, which completes; the poller stops when the
// stage returns (no reads after Run).
func TestCancelPollFailureDoesNotCancel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		flaky := &flakyDriver{Driver: e.driver}
		cfg := e.config(stage.RetryPolicyNone, 0)
		cfg.CancelCheck = pollEvery
		started := make(chan context.Context, 1)
		release := make(chan struct{})
		var cause error
		stages := []stage.Stage[state]{rec.stage("a", 0), blocking(rec, started, release, &cause), rec.stage("c", 0)}
		r := e.runner(t, flaky, stages, cfg)
		done := runAsync(e, r, "t")
		var ctx context.Context
		select {
		case ctx = <-started:
		case err := <-done:
			t.Fatalf("Run returned %v before b ran", err)
		}
		flaky.failing.Store(true)
		waitFor(t, "3 failed polls", func() bool { return flaky.failed.Load() >= 3 })
		flaky.failing.Store(false)
		n := flaky.gets.Load()
		waitFor(t, "3 more polls", func() bool { return flaky.gets.Load() >= n+3 })
		if ctx.Err() != nil {
			t.Fatalf("b's context ended (%v) after failed polls", context.Cause(ctx))
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
		for i, row := range e.rows(t, "t", abc...) {
			if row.Status != complete {
				t.Errorf("stage %s: %s", abc[i], row.Status)
			}
		}
		n = flaky.gets.Load()
		time.Sleep(10 * pollEvery)
		if got := flaky.gets.Load(); got != n {
			t.Errorf("%d reads after Run returned: a poller outlived its stage", got-n)
		}
	})
}

// TestTakenOverCancelsStage: another runner that takes the task over (it
// finds b RUNNING, counts that attempt as interrupted, and runs b itself)
// makes this runner's poll cancel b's context with a cause wrapping
// ErrConflict; this runner then stops with ErrConflict, writing nothing.
func TestTakenOverCancelsStage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		cfg := e.config(stage.RetryPolicyStage, 3)
		cfg.CancelCheck = pollEvery
		b := startBlocked(t, e, rec, cfg)
		other := e.runner(t, e.other(t), rec.stages(abc), cfg)
		if _, err := other.Run(e.ctx, "t", state{}); err != nil {
			t.Fatalf("second runner: %v", err)
		}
		waitDone(t, b.ctx, "b's context")
		err := <-b.done
		if !errors.Is(b.cause, tasktype.ErrConflict) || !errors.Is(err, tasktype.ErrConflict) {
			t.Fatalf("Run = %v, b's cause %v; want ErrConflict for both", err, b.cause)
		}
		for i, row := range e.rows(t, "t", abc...) {
			if row.Status != complete {
				t.Errorf("stage %s: %s", abc[i], row.Status)
			}
		}
	})
}
