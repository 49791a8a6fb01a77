package stage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	stagemodel "github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/sdk/stage"
)

// A run of a, b, c that succeeds makes 12 writes, in this order.
var writes = []string{"create a", "create b", "create c", "bind a", "bind b", "bind c",
	"start a", "complete a", "start b", "complete b", "start c", "complete c"}

// TestResumeAfterCrash crashes the process at every write of a run, then
// resumes the task with a new Runner over a new Store on the same data: the
// task completes; COMPLETE stages are skipped; every stage sees the state as
// checkpointed (the first run's initial state, not the second's); a stage
// whose completion was lost runs again, its interrupted attempt recorded.
func TestResumeAfterCrash(t *testing.T) {
	for n, at := range writes {
		t.Run("crash at "+at, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) {
				rec := newRecorder()
				crashing := &crashDriver{Driver: e.driver, crash: afterWrites(n)}
				first := e.runner(t, crashing, rec.stages(abc), e.config(stage.RetryPolicyStage, 2))
				if _, err := first.Run(e.ctx, "t", state{Log: []string{"init1"}}); !errors.Is(err, errCrash) {
					t.Fatalf("first Run = %v, want the crash", err)
				}
				wantStatus := map[string]stagemodel.Status{"create b": stagemodel.StatusUnbound, "start a": created,
					"complete a": stagemodel.StatusRunning, "start b": created}[at]
				if st, err := first.Status(e.ctx, "t"); wantStatus != "" && (err != nil || st.Status != wantStatus) {
					t.Errorf("Status after the crash = %+v, %v; want %s", st, err, wantStatus)
				}
				before := map[string]int{}
				for _, name := range abc {
					before[name] = rec.count(name)
				}

				second := e.runner(t, e.driver, rec.stages(abc), e.config(stage.RetryPolicyStage, 2))
				res, err := second.Run(e.ctx, "t", state{Log: []string{"init2"}})
				if err != nil {
					t.Fatalf("resumed Run: %v", err)
				}
				if res.SuccessCount != 3 {
					t.Errorf("result = %+v, want 3: each stage's changes counted once", res)
				}
				initial := "init1"
				if n < 1 { // no row was written: the task is new to the second run
					initial = "init2"
				}
				want := map[string]string{"a": initial, "b": initial + ",a", "c": initial + ",a,b"}
				rows := e.rows(t, "t", abc...)
				for i, name := range abc {
					for call, saw := range rec.seen(name) {
						if saw != want[name] {
							t.Errorf("stage %s call %d saw %q, want %q", name, call+1, saw, want[name])
						}
					}
					// The crash lost stage name's completion: it ran in both runs.
					lost := at == "complete "+name
					wantAttempts, wantEnds := int64(1), []stagemodel.Status{complete}
					if lost {
						wantAttempts, wantEnds = 2, []stagemodel.Status{retry, complete}
						if msg := rows[i].History[0].Message; !strings.HasPrefix(msg, "interrupted") {
							t.Errorf("stage %s: the interrupted attempt's message = %q", name, msg)
						}
					}
					if rows[i].Status != complete || rows[i].Attempts != wantAttempts || !slices.Equal(attemptEnds(rows[i]), wantEnds) {
						t.Errorf("stage %s: %s, %d attempts ending %v; want COMPLETE, %d ending %v",
							name, rows[i].Status, rows[i].Attempts, attemptEnds(rows[i]), wantAttempts, wantEnds)
					}
					completedBefore := n > slices.Index(writes, "complete "+name)
					if ran := rec.count(name) - before[name]; completedBefore && ran != 0 {
						t.Errorf("stage %s completed before the crash but ran %d more times", name, ran)
					}
				}
				var final state
				if err := json.Unmarshal(rows[2].Checkpoint, &final); err != nil || strings.Join(final.Log, ",") != initial+",a,b,c" || final.N != 3 {
					t.Errorf("final checkpoint = %s (%v)", rows[2].Checkpoint, err)
				}
				wantSleeps := []time.Duration(nil)
				if strings.HasPrefix(at, "complete") {
					wantSleeps = []time.Duration{time.Second} // the retry of the interrupted attempt
				}
				if got := e.slept(); !slices.Equal(got, wantSleeps) {
					t.Errorf("sleeps = %v, want %v", got, wantSleeps)
				}
			})
		})
	}
}

