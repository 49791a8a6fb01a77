package stage_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	stagemodel "github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/sdk/stage"
)

const (
	complete = stagemodel.StatusComplete
	retry    = stagemodel.StatusRetry
	failed   = stagemodel.StatusError
	created  = stagemodel.StatusCreated
	canceled = stagemodel.StatusCanceled
)

var abc = []string{"a", "b", "c"}

// TestPolicies checks each policy's attempt accounting, backoff and history
// on three stages a, b, c, each failing its first calls as fails says.
func TestPolicies(t *testing.T) {
	s := time.Second
	tests := []struct {
		name     string
		policy   stage.RetryPolicy
		max      int
		fails    []int
		failedAt string // "" when the task succeeds
		attempts []int64
		statuses []stagemodel.Status
		ends     [][]stagemodel.Status // end status of each attempt, per stage
		sleeps   []time.Duration
	}{
		{name: "NONE: every stage once", policy: stage.RetryPolicyNone, fails: []int{0, 0, 0},
			attempts: []int64{1, 1, 1}, statuses: []stagemodel.Status{complete, complete, complete},
			ends: [][]stagemodel.Status{{complete}, {complete}, {complete}}},
		{name: "NONE: one failure fails the task", policy: stage.RetryPolicyNone, max: 1, fails: []int{0, 1, 0}, failedAt: "b",
			attempts: []int64{1, 1, 0}, statuses: []stagemodel.Status{complete, failed, created},
			ends: [][]stagemodel.Status{{complete}, {failed}, {}}},
		{name: "STAGE: the counter resets for each stage", policy: stage.RetryPolicyStage, max: 3, fails: []int{2, 2, 0},
			attempts: []int64{3, 3, 1}, statuses: []stagemodel.Status{complete, complete, complete},
			ends:   [][]stagemodel.Status{{retry, retry, complete}, {retry, retry, complete}, {complete}},
			sleeps: []time.Duration{s, 2 * s, s, 2 * s}},
		{name: "STAGE: a stage's attempts exhausted", policy: stage.RetryPolicyStage, max: 3, fails: []int{0, 3, 0}, failedAt: "b",
			attempts: []int64{1, 3, 0}, statuses: []stagemodel.Status{complete, failed, created},
			ends:   [][]stagemodel.Status{{complete}, {retry, retry, failed}, {}},
			sleeps: []time.Duration{s, 2 * s}},
		{name: "STAGE: b failing twice succeeds with 3 attempts per stage", policy: stage.RetryPolicyStage, max: 3, fails: []int{0, 2, 0},
			attempts: []int64{1, 3, 1}, statuses: []stagemodel.Status{complete, complete, complete},
			ends:   [][]stagemodel.Status{{complete}, {retry, retry, complete}, {complete}},
			sleeps: []time.Duration{s, 2 * s}},
		{name: "GLOBAL: the same failures fail with 4 attempts, a's success counts", policy: stage.RetryPolicyGlobal, max: 4, fails: []int{0, 2, 0}, failedAt: "b",
			attempts: []int64{1, 2, 0}, statuses: []stagemodel.Status{complete, failed, created},
			ends:   [][]stagemodel.Status{{complete}, {retry, failed}, {}},
			sleeps: []time.Duration{s}},
		{name: "GLOBAL: one retry fits in 4 attempts", policy: stage.RetryPolicyGlobal, max: 4, fails: []int{0, 1, 0},
			attempts: []int64{1, 2, 1}, statuses: []stagemodel.Status{complete, complete, complete},
			ends:   [][]stagemodel.Status{{complete}, {retry, complete}, {complete}},
			sleeps: []time.Duration{s}},
		{name: "GLOBAL: one attempt per stage is the least", policy: stage.RetryPolicyGlobal, max: 3, fails: []int{0, 0, 0},
			attempts: []int64{1, 1, 1}, statuses: []stagemodel.Status{complete, complete, complete},
			ends: [][]stagemodel.Status{{complete}, {complete}, {complete}}},
		{name: "GLOBAL: a retry must leave an attempt for each later stage", policy: stage.RetryPolicyGlobal, max: 4, fails: []int{2, 0, 0}, failedAt: "a",
			attempts: []int64{2, 0, 0}, statuses: []stagemodel.Status{failed, created, created},
			ends:   [][]stagemodel.Status{{retry, failed}, {}, {}},
			sleeps: []time.Duration{s}},
		{name: "backoff doubles up to its cap", policy: stage.RetryPolicyStage, max: 6, fails: []int{5, 0, 0},
			attempts: []int64{6, 1, 1}, statuses: []stagemodel.Status{complete, complete, complete},
			ends:   [][]stagemodel.Status{{retry, retry, retry, retry, retry, complete}, {complete}, {complete}},
			sleeps: []time.Duration{s, 2 * s, 4 * s, 8 * s, 10 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) {
				rec := newRecorder()
				r := e.runner(t, e.driver, rec.stages(abc, tt.fails...), e.config(tt.policy, tt.max))
				res, err := r.Run(e.ctx, "task-1", state{Log: []string{"init"}})

				if tt.failedAt == "" {
					if err != nil {
						t.Fatalf("Run: %v", err)
					}
					if res == nil || res.SuccessCount != 3 || res.TotalCount != 3 {
						t.Errorf("result = %+v, want c's: 3 of 3", res)
					}
				} else {
					var fe *stage.FailedError
					if !errors.As(err, &fe) || !errors.Is(err, stage.ErrFailed) || !errors.Is(err, errBoom) {
						t.Fatalf("Run error = %v, want a *FailedError wrapping errBoom", err)
					}
					i := slices.Index(abc, tt.failedAt)
					if fe.Stage != tt.failedAt || fe.Attempts != tt.attempts[i] || fe.TaskID != "task-1" || res != nil {
						t.Errorf("FailedError = %+v, result %v; want stage %s after %d attempts", fe, res, tt.failedAt, tt.attempts[i])
					}
				}
				rows := e.rows(t, "task-1", abc...)
				var total int64
				for i, row := range rows {
					if row.Status != tt.statuses[i] || row.Attempts != tt.attempts[i] {
						t.Errorf("stage %s: %s after %d attempts, want %s after %d", abc[i], row.Status, row.Attempts, tt.statuses[i], tt.attempts[i])
					}
					if got := attemptEnds(row); !slices.Equal(got, tt.ends[i]) {
						t.Errorf("stage %s: attempts ended %v, want %v", abc[i], got, tt.ends[i])
					}
					if got := rec.count(abc[i]); int64(got) != tt.attempts[i] {
						t.Errorf("stage %s ran %d times, want %d (its attempts)", abc[i], got, tt.attempts[i])
					}
					total += row.Attempts
				}
				if got := e.slept(); !slices.Equal(got, tt.sleeps) {
					t.Errorf("backoff sleeps = %v, want %v", got, tt.sleeps)
				}
				// Every attempt starts from the checkpoint: a failed attempt's changes are gone.
				want := []string{"init", "init,a", "init,a,b"}
				for i, n := range abc {
					for call, saw := range rec.seen(n) {
						if saw != want[i] {
							t.Errorf("stage %s call %d saw state %q, want %q", n, call+1, saw, want[i])
						}
					}
				}
				st, err := r.Status(e.ctx, "task-1")
				if err != nil {
					t.Fatal(err)
				}
				wantStatus := complete
				if tt.failedAt != "" {
					wantStatus = failed
				}
				if st.Status != wantStatus || st.Attempts != total || st.Stage != tt.failedAt || (st.Result != nil) != (tt.failedAt == "") {
					t.Errorf("Status = %s at %q, %d attempts, result %v; want %s at %q, %d", st.Status, st.Stage, st.Attempts, st.Result, wantStatus, tt.failedAt, total)
				}
			})
		})
	}
}

