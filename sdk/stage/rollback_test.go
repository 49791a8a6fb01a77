package stage_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	stagemodel "github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/sdk/stage"
)

var errUndo = errors.New("cannot drop the table")

// TestRollback: when d fails the task, the completed stages c, b, a are
// rolled back in that order on the checkpointed state, each recorded in its
// row's history; a failed or panicking rollback is recorded and reported and
// does not stop the others.
func TestRollback(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	tests := []struct {
		name      string
		rollbackB func(context.Context, *state) error // nil: b's recorder rollback
		noneC     bool                                // c has no Rollback
		wantCalls []string
		wantMsgs  map[string]string
		wantErr   error
	}{
		{name: "reverse order on the shared state",
			wantCalls: []string{"c:a,b,c", "b:a,b,c,undo-c", "a:a,b,c,undo-c,undo-b"},
			wantMsgs:  map[string]string{"a": "rolled back", "b": "rolled back", "c": "rolled back"}},
		{name: "a stage without Rollback is recorded", noneC: true,
			wantCalls: []string{"b:a,b,c", "a:a,b,c,undo-b"},
			wantMsgs:  map[string]string{"a": "rolled back", "b": "rolled back", "c": "no rollback: the stage has none"}},
		{name: "a failed rollback does not stop the others",
			rollbackB: func(context.Context, *state) error { return errUndo },
			wantCalls: []string{"c:a,b,c", "a:a,b,c,undo-c"},
			wantMsgs:  map[string]string{"a": "rolled back", "b": "rollback failed: cannot drop the table", "c": "rolled back"},
			wantErr:   errUndo},
		{name: "a panicking rollback is a failed one",
			rollbackB: func(context.Context, *state) error { panic("nil map") },
			wantCalls: []string{"c:a,b,c", "a:a,b,c,undo-c"},
			wantMsgs:  map[string]string{"a": "rolled back", "b": "rollback failed: panic: nil map", "c": "rolled back"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) {
				rec := newRecorder()
				stages := rec.stages(names, 0, 0, 0, 1)
				if tt.rollbackB != nil {
					stages[1].Rollback = tt.rollbackB
				}
				if tt.noneC {
					stages[2].Rollback = nil
				}
				r := e.runner(t, e.driver, stages, e.config(stage.RetryPolicyNone, 0))
				_, err := r.Run(e.ctx, "t", state{})
				var fe *stage.FailedError
				if !errors.As(err, &fe) || fe.Stage != "d" || !errors.Is(err, errBoom) {
					t.Fatalf("Run = %v, want d's failure", err)
				}
				if tt.rollbackB != nil {
					if fe.Rollback == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
						t.Errorf("FailedError.Rollback = %v, want b's rollback error", fe.Rollback)
					}
					want := `stage: task "t" failed at stage "d" after 1 attempt(s): d call 1: boom; rollback of stage "b": ` + tt.wantMsgs["b"][len("rollback failed: "):]
					if err.Error() != want {
						t.Errorf("Error() = %q\nwant %q", err, want)
					}
				} else if fe.Rollback != nil {
					t.Errorf("FailedError.Rollback = %v, want nil", fe.Rollback)
				}
				if got := rec.undone(); !slices.Equal(got, tt.wantCalls) {
					t.Errorf("rollbacks = %v, want %v", got, tt.wantCalls)
				}
				rows := e.rows(t, "t", names...)
				for i, n := range names[:3] {
					if got := rollbackMessages(rows[i]); len(got) != 1 || got[0] != tt.wantMsgs[n] || rows[i].Status != complete {
						t.Errorf("stage %s (%s): rollback entries %q, want [%q]", n, rows[i].Status, got, tt.wantMsgs[n])
					}
				}
				if rows[3].Status != failed || len(rollbackMessages(rows[3])) != 0 {
					t.Errorf("the failed stage: %s, rollback entries %v (it did not complete: none)", rows[3].Status, rollbackMessages(rows[3]))
				}

				// Run again: the same failure, nothing runs, nothing is rolled back twice.
				_, again := r.Run(e.ctx, "t", state{})
				var fe2 *stage.FailedError
				if !errors.As(again, &fe2) || fe2.Stage != "d" || fe2.Message != "d call 1: boom" || fe2.Err != nil || fe2.Rollback != nil {
					t.Errorf("second Run = %v (%+v)", again, fe2)
				}
				if rec.count("d") != 1 || len(rec.undone()) != len(tt.wantCalls) {
					t.Errorf("second Run ran d %d times, rollbacks %v", rec.count("d"), rec.undone())
				}
				for i, row := range e.rows(t, "t", names...) {
					if row.Version != rows[i].Version {
						t.Errorf("second Run wrote stage %s", names[i])
					}
				}
			})
		})
	}
}