// TestInterruptedUnderNone: under NONE the interrupted attempt was the
// stage's only one, so the resumed task fails there and rolls back.
func TestInterruptedUnderNone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		crashing := &crashDriver{Driver: e.driver, crash: afterWrites(slices.Index(writes, "complete b"))}
		if _, err := e.runner(t, crashing, rec.stages(abc), e.config(stage.RetryPolicyNone, 0)).Run(e.ctx, "t", state{}); !errors.Is(err, errCrash) {
			t.Fatalf("first Run = %v", err)
		}
		_, err := e.runner(t, e.driver, rec.stages(abc), e.config(stage.RetryPolicyNone, 0)).Run(e.ctx, "t", state{})
		var fe *stage.FailedError
		if !errors.As(err, &fe) || fe.Stage != "b" || !strings.HasPrefix(fe.Message, "interrupted") {
			t.Fatalf("resumed Run = %v, want b failed as interrupted", err)
		}
		rows := e.rows(t, "t", abc...)
		if rows[1].Status != failed || rec.count("b") != 1 || rec.count("c") != 0 {
			t.Errorf("b %s after %d runs, c ran %d times", rows[1].Status, rec.count("b"), rec.count("c"))
		}
		if got := rec.undone(); !slices.Equal(got, []string{"a:a"}) {
			t.Errorf("rollbacks = %v, want a's", got)
		}
	})
}

// TestCallerContextEnds: when Run's own context ends during a stage, the
// runner stops as a crash would (the row stays RUNNING) and the next Run
// counts that attempt as interrupted.
func TestCallerContextEnds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		ctx, cancel := context.WithCancel(e.ctx)
		stop := stage.Stage[state]{Name: "b", Run: func(ctx context.Context, s *state) (*stage.SimpleRecordsResult, error) {
			if rec.called("b", s) == 1 {
				cancel()
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return nil, nil
		}}
		stages := []stage.Stage[state]{rec.stage("a", 0), stop}
		_, err := e.runner(t, e.driver, stages, e.config(stage.RetryPolicyStage, 2)).Run(ctx, "t", state{})
		if !errors.Is(err, context.Canceled) || errors.Is(err, stage.ErrCanceled) || errors.Is(err, stage.ErrFailed) {
			t.Fatalf("Run = %v, want the caller's context.Canceled", err)
		}
		if row := e.rows(t, "t", "b")[0]; row.Status != stagemodel.StatusRunning || len(row.History) != 0 {
			t.Fatalf("b is %s with %d entries, want RUNNING as a crash leaves it", row.Status, len(row.History))
		}
		if _, err := e.runner(t, e.driver, stages, e.config(stage.RetryPolicyStage, 2)).Run(e.ctx, "t", state{}); err != nil {
			t.Fatal(err)
		}
		row := e.rows(t, "t", "b")[0]
		if !slices.Equal(attemptEnds(row), []stagemodel.Status{retry, complete}) || rec.count("a") != 1 {
			t.Errorf("b's attempts ended %v; a ran %d times", attemptEnds(row), rec.count("a"))
		}
	})
}

// TestGlobalBudgetLoweredOnResume: a restart with a GLOBAL max_attempts too
// small for the stages left is a configuration error naming max_attempts,
// and nothing is written.
func TestGlobalBudgetLoweredOnResume(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		crashing := &crashDriver{Driver: e.driver, crash: func(op string, _ int, x *stagemodel.StageState) bool {
			return op == "start" && x.StageName == "b"
		}}
		// a fails once and succeeds: 2 of 4 attempts used when the process dies before b.
		if _, err := e.runner(t, crashing, rec.stages(abc, 1), e.config(stage.RetryPolicyGlobal, 4)).Run(e.ctx, "t", state{}); !errors.Is(err, errCrash) {
			t.Fatalf("first Run = %v", err)
		}
		before := e.rows(t, "t", abc...)
		_, err := e.runner(t, e.driver, rec.stages(abc), e.config(stage.RetryPolicyGlobal, 3)).Run(e.ctx, "t", state{})
		want := `max_attempts: task "t" has used 2 attempts and has 2 stage(s) left, starting with "b": policy GLOBAL needs max_attempts ≥ 4 (got 3); nothing was changed`
		if err == nil || err.Error() != want {
			t.Fatalf("Run error = %v\nwant %s", err, want)
		}
		after := e.rows(t, "t", abc...)
		for i := range after {
			if after[i].Version != before[i].Version {
				t.Errorf("stage %s was written: version %d → %d", abc[i], before[i].Version, after[i].Version)
			}
		}
		if _, err := e.runner(t, e.driver, rec.stages(abc), e.config(stage.RetryPolicyGlobal, 4)).Run(e.ctx, "t", state{}); err != nil {
			t.Errorf("with max_attempts 4: %v", err)
		}
	})
}