// TestHistoryEntries checks every field of the framework's per-attempt entries,
// the store's history rows and the checkpoint.
func TestHistoryEntries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		t0 := e.clock.Now()
		calls := 0
		slow := stage.Stage[state]{Name: "slow", Run: func(ctx context.Context, s *state) (*stage.SimpleRecordsResult, error) {
			calls++
			if calls == 1 {
				e.clock.Advance(1500 * time.Millisecond)
				return nil, errors.New("disk full")
			}
			e.clock.Advance(250 * time.Millisecond)
			s.N = 42
			msg := "ok"
			return &stage.SimpleRecordsResult{SuccessCount: 40, FailCount: 1, UnprocessedCount: 1, TotalCount: 42, Message: &msg}, nil
		}}
		cfg := e.config(stage.RetryPolicyStage, 2)
		cfg.Actor = "worker-7"
		r := e.runner(t, e.driver, []stage.Stage[state]{slow}, cfg)
		res, err := r.Run(e.ctx, "t-history", state{})
		if err != nil {
			t.Fatal(err)
		}
		if res.TotalCount != 42 || res.SuccessCount != 40 || res.Message == nil || *res.Message != "ok" {
			t.Errorf("result = %+v", res)
		}
		row := e.rows(t, "t-history", "slow")[0]
		ts := func(d time.Duration) string { return t0.Add(d).Format("2006-01-02T15:04:05.000000Z07:00") }
		want := []stagemodel.StageStateHistoryEntry{
			{Attempt: 1, BeginStatus: created, BeginTs: ts(0), EndStatus: retry, EndTs: ts(1500 * time.Millisecond), Message: "disk full", RunTimeSeconds: 1.5},
			{Attempt: 2, BeginStatus: retry, BeginTs: ts(2500 * time.Millisecond), EndStatus: complete, EndTs: ts(2750 * time.Millisecond), Message: "completed", RunTimeSeconds: 0.25},
		}
		if !slices.Equal(row.History, want) {
			t.Errorf("history =\n%+v\nwant\n%+v", row.History, want)
		}
		if row.StageName != "slow" || row.TaskID != "t-history" || row.ID != stage.RowID("t-history", "slow") {
			t.Errorf("row identity: %q %q %s", row.StageName, row.TaskID, row.ID)
		}
		var cp state
		if json.Unmarshal(row.Checkpoint, &cp) != nil || cp.N != 42 {
			t.Errorf("checkpoint = %s, want the state after the stage", row.Checkpoint)
		}
		if !ts0(row.StartedAt, t0.Add(2500*time.Millisecond)) || !ts0(row.EndedAt, t0.Add(2750*time.Millisecond)) {
			t.Errorf("started_at %v, ended_at %v", row.StartedAt, row.EndedAt)
		}
		hist, err := e.store(e.driver).History(e.ctx, row.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hist {
			got = append(got, h.Event+"/"+h.To+"/"+h.Actor+"/"+h.Message+"/"+strconv.Itoa(h.Attempt))
		}
		wantRows := []string{"/UNBOUND/worker-7/created/0", "bind/CREATED/worker-7/bound to a runner/0", "start/RUNNING/worker-7/attempt 1/1",
			"retry/RETRY/worker-7/disk full/1", "start/RUNNING/worker-7/attempt 2/2", "complete/COMPLETE/worker-7/completed/2"}
		if !slices.Equal(got, wantRows) {
			t.Errorf("store history =\n%v\nwant\n%v", got, wantRows)
		}
	})
}

