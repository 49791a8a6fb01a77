package stage_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/memory"
	stagemodel "github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/sdk/stage"
	"github.com/taskmodel/taskmodel/tasktype"
)

func ok(context.Context, *state) (*stage.SimpleRecordsResult, error) { return nil, nil }

func named(names ...string) []stage.Stage[state] {
	out := make([]stage.Stage[state], len(names))
	for i, n := range names {
		out[i] = stage.Stage[state]{Name: n, Run: ok}
	}
	return out
}

func TestNewRunnerRejects(t *testing.T) {
	store := backends.NewStore[stagemodel.StageState, stagemodel.Event](memory.New[stagemodel.StageState]())
	tests := []struct {
		name   string
		store  *stage.Store
		stages []stage.Stage[state]
		cfg    stage.Config
		want   string // the whole message; "" for a valid runner
	}{
		{name: "zero config", stages: named("a")},
		{name: "150 characters", stages: named(strings.Repeat("é", 150))},
		{name: "no stages", want: "invalid stage runner: stages: must have at least one stage"},
		{name: "empty name", stages: named("a", ""), want: "invalid stage runner: stages[1].name: must not be empty"},
		{name: "151 characters", stages: named(strings.Repeat("é", 151)),
			want: "invalid stage runner: stages[0].name: must be at most 150 characters (got 151)"},
		{name: "invalid UTF-8", stages: named("a\xff"), want: "invalid stage runner: stages[0].name: must be valid UTF-8"},
		{name: "duplicate", stages: named("load", "save", "load"),
			want: `invalid stage runner: stages[2].name: duplicates stages[0].name "load"; stage names must be unique`},
		{name: "no Run", stages: []stage.Stage[state]{{Name: "a"}}, want: "invalid stage runner: stages[0].run: is required"},
		{name: "unknown policy", stages: named("a"), cfg: stage.Config{Policy: "ALWAYS"},
			want: `invalid stage runner: policy: unknown retry policy "ALWAYS"; allowed: NONE, STAGE, GLOBAL (or empty for NONE)`},
		{name: "NONE with retries", stages: named("a"), cfg: stage.Config{Policy: stage.RetryPolicyNone, MaxAttempts: 3},
			want: "invalid stage runner: max_attempts: must be 0 or 1 with policy NONE, which runs each stage once (got 3)"},
		{name: "STAGE without attempts", stages: named("a"), cfg: stage.Config{Policy: stage.RetryPolicyStage},
			want: "invalid stage runner: max_attempts: must be ≥ 1 with policy STAGE, the attempts of each stage (got 0)"},
		{name: "GLOBAL below one per stage", stages: named("a", "b", "c"), cfg: stage.Config{Policy: stage.RetryPolicyGlobal, MaxAttempts: 2},
			want: "invalid stage runner: max_attempts: must be ≥ 3 with policy GLOBAL: every stage execution consumes an attempt, so each of the 3 stages needs one (got 2)"},
		{name: "GLOBAL one per stage", stages: named("a", "b", "c"), cfg: stage.Config{Policy: stage.RetryPolicyGlobal, MaxAttempts: 3}},
		{name: "bad exponential backoff", stages: named("a"),
			cfg: stage.Config{Backoff: stage.Exponential{Initial: 0, Max: -time.Second, Multiplier: 0.5}},
			want: "invalid stage runner: backoff.initial: must be > 0 (got 0s); backoff.max: must be ≥ backoff.initial 0s (got -1s); " +
				"backoff.multiplier: must be a finite number ≥ 1, or 0 for 2 (got 0.5)"},
		{name: "infinite multiplier", stages: named("a"), cfg: stage.Config{Backoff: stage.Exponential{Initial: 1, Max: 2, Multiplier: math.Inf(1)}},
			want: "invalid stage runner: backoff.multiplier: must be a finite number ≥ 1, or 0 for 2 (got +Inf)"},
		{name: "negative constant backoff", stages: named("a"), cfg: stage.Config{Backoff: stage.Constant(-time.Second)},
			want: "invalid stage runner: backoff: must be ≥ 0 (got -1s)"},
		{name: "negative cancel check", stages: named("a"), cfg: stage.Config{CancelCheck: -time.Millisecond},
			want: "invalid stage runner: cancel_check: must be ≥ 0, or 0 for 250ms (got -1ms)"},
		{name: "everything at once", store: nil, stages: named("", "a", "a"), cfg: stage.Config{Policy: stage.RetryPolicyStage},
			want: `invalid stage runner: store: is required; stages[0].name: must not be empty; stages[2].name: duplicates stages[1].name "a"; stage names must be unique; ` +
				"max_attempts: must be ≥ 1 with policy STAGE, the attempts of each stage (got 0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := store
			if tt.name == "everything at once" {
				s = tt.store
			}
			r, err := stage.NewRunner(s, tt.stages, tt.cfg)
			if tt.want == "" {
				if err != nil || r == nil {
					t.Fatalf("NewRunner = %v", err)
				}
				return
			}
			var fe *tasktype.FieldError
			if err == nil || err.Error() != tt.want || !errors.Is(err, tasktype.ErrValidation) || !errors.As(err, &fe) || r != nil {
				t.Fatalf("NewRunner error = %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestRunRejects: a bad task id or an initial state JSON cannot encode is a
// field error, and nothing is written.
func TestRunRejects(t *testing.T) {
	type bad struct{ C chan int }
	forEachBackend(t, func(t *testing.T, e *env) {
		r := e.runner(t, e.driver, named("a"), e.config(stage.RetryPolicyNone, 0))
		for _, tc := range []struct{ id, want string }{
			{"", "task_id: must not be empty"},
			{"t\xff", "task_id: must be valid UTF-8"},
		} {
			_, err := r.Run(e.ctx, tc.id, state{})
			var fe *tasktype.FieldError
			if !errors.As(err, &fe) || err.Error() != tc.want {
				t.Errorf("Run(%q) = %v, want %s", tc.id, err, tc.want)
			}
			if err := r.Cancel(e.ctx, tc.id); err == nil || err.Error() != tc.want {
				t.Errorf("Cancel(%q) = %v", tc.id, err)
			}
			if _, err := r.Status(e.ctx, tc.id); err == nil || err.Error() != tc.want {
				t.Errorf("Status(%q) = %v", tc.id, err)
			}
		}
		rb, err := stage.NewRunner(e.store(e.driver), []stage.Stage[bad]{{Name: "a", Run: func(context.Context, *bad) (*stage.SimpleRecordsResult, error) {
			t.Error("ran")
			return nil, nil
		}}}, e.config(stage.RetryPolicyNone, 0))
		if err != nil {
			t.Fatal(err)
		}
		_, err = rb.Run(e.ctx, "t", bad{})
		var fe *tasktype.FieldError
		if !errors.As(err, &fe) || fe.Field != "initial" || err.Error() != "initial: the state must encode as JSON: json: unsupported type: chan int" {
			t.Errorf("Run with a channel in the state = %v", err)
		}
		if _, err := rb.Status(e.ctx, "t"); !errors.Is(err, tasktype.ErrNotFound) {
			t.Errorf("after a rejected Run, Status = %v: something was written", err)
		}
	})
}

func TestBackoffs(t *testing.T) {
	s := time.Second
	tests := []struct {
		name  string
		b     stage.Backoff
		retry int
		want  time.Duration
	}{
		{"first retry waits Initial", stage.Exponential{Initial: s, Max: time.Minute}, 1, s},
		{"doubles by default", stage.Exponential{Initial: s, Max: time.Minute}, 4, 8 * s},
		{"multiplier", stage.Exponential{Initial: s, Max: time.Minute, Multiplier: 3}, 3, 9 * s},
		{"multiplier 1 is constant", stage.Exponential{Initial: s, Max: time.Minute, Multiplier: 1}, 50, s},
		{"capped", stage.Exponential{Initial: s, Max: 10 * s}, 5, 10 * s},
		{"no overflow far out", stage.Exponential{Initial: s, Max: time.Hour}, 10_000, time.Hour},
		{"retry 0 counts as 1", stage.Exponential{Initial: s, Max: time.Minute}, 0, s},
		{"default", stage.DefaultBackoff, 7, time.Minute},
		{"default first", stage.DefaultBackoff, 1, s},
		{"constant", stage.Constant(3 * s), 9, 3 * s},
	}
	for _, tt := range tests {
		if got := tt.b.Delay(tt.retry); got != tt.want {
			t.Errorf("%s: Delay(%d) = %s, want %s", tt.name, tt.retry, got, tt.want)
		}
	}
}

// TestDefaultSleep: the default sleeper waits on a timer and returns when the
// context ends. No test waits: the timer is a nanosecond, or an hour that the
// context ends before.
func TestDefaultSleep(t *testing.T) {
	e := newEnv(t, memory.New[stagemodel.StageState]())
	calls := 0
	flaky := []stage.Stage[state]{{Name: "a", Run: func(context.Context, *state) (*stage.SimpleRecordsResult, error) {
		if calls++; calls == 1 {
			return nil, errBoom
		}
		return nil, nil
	}}}
	cfg := stage.Config{Policy: stage.RetryPolicyStage, MaxAttempts: 2, Backoff: stage.Constant(time.Nanosecond)}
	if _, err := e.runner(t, e.driver, flaky, cfg).Run(e.ctx, "t", state{}); err != nil || calls != 2 {
		t.Fatalf("Run = %v after %d calls", err, calls)
	}
	// An hour's backoff, and the caller's context ends as the retry is written.
	calls = 0
	ctx, cancel := context.WithCancel(e.ctx)
	d := &onRetry{Driver: e.driver, f: cancel}
	cfg.Backoff = stage.Constant(time.Hour)
	_, err := e.runner(t, d, flaky, cfg).Run(ctx, "t2", state{})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("Run with the context ending during backoff = %v after %d calls", err, calls)
	}
	if row := e.rows(t, "t2", "a")[0]; row.Status != stagemodel.StatusRetry {
		t.Errorf("row %s, want RETRY: the next Run retries it", row.Status)
	}
}

// onRetry calls f after each retry transition.
type onRetry struct {
	Driver
	f func()
}

func (d *onRetry) Transition(ctx context.Context, from backends.Key, x *stagemodel.StageState, h backends.History) (bool, error) {
	ok, err := d.Driver.Transition(ctx, from, x, h)
	if h.Event == "retry" {
		d.f()
	}
	return ok, err
}
