package pipeline

import (
	"context"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
)

// Where a run's shown percent comes from (Progress.Source).
const (
	// PercentRun is the run's own overall_percent: the script set it, or the
	// run completed (100).
	PercentRun = "run"
	// PercentSubtasks is derived from the run's subtasks.
	PercentSubtasks = "subtasks"
)

// Progress is a run's percent complete as status, history and watch show
// it, and where it comes from.
type Progress struct {
	Percent float64 `json:"percent"`
	Source  string  `json:"percent_source"`
}

// RunPercent returns the percent complete of a run with its subtasks subs.
// It is the run's own overall_percent when that is above 0 (the script set
// it) or the run completed. Otherwise, when the run has subtasks, declared
// (total_subtasks) or started, it is their mean percent over the declared
// number (or the number started, when more started or none were declared):
// a subtask never started counts 0, a COMPLETED or SKIPPED one 100, any
// other its own percent. A run with neither is at its own percent, 0.
func RunPercent(r *Run, subs []*Subtask) Progress {
	own := Progress{Percent: r.OverallPercent, Source: PercentRun}
	if !derives(r) {
		return own
	}
	n := int64(len(subs))
	if r.TotalSubtasks != nil && *r.TotalSubtasks > n {
		n = *r.TotalSubtasks
	}
	if n == 0 {
		return own
	}
	sum := 0.0
	for _, s := range subs {
		switch s.Status {
		case pipelinesubtask.StatusCompleted, pipelinesubtask.StatusSkipped:
			sum += 100
		default:
			sum += s.Percent
		}
	}
	return Progress{Percent: min(100, sum/float64(n)), Source: PercentSubtasks}
}

// derives reports whether a run's percent may come from its subtasks: it set
// none of its own, did not complete, and has or declared subtasks.
func derives(r *Run) bool {
	if r.OverallPercent > 0 || r.Status == pipelinerun.StatusCompleted {
		return false
	}
	return (r.TotalSubtasks != nil && *r.TotalSubtasks > 0) || r.CurrentSubtask != nil
}

// Progress returns RunPercent of each run, by run id. It reads the
// subtasks only of the runs whose percent may come from them.
func (t *Tracker) Progress(ctx context.Context, runs []*Run) (map[uuid.UUID]Progress, error) {
	out := make(map[uuid.UUID]Progress, len(runs))
	for _, r := range runs {
		var subs []*Subtask
		if derives(r) {
			var err error
			if subs, err = t.st.SubtasksOf(ctx, r.ID); err != nil {
				return nil, err
			}
		}
		out[r.ID] = RunPercent(r, subs)
	}
	return out, nil
}
