package storage

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
)

// Run is one execution of a registered task (the generated model).
type Run = pipelinerun.PipelineRun

// Subtask is one step within a run (the generated model).
type Subtask = pipelinesubtask.PipelineSubtask

// Stage is a registered pipeline stage. Order is its position (1-based once
// stored).
type Stage = pipelinerun.Stage

// Task is a registered task within a stage. Order is its position within the
// stage (1-based once stored).
type Task = pipelinerun.TaskDefinition

// HistoryFilter selects runs for Storage.History. Empty Stage or Task means
// any; Limit must be at least 1.
type HistoryFilter struct {
	Stage string
	Task  string
	Limit int
}

// Storage is what the tracker needs of an engine. Every method is safe for
// concurrent use, from any number of goroutines and processes sharing the
// database. Errors match tasktype.ErrNotFound and tasktype.ErrDuplicate where
// they apply; a failed call writes nothing.
type Storage interface {
	// Runs is the generated driver of the run model.
	Runs() backends.Driver[Run]
	// Subtasks is the generated driver of the subtask model. Its Insert
	// refuses a second subtask with the same run and number (ErrDuplicate).
	Subtasks() backends.Driver[Subtask]

	// Register upserts stages, then tasks, in one transaction. A stage or
	// task seen for the first time is placed at its Order when that is
	// positive, else after the last one (of its stage, for a task). A known
	// one keeps its position unless Order is positive, and keeps every
	// optional field the new registration leaves nil. A task whose stage is
	// not registered registers it. Callers validate before calling.
	Register(ctx context.Context, stages []Stage, tasks []Task) error
	// Stages returns the registered stages in order.
	Stages(ctx context.Context) ([]Stage, error)
	// Tasks returns the registered tasks of a stage in order, or of every
	// stage ("") in stage order, then task order.
	Tasks(ctx context.Context, stage string) ([]Task, error)
	// Task returns one registered task; ErrNotFound when there is none.
	Task(ctx context.Context, stage, name string) (*Task, error)

	// LatestRuns returns the latest run (by creation) of every task that
	// has one.
	LatestRuns(ctx context.Context) ([]*Run, error)
	// ActiveRuns returns the runs in the lifecycle's "active" set, oldest
	// first.
	ActiveRuns(ctx context.Context) ([]*Run, error)
	// History returns runs matching f, newest first.
	History(ctx context.Context, f HistoryFilter) ([]*Run, error)

	// SubtasksOf returns the subtasks of a run by number (none for an
	// unknown run).
	SubtasksOf(ctx context.Context, run uuid.UUID) ([]*Subtask, error)
	// Subtask returns subtask number n of a run; ErrNotFound when there is
	// none.
	Subtask(ctx context.Context, run uuid.UUID, n int64) (*Subtask, error)
	// Increment adds by to items_complete of subtask n of run in one atomic
	// step, if the subtask is in one of statuses and the new count does not
	// pass items_total; it recomputes percent from items_total when that is
	// positive, increments version and sets updated_at to at. It returns the
	// subtask as written (on MySQL, which cannot return what an update
	// wrote, as read right after it: with this increment, and perhaps later
	// writes too), or ok false (and writes nothing) when no subtask matched
	// those conditions.
	Increment(ctx context.Context, run uuid.UUID, n, by int64, statuses []string, at time.Time) (s *Subtask, ok bool, err error)

	// Close releases the engine's resources.
	Close() error
}

// Statuses returns the text of statuses, for the statuses argument of
// Increment and the engines' status filters.
func Statuses[S ~string](ss []S) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}