// TestRollbackResumesAfterCrash: the process dies while recording b's
// rollback; the next Run does not run c's again (recorded) but does run b's
// (not recorded) and a's.
func TestRollbackResumesAfterCrash(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		names := []string{"a", "b", "c", "d"}
		rec := newRecorder()
		crashing := &crashDriver{Driver: e.driver, crash: func(op string, _ int, x *stagemodel.StageState) bool {
			return op == "update" && x.StageName == "b"
		}}
		if _, err := e.runner(t, crashing, rec.stages(names, 0, 0, 0, 1), e.config(stage.RetryPolicyNone, 0)).Run(e.ctx, "t", state{}); !errors.Is(err, errCrash) {
			t.Fatalf("first Run = %v", err)
		}
		if got := rec.undone(); !slices.Equal(got, []string{"c:a,b,c", "b:a,b,c,undo-c"}) {
			t.Fatalf("rollbacks before the crash = %v", got)
		}
		_, err := e.runner(t, e.driver, rec.stages(names), e.config(stage.RetryPolicyNone, 0)).Run(e.ctx, "t", state{})
		var fe *stage.FailedError
		if !errors.As(err, &fe) || fe.Stage != "d" || fe.Message != "d call 1: boom" {
			t.Fatalf("resumed Run = %v", err)
		}
		// The resumed rollbacks start again from the checkpoint: c's undo was not persisted.
		want := []string{"c:a,b,c", "b:a,b,c,undo-c", "b:a,b,c", "a:a,b,c,undo-b"}
		if got := rec.undone(); !slices.Equal(got, want) {
			t.Errorf("rollbacks = %v, want %v", got, want)
		}
		for _, row := range e.rows(t, "t", names[:3]...) {
			if got := rollbackMessages(row); !slices.Equal(got, []string{"rolled back"}) {
				t.Errorf("stage %s: rollback entries %v", row.StageName, got)
			}
		}
	})
}

// TestRollbackCallerContextEnds: when Run's context ends during a rollback,
// that rollback is not recorded (its outcome is unknown) and the next Run
// runs it again, then the rest.
func TestRollbackCallerContextEnds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		names := []string{"a", "b", "c", "d"}
		rec := newRecorder()
		ctx, cancel := context.WithCancel(e.ctx)
		stages := rec.stages(names, 0, 0, 0, 1)
		undoB := stages[1].Rollback
		stages[1].Rollback = func(ctx context.Context, s *state) error {
			cancel()
			return undoB(ctx, s)
		}
		if _, err := e.runner(t, e.driver, stages, e.config(stage.RetryPolicyNone, 0)).Run(ctx, "t", state{}); !errors.Is(err, context.Canceled) || errors.Is(err, stage.ErrFailed) {
			t.Fatalf("Run = %v, want the caller's context.Canceled", err)
		}
		rows := e.rows(t, "t", names...)
		if len(rollbackMessages(rows[2])) != 1 || len(rollbackMessages(rows[1])) != 0 || len(rollbackMessages(rows[0])) != 0 {
			t.Fatalf("recorded: c %v, b %v, a %v; want c's only", rollbackMessages(rows[2]), rollbackMessages(rows[1]), rollbackMessages(rows[0]))
		}
		_, err := e.runner(t, e.driver, rec.stages(names), e.config(stage.RetryPolicyNone, 0)).Run(e.ctx, "t", state{})
		if !errors.Is(err, stage.ErrFailed) {
			t.Fatalf("second Run = %v", err)
		}
		want := []string{"c:a,b,c", "b:a,b,c,undo-c", "b:a,b,c", "a:a,b,c,undo-b"}
		if got := rec.undone(); !slices.Equal(got, want) {
			t.Errorf("rollbacks = %v, want %v", got, want)
		}
	})
}
