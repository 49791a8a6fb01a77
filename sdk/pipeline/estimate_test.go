package pipeline_test

import (
	"math"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func sub(status pipelinesubtask.Status, done int64, total *int64, ended *time.Time) *pipeline.Subtask {
	return &pipeline.Subtask{Status: status, ItemsComplete: done, ItemsTotal: total, StartedAt: &t0, EndedAt: ended, SubtaskNumber: 1}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

func TestEstimateSubtask(t *testing.T) {
	now := t0.Add(100 * time.Second)
	cases := []struct {
		name            string
		s               *pipeline.Subtask
		known           bool
		rate, remaining float64
		low             float64
		high            *float64 // nil: unbounded
	}{
		{"no total", sub(pipelinesubtask.StatusRunning, 10, nil, nil), false, 0.1, 0, 0, nil},
		{"no item yet", sub(pipelinesubtask.StatusRunning, 0, ptr(int64(10)), nil), false, 0, 0, 0, nil},
		// 400 items in 100 s: 4/s, 600 left: 150 s; range 600·100/(400 ± 1.96·20).
		{"400 of 1000", sub(pipelinesubtask.StatusRunning, 400, ptr(int64(1000)), nil), true, 4, 150,
			600 * 100 / (400 + 1.96*20), ptr(600 * 100 / (400 - 1.96*20))},
		// 2 items: 1.96·√2 > 2, the rate could be zero: no upper bound.
		{"2 of 10", sub(pipelinesubtask.StatusRunning, 2, ptr(int64(10)), nil), true, 0.02, 400,
			8 * 100 / (2 + 1.96*math.Sqrt2), nil},
		{"all done, not completed yet", sub(pipelinesubtask.StatusRunning, 10, ptr(int64(10)), nil), true, 0.1, 0, 0, ptr(0.0)},
		{"completed", sub(pipelinesubtask.StatusCompleted, 5, ptr(int64(10)), ptr(t0.Add(50*time.Second))), true, 0.1, 0, 0, ptr(0.0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := pipeline.EstimateSubtask(c.s, now)
			if e.Known != c.known || !near(e.Rate, c.rate) || !near(e.RemainingSeconds, c.remaining) || !near(e.LowSeconds, c.low) {
				t.Fatalf("got %+v", e)
			}
			switch {
			case c.high == nil && e.HighSeconds != nil:
				t.Fatalf("high %v, want unbounded", *e.HighSeconds)
			case c.high != nil && (e.HighSeconds == nil || !near(*e.HighSeconds, *c.high)):
				t.Fatalf("high %v, want %v", e.HighSeconds, *c.high)
			}
			if c.known && c.high != nil && (e.LowSeconds > e.RemainingSeconds || *e.HighSeconds < e.RemainingSeconds) {
				t.Fatalf("range [%v, %v] does not hold %v", e.LowSeconds, *e.HighSeconds, e.RemainingSeconds)
			}
		})
	}
}

func TestEstimateRun(t *testing.T) {
	now := t0.Add(100 * time.Second)
	run := &pipeline.Run{Status: pipelinerun.StatusRunning}
	fast := sub(pipelinesubtask.StatusRunning, 400, ptr(int64(1000)), nil) // 150 s left
	slow := sub(pipelinesubtask.StatusRunning, 100, ptr(int64(1000)), nil) // 900 s left
	slow.SubtaskNumber = 2
	done := sub(pipelinesubtask.StatusCompleted, 10, ptr(int64(10)), ptr(t0.Add(time.Second)))
	done.SubtaskNumber = 3
	e := pipeline.EstimateRun(run, []*pipeline.Subtask{fast, slow, done}, now)
	if !e.Known || e.RemainingSeconds != 900 || e.ItemsComplete != 510 || e.ItemsTotal != 2010 || len(e.Subtasks) != 3 {
		t.Fatalf("run estimate %+v", e)
	}
	if e.HighSeconds == nil || !near(*e.HighSeconds, 900*100/(100-1.96*10)) || !near(e.LowSeconds, 900*100/(100+1.96*10)) {
		t.Fatalf("range [%v, %v]", e.LowSeconds, e.HighSeconds)
	}
	few := sub(pipelinesubtask.StatusRunning, 1, ptr(int64(1000)), nil)
	if e := pipeline.EstimateRun(run, []*pipeline.Subtask{fast, few}, now); e.HighSeconds != nil {
		t.Fatalf("one unbounded subtask leaves the run unbounded: %v", *e.HighSeconds)
	}
	if e := pipeline.EstimateRun(run, nil, now); e.Known {
		t.Fatalf("no subtasks: %+v", e)
	}
	finished := &pipeline.Run{Status: pipelinerun.StatusCompleted, EndedAt: &now}
	if e := pipeline.EstimateRun(finished, []*pipeline.Subtask{slow}, now); !e.Known || e.RemainingSeconds != 0 || !e.ETA.Equal(now) {
		t.Fatalf("finished run: %+v", e)
	}
}
