package stage_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	stagemodel "github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/sdk/stage"
	"github.com/taskmodel/taskmodel/tasktype"
)

// blocking returns a stage b that sends its context on started at each
// call, then waits for the context to end or for release; it records the
// context's cause.
func blocking(rec *recorder, started chan<- context.Context, release <-chan struct{}, cause *error) stage.Stage[state] {
	return stage.Stage[state]{Name: "b", Run: func(ctx context.Context, s *state) (*stage.SimpleRecordsResult, error) {
		rec.called("b", s)
		started <- ctx
		select {
		case <-ctx.Done():
			*cause = context.Cause(ctx)
			return nil, ctx.Err()
		case <-release:
			s.Log = append(s.Log, "b")
			return nil, nil
		}
	}}
}

// runAsync starts r.Run in a goroutine; the channel gets its error.
func runAsync(e *env, r *stage.Runner[state], taskID string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(e.ctx, taskID, state{})
		done <- err
	}()
	return done
}

// blocked is a task "t" of stages a, b (blocking) and c running in a
// goroutine, b's attempt under way.
type blocked struct {
	stages  []stage.Stage[state]
	runner  *stage.Runner[state]
	done    <-chan error    // Run's error
	ctx     context.Context // b's context
	release chan struct{}   // closing it makes b succeed
	cause   error           // b's context's cause, once b returned
}

// startBlocked starts the task and returns once b runs.
func startBlocked(t *testing.T, e *env, rec *recorder, cfg stage.Config) *blocked {
	t.Helper()
	started := make(chan context.Context, 1)
	b := &blocked{release: make(chan struct{})}
	b.stages = []stage.Stage[state]{rec.stage("a", 0), blocking(rec, started, b.release, &b.cause), rec.stage("c", 0)}
	b.runner = e.runner(t, e.driver, b.stages, cfg)
	b.done = runAsync(e, b.runner, "t")
	select {
	case b.ctx = <-started:
	case err := <-b.done:
		t.Fatalf("Run returned %v before b ran", err)
	}
	return b
}

func TestCancelRunningStage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		b := startBlocked(t, e, rec, e.config(stage.RetryPolicyStage, 3))
		r := b.runner
		e.clock.Advance(2 * time.Second)
		if st, err := r.Status(e.ctx, "t"); err != nil || st.Status != stagemodel.StatusRunning || st.Stage != "b" {
			t.Errorf("Status while b runs = %+v, %v", st, err)
		}

		// A second Run of the running task in the same Runner is refused.
		if _, err := r.Run(e.ctx, "t", state{}); !errors.Is(err, tasktype.ErrConflict) {
			t.Errorf("concurrent Run = %v, want ErrConflict", err)
		}
		if err := r.Cancel(e.ctx, "t"); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		if b.ctx.Err() == nil { // Cancel cancels before it returns
			close(b.release)
			<-b.done
			t.Fatal("Cancel returned and the running stage's context is not cancelled")
		}
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
			h[0].Message != "canceled" || h[0].RunTimeSeconds != 2 {
			t.Errorf("b's history = %+v, want its attempt ended CANCELED after 2s", h)
		}
		if len(rows[2].History) != 0 || rec.count("c") != 0 || len(rec.undone()) != 0 || len(rollbackMessages(rows[0])) != 0 {
			t.Errorf("c ran %d times; rollbacks %v: cancel neither runs nor rolls back", rec.count("c"), rec.undone())
		}
		if st, _ := r.Status(e.ctx, "t"); st.Status != canceled || st.Stage != "b" {
			t.Errorf("Status = %s at %q", st.Status, st.Stage)
		}
		// A canceled task stays canceled.
		if _, err := r.Run(e.ctx, "t", state{}); !errors.Is(err, stage.ErrCanceled) || rec.count("b") != 1 {
			t.Errorf("Run after Cancel = %v; b ran %d times", err, rec.count("b"))
		}
	})
}