// TestRetryExhaustedOnResume: a stage left in RETRY whose attempts a lower
// STAGE max_attempts has used up fails with the error event from RETRY,
// without running again.
func TestRetryExhaustedOnResume(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		crashing := &crashDriver{Driver: e.driver, crash: func(op string, _ int, x *stagemodel.StageState) bool {
			return op == "start" && x.StageName == "b" && x.Attempts == 3
		}}
		if _, err := e.runner(t, crashing, rec.stages(abc, 0, 5), e.config(stage.RetryPolicyStage, 5)).Run(e.ctx, "t", state{}); !errors.Is(err, errCrash) {
			t.Fatalf("first Run = %v", err)
		}
		_, err := e.runner(t, e.driver, rec.stages(abc), e.config(stage.RetryPolicyStage, 2)).Run(e.ctx, "t", state{})
		var fe *stage.FailedError
		if !errors.As(err, &fe) || fe.Stage != "b" || fe.Attempts != 2 || fe.Message != "retry attempts exhausted (policy STAGE, max_attempts 2)" {
			t.Fatalf("Run = %v", err)
		}
		hist, _ := e.store(e.driver).History(e.ctx, stage.RowID("t", "b"))
		if last := hist[len(hist)-1]; last.Event != "error" || last.From != "RETRY" || rec.count("b") != 2 {
			t.Errorf("last move %+v; b ran %d times", last, rec.count("b"))
		}
		// Run again: the same failure, read back from the store.
		_, err = e.runner(t, e.driver, rec.stages(abc), e.config(stage.RetryPolicyStage, 5)).Run(e.ctx, "t", state{})
		if !errors.As(err, &fe) || fe.Message != "retry attempts exhausted (policy STAGE, max_attempts 2)" || fe.Err != nil || rec.count("b") != 2 {
			t.Errorf("second Run = %v", err)
		}
	})
}

// TestRowIDs: ids are stable per (task, stage) and tell pairs apart.
func TestRowIDs(t *testing.T) {
	if stage.RowID("t", "a") != stage.RowID("t", "a") {
		t.Error("RowID is not deterministic")
	}
	pairs := [][2]string{{"t", "a"}, {"t", "b"}, {"u", "a"}, {"ab", "c"}, {"a", "bc"}, {"", "abc"}}
	seen := map[string]string{}
	for _, p := range pairs {
		id := stage.RowID(p[0], p[1]).String()
		if prev, dup := seen[id]; dup {
			t.Errorf("RowID%v = RowID of %s", p, prev)
		}
		seen[id] = fmt.Sprint(p)
	}
}

// TestStageAddedLater: a Runner with a stage the task did not have shows it
// UNBOUND, then runs only it, from the last checkpoint.
func TestStageAddedLater(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := newRecorder()
		if _, err := e.runner(t, e.driver, rec.stages(abc[:2]), e.config(stage.RetryPolicyNone, 0)).Run(e.ctx, "t", state{Log: []string{"init"}}); err != nil {
			t.Fatal(err)
		}
		r := e.runner(t, e.driver, rec.stages(abc), e.config(stage.RetryPolicyNone, 0))
		st, err := r.Status(e.ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != created || st.Stage != "c" || st.Attempts != 2 || st.Result != nil ||
			st.Stages[2].Status != stagemodel.StatusUnbound || st.Stages[2].Version != 0 || st.Stages[2].ID != stage.RowID("t", "c") {
			t.Errorf("Status = %+v, c %+v", st, st.Stages[2])
		}
		res, err := r.Run(e.ctx, "t", state{})
		if err != nil || res.SuccessCount != 3 || rec.count("a") != 1 || rec.count("b") != 1 || !slices.Equal(rec.seen("c"), []string{"init,a,b"}) {
			t.Errorf("Run = %+v, %v; a ran %d, b %d times; c saw %v", res, err, rec.count("a"), rec.count("b"), rec.seen("c"))
		}
	})
}