func ts0(p *time.Time, want time.Time) bool { return p != nil && p.Equal(want) }

// TestResults checks what a stage returns: nil and intermediate results,
// invalid results, panics, a state that stops encoding, and Run of a
// finished task.
func TestResults(t *testing.T) {
	run := func(f func(context.Context, *state) (*stage.SimpleRecordsResult, error)) stage.Stage[state] {
		return stage.Stage[state]{Name: "x", Run: f}
	}
	tests := []struct {
		name    string
		last    stage.Stage[state]
		want    *stage.SimpleRecordsResult // the task's result when it succeeds
		wantMsg string                     // the attempt's message when it fails
	}{
		{name: "nil result is stored as zero counts", last: run(func(context.Context, *state) (*stage.SimpleRecordsResult, error) { return nil, nil }),
			want: &stage.SimpleRecordsResult{}},
		{name: "final result", last: run(func(context.Context, *state) (*stage.SimpleRecordsResult, error) {
			return &stage.SimpleRecordsResult{SuccessCount: 7, FailCount: 2, UnprocessedCount: 1, TotalCount: 10}, nil
		}), want: &stage.SimpleRecordsResult{SuccessCount: 7, FailCount: 2, UnprocessedCount: 1, TotalCount: 10}},
		{name: "invalid result fails the attempt", last: run(func(context.Context, *state) (*stage.SimpleRecordsResult, error) {
			return &stage.SimpleRecordsResult{FailCount: -1}, nil
		}), wantMsg: "invalid result: fail_count: must be ≥ 0 (got -1)"},
		{name: "panic fails the attempt", last: run(func(context.Context, *state) (*stage.SimpleRecordsResult, error) { panic("kaboom") }),
			wantMsg: "panic: kaboom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) {
				rec := newRecorder()
				stages := []stage.Stage[state]{rec.stage("first", 0), tt.last}
				r := e.runner(t, e.driver, stages, e.config(stage.RetryPolicyNone, 0))
				res, err := r.Run(e.ctx, "t", state{})
				rows := e.rows(t, "t", "first", "x")
				if first := rows[0].Result; first == nil || first.SuccessCount != 1 {
					t.Errorf("the first stage's own result = %+v, want stored", first)
				}
				if tt.want == nil {
					var fe *stage.FailedError
					if !errors.As(err, &fe) || fe.Message != tt.wantMsg || fe.Stage != "x" {
						t.Fatalf("Run error = %v, want a failure at x: %s", err, tt.wantMsg)
					}
					if h := rows[1].History; len(h) != 1 || h[0].Message != tt.wantMsg || h[0].EndStatus != failed || rows[1].Result != nil {
						t.Errorf("x: history %+v, result %v", h, rows[1].Result)
					}
					return
				}
				if err != nil || res == nil || *res != *tt.want {
					t.Fatalf("Run = %+v, %v; want %+v", res, err, tt.want)
				}
				// A finished task returns its result again without running anything.
				again, err := r.Run(e.ctx, "t", state{})
				if err != nil || again == nil || *again != *tt.want || rec.count("first") != 1 {
					t.Errorf("second Run = %+v, %v; first ran %d times", again, err, rec.count("first"))
				}
			})
		})
	}
}

