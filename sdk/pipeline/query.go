package pipeline

import (
	"context"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
)

// TaskStatus is the current status of one registered task: that of its
// latest run (tasker's get_task_status).
type TaskStatus struct {
	Stage string                `json:"stage"`
	Task  string                `json:"task"`
	Type  *pipelinerun.TaskKind `json:"type"`
	// Status is the latest run's status, NOT_STARTED when the task has
	// never run.
	Status pipelinerun.Status `json:"status"`
	// Run is the latest run, nil when there is none.
	Run *Run `json:"run"`
	// Percent is the latest run's percent complete, from its subtasks when
	// it set none of its own (see RunPercent); 0 without a run.
	Percent float64 `json:"percent"`
	// PercentSource is where Percent comes from: "run" or "subtasks"; ""
	// without a run.
	PercentSource string `json:"percent_source,omitempty"`
}

// Status returns the current status of every registered task of a stage,
// or of every stage when stage is "", in registration order.
func (t *Tracker) Status(ctx context.Context, stage string) ([]TaskStatus, error) {
	tasks, err := t.st.Tasks(ctx, stage)
	if err != nil {
		return nil, err
	}
	runs, err := t.st.LatestRuns(ctx)
	if err != nil {
		return nil, err
	}
	type key struct{ stage, task string }
	latest := make(map[key]*Run, len(runs))
	for _, r := range runs {
		latest[key{r.Stage, r.Task}] = r
	}
	out := make([]TaskStatus, len(tasks))
	var shown []*Run
	for i, task := range tasks {
		ts := TaskStatus{Stage: task.Stage, Task: task.Name, Type: task.Type, Status: pipelinerun.Initial()}
		if r := latest[key{task.Stage, task.Name}]; r != nil {
			ts.Run, ts.Status = r, r.Status
			shown = append(shown, r)
		}
		out[i] = ts
	}
	progress, err := t.Progress(ctx, shown)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if r := out[i].Run; r != nil {
			out[i].Percent, out[i].PercentSource = progress[r.ID].Percent, progress[r.ID].Source
		}
	}
	return out, nil
}

// Active returns the runs that are STARTED or RUNNING (the lifecycle's
// "active" set), oldest first (tasker's get_active_tasks).
func (t *Tracker) Active(ctx context.Context) ([]*Run, error) {
	return t.st.ActiveRuns(ctx)
}

// History limits.
const (
	// DefaultHistoryLimit is the number of runs History returns when the
	// query sets no limit.
	DefaultHistoryLimit = 50
	// MaxHistoryLimit is the largest limit History accepts.
	MaxHistoryLimit = 10000
)

// HistoryQuery selects runs for History: empty Stage or Task match any; a
// zero Limit means DefaultHistoryLimit.
type HistoryQuery struct {
	Stage string
	Task  string
	Limit int
}

// History returns past and current runs, newest first (tasker's
// get_task_history).
func (t *Tracker) History(ctx context.Context, q HistoryQuery) ([]*Run, error) {
	if q.Limit == 0 {
		q.Limit = DefaultHistoryLimit
	}
	if q.Limit < 1 || q.Limit > MaxHistoryLimit {
		return nil, fieldError("limit", "between", strconv.Itoa(q.Limit), fmt.Sprintf("must be between 1 and %d", MaxHistoryLimit))
	}
	return t.st.History(ctx, storage.HistoryFilter{Stage: q.Stage, Task: q.Task, Limit: q.Limit})
}

// Run returns one run; an unknown id is a *NotFoundError.
func (t *Tracker) Run(ctx context.Context, id uuid.UUID) (*Run, error) {
	return t.getRun(ctx, id)
}

// Subtasks returns the subtasks of a run by number (tasker's
// get_subtask_progress); an unknown run is a *NotFoundError.
func (t *Tracker) Subtasks(ctx context.Context, run uuid.UUID) ([]*Subtask, error) {
	if _, err := t.getRun(ctx, run); err != nil {
		return nil, err
	}
	return t.st.SubtasksOf(ctx, run)
}

// Estimate returns the completion estimate of a run and of each of its
// subtasks at the tracker's clock (see EstimateSubtask and RunEstimate).
func (t *Tracker) Estimate(ctx context.Context, run uuid.UUID) (*RunEstimate, error) {
	r, err := t.getRun(ctx, run)
	if err != nil {
		return nil, err
	}
	subs, err := t.st.SubtasksOf(ctx, run)
	if err != nil {
		return nil, err
	}
	e := EstimateRun(r, subs, t.clock())
	return &e, nil
}
