package pipeline_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

// TestRunPercent: a run that sets no percent of its own shows the mean of
// its subtasks' over the declared number (unstarted 0, completed or
// skipped 100); one that sets its own, or completed, shows its own.
func TestRunPercent(t *testing.T) {
	sub := func(n int64, st pipelinesubtask.Status, p float64) *pipeline.Subtask {
		return &pipeline.Subtask{SubtaskNumber: n, Status: st, Percent: p}
	}
	run := func(st pipelinerun.Status, own float64, declared *int64, current *int64) *pipeline.Run {
		return &pipeline.Run{ID: uuid.New(), Status: st, OverallPercent: own, TotalSubtasks: declared, CurrentSubtask: current}
	}
	cases := []struct {
		name string
		run  *pipeline.Run
		subs []*pipeline.Subtask
		want pipeline.Progress
	}{
		{"only subtask at 75", run(pipelinerun.StatusRunning, 0, ptr(int64(1)), ptr(int64(1))),
			[]*pipeline.Subtask{sub(1, pipelinesubtask.StatusRunning, 75)}, pipeline.Progress{Percent: 75, Source: "subtasks"}},
		{"one of four declared done, one at 50", run(pipelinerun.StatusRunning, 0, ptr(int64(4)), ptr(int64(2))),
			[]*pipeline.Subtask{sub(1, pipelinesubtask.StatusCompleted, 100), sub(2, pipelinesubtask.StatusRunning, 50)},
			pipeline.Progress{Percent: 37.5, Source: "subtasks"}},
		{"skipped counts as done", run(pipelinerun.StatusRunning, 0, ptr(int64(2)), ptr(int64(2))),
			[]*pipeline.Subtask{sub(1, pipelinesubtask.StatusSkipped, 0), sub(2, pipelinesubtask.StatusStarted, 0)},
			pipeline.Progress{Percent: 50, Source: "subtasks"}},
		{"failed keeps its percent", run(pipelinerun.StatusFailed, 0, ptr(int64(2)), ptr(int64(2))),
			[]*pipeline.Subtask{sub(1, pipelinesubtask.StatusCompleted, 100), sub(2, pipelinesubtask.StatusFailed, 20)},
			pipeline.Progress{Percent: 60, Source: "subtasks"}},
		{"none declared: over those started", run(pipelinerun.StatusRunning, 0, nil, ptr(int64(2))),
			[]*pipeline.Subtask{sub(1, pipelinesubtask.StatusCompleted, 100), sub(2, pipelinesubtask.StatusRunning, 0)},
			pipeline.Progress{Percent: 50, Source: "subtasks"}},
		{"declared, none started", run(pipelinerun.StatusStarted, 0, ptr(int64(3)), nil), nil,
			pipeline.Progress{Percent: 0, Source: "subtasks"}},
		{"own percent wins", run(pipelinerun.StatusRunning, 10, ptr(int64(1)), ptr(int64(1))),
			[]*pipeline.Subtask{sub(1, pipelinesubtask.StatusRunning, 90)}, pipeline.Progress{Percent: 10, Source: "run"}},
		{"completed is 100", run(pipelinerun.StatusCompleted, 100, ptr(int64(2)), ptr(int64(1))),
			[]*pipeline.Subtask{sub(1, pipelinesubtask.StatusCompleted, 100)}, pipeline.Progress{Percent: 100, Source: "run"}},
		{"no subtasks", run(pipelinerun.StatusRunning, 0, nil, nil), nil, pipeline.Progress{Percent: 0, Source: "run"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pipeline.RunPercent(c.run, c.subs); got != c.want {
				t.Errorf("RunPercent = %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestStatusDerivesPercent: Status and Progress show the derived percent
// from what is stored, on every engine.
func TestStatusDerivesPercent(t *testing.T) {
	cases := []struct {
		name     string
		declared int64
		steps    []func(e *env, id uuid.UUID) error
		want     pipeline.Progress
	}{
		{"only subtask at 75/100", 1, []func(e *env, id uuid.UUID) error{startSub(1, ptr(int64(100))), increment(1, 75)},
			pipeline.Progress{Percent: 75, Source: "subtasks"}},
		{"one of three complete, one at half", 3, []func(e *env, id uuid.UUID) error{
			startSub(1, nil), completeSub(1), startSub(2, ptr(int64(10))), increment(2, 5)},
			pipeline.Progress{Percent: 50, Source: "subtasks"}},
		{"the script's own percent", 2, []func(e *env, id uuid.UUID) error{startSub(1, ptr(int64(10))), increment(1, 10), updateRun(20)},
			pipeline.Progress{Percent: 20, Source: "run"}},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.start(t, "STATIC", "Build Database", c.declared)
				for i, s := range c.steps {
					if err := s(e, r.ID); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				}
				status, err := e.tr.Status(e.ctx, "STATIC")
				if err != nil {
					t.Fatal(err)
				}
				if len(status) != 1 || status[0].Run == nil || status[0].Run.ID != r.ID {
					t.Fatalf("status %+v", status)
				}
				if got := (pipeline.Progress{Percent: status[0].Percent, Source: status[0].PercentSource}); got != c.want {
					t.Errorf("Status percent %+v, want %+v", got, c.want)
				}
				p, err := e.tr.Progress(e.ctx, []*pipeline.Run{e.run(t, r.ID)})
				if err != nil {
					t.Fatal(err)
				}
				if p[r.ID] != c.want {
					t.Errorf("Progress %+v, want %+v", p[r.ID], c.want)
				}
			})
		}
	})
}