func TestCancelDuringBackoff(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		waiting, release := make(chan context.Context, 1), make(chan struct{})
		cfg := e.config(stage.RetryPolicyStage, 3)
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			waiting <- ctx
			select {
			case <-ctx.Done():
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
		if st, err := r.Status(e.ctx, "t"); err != nil || st.Status != retry || st.Stage != "b" || st.Attempts != 2 {
			t.Errorf("Status during b's backoff = %+v, %v", st, err)
		}
		if err := r.Cancel(e.ctx, "t"); err != nil {
			t.Fatal(err)
		}
		if sleepCtx.Err() == nil {
			close(release)
			<-done
			t.Fatal("Cancel returned and the backoff's context is not cancelled")
		}
		if err := <-done; !errors.Is(err, stage.ErrCanceled) {
			t.Fatalf("Run = %v", err)
		}
		row := e.rows(t, "t", "b")[0]
		if row.Status != canceled || !slices.Equal(attemptEnds(row), []stagemodel.Status{retry}) || rec.count("b") != 1 {
			t.Errorf("b: %s, attempts ended %v, ran %d times", row.Status, attemptEnds(row), rec.count("b"))
		}
		hist, _ := e.store(e.driver).History(e.ctx, row.ID)
		if last := hist[len(hist)-1]; last.From != "RETRY" || last.Event != "cancel" {
			t.Errorf("last move = %+v", last)
		}
	})
}

// TestCancelFromAnotherRunner: a Runner that is not running the task (another
// process) cancels it; the running one, whose poll has not seen it yet
// (CancelCheck an hour), finds out at its next write, discards the stage's
// outcome and runs nothing more.
func TestCancelFromAnotherRunner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		cfg := e.config(stage.RetryPolicyNone, 0)
		cfg.CancelCheck = time.Hour
		b := startBlocked(t, e, rec, cfg)
		if err := e.runner(t, e.other(t), b.stages, e.config(stage.RetryPolicyNone, 0)).Cancel(e.ctx, "t"); err != nil {
			t.Fatal(err)
		}
		if b.ctx.Err() != nil {
			t.Error("another Runner's Cancel cancelled this Runner's context before its poll")
		}
		close(b.release) // b succeeds, too late
		if err := <-b.done; !errors.Is(err, stage.ErrCanceled) {
			t.Fatalf("Run = %v", err)
		}
		rows := e.rows(t, "t", abc...)
		if rows[1].Status != canceled || rows[1].Result != nil || !isNull(rows[1].Checkpoint) || len(rows[1].History) != 1 || rec.count("c") != 0 {
			t.Errorf("b: %s result %v checkpoint %s history %+v; c ran %d times", rows[1].Status, rows[1].Result, rows[1].Checkpoint, rows[1].History, rec.count("c"))
		}
	})
}

// TestCancelStoppedTask: a task whose runner crashed is canceled from its
// rows alone; a later Run does nothing.
func TestCancelStoppedTask(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		crashing := &crashDriver{Driver: e.driver, crash: afterWrites(slices.Index(writes, "complete b"))}
		if _, err := e.runner(t, crashing, rec.stages(abc), e.config(stage.RetryPolicyNone, 0)).Run(e.ctx, "t", state{}); !errors.Is(err, errCrash) {
			t.Fatal(err)
		}
		r := e.runner(t, e.driver, rec.stages(abc), e.config(stage.RetryPolicyNone, 0))
		if err := r.Cancel(e.ctx, "t"); err != nil {
			t.Fatal(err)
		}
		rows := e.rows(t, "t", abc...)
		if rows[1].Status != canceled || len(rows[1].History) != 1 || rows[1].History[0].EndStatus != canceled || rows[2].Status != canceled {
			t.Errorf("b %s %+v, c %s", rows[1].Status, rows[1].History, rows[2].Status)
		}
		if _, err := r.Run(e.ctx, "t", state{}); !errors.Is(err, stage.ErrCanceled) || rec.count("b") != 1 || rec.count("c") != 0 {
			t.Errorf("Run = %v; b ran %d, c %d times", err, rec.count("b"), rec.count("c"))
		}
	})
}

