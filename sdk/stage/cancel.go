package stage

import (
	"context"
	"errors"
	"fmt"

	stagemodel "github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Cancel cancels the task taskID: every stage row in a CANCELABLE status
// (UNBOUND, CREATED, RUNNING, RETRY) becomes CANCELED, a RUNNING one with a
// history entry ending its attempt; COMPLETE stages stay COMPLETE and are not
// rolled back. If the task is running in this Runner, its stage's context is
// then cancelled with cause ErrCanceled and Run returns an error wrapping
// ErrCanceled. A Runner elsewhere (another process) sees the cancel within
// its Config.CancelCheck and cancels its stage's context the same way (or at
// its next write, if sooner): its attempt's outcome is discarded and no
// further stage runs.
//
// Canceling a finished task (COMPLETE, ERROR or CANCELED) is an error
// wrapping the model's *TransitionError (errors.Is
// tasktype.ErrTransitionNotAllowed) that names the task's status; an unknown
// task is tasktype.ErrNotFound.
func (r *Runner[S]) Cancel(ctx context.Context, taskID string) error {
	if err := checkTaskID(taskID); err != nil {
		return err
	}
	rows, err := r.load(ctx, taskID)
	if err != nil {
		return err
	}
	canceled := 0
	for i := range rows {
		if rows[i] == nil { // a stage added after the task began: created UNBOUND, then canceled
			if rows[i], err = r.getOrCreate(ctx, taskID, i, nil); err != nil {
				return err
			}
		}
		var done bool
		if rows[i], done, err = r.cancelRow(ctx, rows[i]); err != nil {
			return fmt.Errorf("stage: cancel task %q, stage %q: %w", taskID, r.stages[i].Name, err)
		}
		if done {
			canceled++
		}
		if rows[i].Status == stagemodel.StatusError {
			break // the task failed: the stages after it stay as they are
		}
	}
	if canceled == 0 {
		st := aggregate(rows)
		_, terr := stagemodel.Fire(st, stagemodel.EventCancel)
		if terr == nil { // cannot happen: every row is finished once none was canceled
			terr = fmt.Errorf("nothing to cancel: %w", tasktype.ErrTransitionNotAllowed)
		}
		return fmt.Errorf("stage: cannot cancel task %q, which is %s: %w", taskID, st, terr)
	}
	r.mu.Lock()
	cancel := r.running[taskID]
	r.mu.Unlock()
	if cancel != nil {
		cancel(ErrCanceled)
	}
	return nil
}

// cancelRow fires cancel on a row while it is cancelable, re-reading it after
// each lost race (the runner moved it meanwhile). done reports whether this
// call canceled it.
func (r *Runner[S]) cancelRow(ctx context.Context, row *StageState) (_ *StageState, done bool, _ error) {
	for row.Status.IsCancelable() {
		var mutate func(*StageState)
		if row.Status == stagemodel.StatusRunning {
			e := entry(row, stagemodel.StatusCanceled, "canceled", r.now())
			mutate = func(s *StageState) { s.History = appendEntry(s.History, e) }
		}
		next, err := r.store.FireFrom(ctx, row, stagemodel.EventCancel, mutate, r.meta("canceled", row.Attempts))
		if err == nil {
			return next, true, nil
		}
		if !errors.Is(err, tasktype.ErrConflict) {
			return nil, false, err
		}
		if row, err = r.store.Get(ctx, row.ID); err != nil {
			return nil, false, err
		}
	}
	return row, false, nil
}

// TaskStatus is a task as its stage rows describe it.
type TaskStatus struct {
	// TaskID is the task's id, shared by its rows' task_id.
	TaskID string
	// Status is the task's: the status of its first stage (in order) that is
	// ERROR or CANCELED; else COMPLETE when every stage is; else RUNNING or
	// RETRY when a stage is; else UNBOUND when every stage is; else CREATED
	// (waiting for a runner to run its next stage).
	Status stagemodel.Status
	// Stage is the name of the first stage that is not COMPLETE; "" when
	// every stage is.
	Stage string
	// Attempts counts the attempts of all stages: what policy GLOBAL limits.
	Attempts int64
	// Result is the final stage's result: set once the task is COMPLETE.
	Result *SimpleRecordsResult
	// Stages are the rows in stage order. A stage the task has no row for
	// (one added to the Runner after the task began) appears UNBOUND with
	// version 0.
	Stages []*StageState
}

// Status reads the task taskID; tasktype.ErrNotFound if it has no rows.
func (r *Runner[S]) Status(ctx context.Context, taskID string) (*TaskStatus, error) {
	if err := checkTaskID(taskID); err != nil {
		return nil, err
	}
	rows, err := r.load(ctx, taskID)
	if err != nil {
		return nil, err
	}
	ts := &TaskStatus{TaskID: taskID, Status: aggregate(rows), Stages: rows}
	for i, row := range rows {
		if row == nil {
			row = stagemodel.NewStageState()
			row.ID, row.StageName, row.TaskID = RowID(taskID, r.stages[i].Name), r.stages[i].Name, taskID
			rows[i] = row
		}
		ts.Attempts += row.Attempts
		if ts.Stage == "" && row.Status != stagemodel.StatusComplete {
			ts.Stage = row.StageName
		}
	}
	if ts.Status == stagemodel.StatusComplete {
		ts.Result = rows[len(rows)-1].Result
	}
	return ts, nil
}

// load reads the rows of a task in stage order, nil where a stage has none;
// tasktype.ErrNotFound if no stage has one.
func (r *Runner[S]) load(ctx context.Context, taskID string) ([]*StageState, error) {
	rows := make([]*StageState, len(r.stages))
	found := false
	for i, st := range r.stages {
		row, err := r.store.Get(ctx, RowID(taskID, st.Name))
		switch {
		case errors.Is(err, tasktype.ErrNotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("stage: task %q, stage %q: %w", taskID, st.Name, err)
		}
		rows[i], found = row, true
	}
	if !found {
		return nil, fmt.Errorf("stage: task %q: %w", taskID, tasktype.ErrNotFound)
	}
	return rows, nil
}

// aggregate is the task's status (see TaskStatus.Status); a nil row counts
// as UNBOUND.
func aggregate(rows []*StageState) stagemodel.Status {
	if _, st := firstEnded(rows); st != "" {
		return st
	}
	count := map[stagemodel.Status]int{}
	for _, row := range rows {
		if row == nil {
			count[stagemodel.StatusUnbound]++
		} else {
			count[row.Status]++
		}
	}
	switch {
	case count[stagemodel.StatusComplete] == len(rows):
		return stagemodel.StatusComplete
	case count[stagemodel.StatusRunning] > 0:
		return stagemodel.StatusRunning
	case count[stagemodel.StatusRetry] > 0:
		return stagemodel.StatusRetry
	case count[stagemodel.StatusUnbound] == len(rows):
		return stagemodel.StatusUnbound
	}
	return stagemodel.StatusCreated
}