// TestStateThatStopsEncoding: a stage that puts a value JSON cannot encode
// (NaN) into the state fails its attempt; nothing is checkpointed.
func TestStateThatStopsEncoding(t *testing.T) {
	type numbers struct{ X float64 }
	forEachBackend(t, func(t *testing.T, e *env) {
		s := stage.Stage[numbers]{Name: "nan", Run: func(_ context.Context, n *numbers) (*stage.SimpleRecordsResult, error) {
			n.X = math.NaN()
			return nil, nil
		}}
		r, err := stage.NewRunner(e.store(e.driver), []stage.Stage[numbers]{s}, e.config(stage.RetryPolicyNone, 1))
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Run(e.ctx, "t", numbers{X: 1})
		var fe *stage.FailedError
		if !errors.As(err, &fe) || !strings.HasPrefix(fe.Message, "the state does not encode as JSON: json: unsupported value: NaN") {
			t.Fatalf("Run error = %v", err)
		}
		row := e.rows(t, "t", "nan")[0]
		var cp numbers
		if json.Unmarshal(row.Checkpoint, &cp) != nil || cp.X != 1 || row.Status != failed {
			t.Errorf("row %s, checkpoint %s: want ERROR with the initial state kept", row.Status, row.Checkpoint)
		}
	})
}