// TestCancelFinishedTask: canceling a COMPLETE, ERROR or CANCELED task is a
// clear error; nothing is written.
func TestCancelFinishedTask(t *testing.T) {
	tests := []struct {
		name   string
		fails  []int
		cancel bool // cancel it once first
		want   string
	}{
		{name: "COMPLETE", fails: []int{0, 0, 0},
			want: `stage: cannot cancel task "t", which is COMPLETE: event "cancel" is not allowed from status COMPLETE; it is terminal, no event is allowed`},
		{name: "ERROR", fails: []int{0, 1, 0},
			want: `stage: cannot cancel task "t", which is ERROR: event "cancel" is not allowed from status ERROR; it is terminal, no event is allowed`},
		{name: "CANCELED", fails: []int{0, 0, 0}, cancel: true,
			want: `stage: cannot cancel task "t", which is CANCELED: event "cancel" is not allowed from status CANCELED; it is terminal, no event is allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) {
				rec := newRecorder()
				r := e.runner(t, e.driver, rec.stages(abc, tt.fails...), e.config(stage.RetryPolicyNone, 0))
				if tt.cancel {
					// A task that was created (by a crashed run) but never ran.
					crashing := &crashDriver{Driver: e.driver, crash: afterWrites(slices.Index(writes, "start a"))}
					if _, err := e.runner(t, crashing, rec.stages(abc), e.config(stage.RetryPolicyNone, 0)).Run(e.ctx, "t", state{}); !errors.Is(err, errCrash) {
						t.Fatal(err)
					}
					if err := r.Cancel(e.ctx, "t"); err != nil {
						t.Fatal(err)
					}
				} else {
					r.Run(e.ctx, "t", state{})
				}
				before := e.rows(t, "t", abc...)
				err := r.Cancel(e.ctx, "t")
				var te *stagemodel.TransitionError
				if err == nil || err.Error() != tt.want || !errors.Is(err, tasktype.ErrTransitionNotAllowed) || !errors.As(err, &te) {
					t.Fatalf("Cancel = %v\nwant %s", err, tt.want)
				}
				for i, row := range e.rows(t, "t", abc...) {
					if row.Version != before[i].Version {
						t.Errorf("stage %s was written", abc[i])
					}
				}
			})
		})
	}
}

func TestCancelUnknownTask(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		r := e.runner(t, e.driver, newRecorder().stages(abc), e.config(stage.RetryPolicyNone, 0))
		if err := r.Cancel(e.ctx, "nope"); !errors.Is(err, tasktype.ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("Cancel = %v, want ErrNotFound naming the task", err)
		}
		if _, err := r.Status(e.ctx, "nope"); !errors.Is(err, tasktype.ErrNotFound) {
			t.Errorf("Status = %v, want ErrNotFound", err)
		}
	})
}

// isNull reports an absent JSON value: SQL drivers read NULL as nil, the
// memory driver (a JSON round trip) as the JSON literal null.
func isNull(b []byte) bool { return len(b) == 0 || string(b) == "null" }

// TestTwoRunnersOneTask: a second Runner that runs a task the first is still
// running takes the RUNNING stage for an interrupted one and finishes the
// task; the first then loses its guarded write and stops with ErrConflict,
// writing nothing.
func TestTwoRunnersOneTask(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		b := startBlocked(t, e, rec, e.config(stage.RetryPolicyStage, 3))
		res, err := e.runner(t, e.driver, rec.stages(abc), e.config(stage.RetryPolicyStage, 3)).Run(e.ctx, "t", state{})
		if err != nil || res.SuccessCount != 3 {
			t.Fatalf("second runner: %+v, %v", res, err)
		}
		before := e.rows(t, "t", abc...)
		close(b.release)
		err = <-b.done
		if !errors.Is(err, tasktype.ErrConflict) || !strings.Contains(err.Error(), "is another runner running the task?") {
			t.Fatalf("first runner = %v, want ErrConflict", err)
		}
		for i, row := range e.rows(t, "t", abc...) {
			if row.Version != before[i].Version || row.Status != complete {
				t.Errorf("stage %s: %s, version %d → %d", abc[i], row.Status, before[i].Version, row.Version)
			}
		}
	})
}
