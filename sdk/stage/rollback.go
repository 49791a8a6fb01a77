package stage

import (
	"errors"
	"fmt"

	stagemodel "github.com/taskmodel/taskmodel/gen/stage"
)

// Messages of the history entries that record rollbacks.
const (
	msgRolledBack = "rolled back"
	msgNoRollback = "no rollback: the stage has none"
	msgRollbackKO = "rollback failed: "
)

// failed finishes a task whose stage i is ERROR: it rolls back the completed
// stages that are not yet rolled back and returns the *FailedError. cause is
// the failing attempt's error, nil when the task had failed before this Run.
func (x *execution[S]) failed(i int, cause error) error {
	rollback, err := x.rollback(i)
	if err != nil {
		return err
	}
	row := x.rows[i]
	var msg string
	if cause != nil {
		msg = cause.Error()
	} else if msg, err = x.errorMessage(i); err != nil {
		return err
	}
	return &FailedError{TaskID: x.taskID, Stage: row.StageName, Attempts: row.Attempts, Message: msg, Err: cause, Rollback: rollback}
}

// errorMessage returns the message of the error event that failed row i,
// from the store's history rows: the failed attempt's message, or why the
// stage was given up without one.
func (x *execution[S]) errorMessage(i int) (string, error) {
	hist, err := x.r.store.History(x.ctx, x.rows[i].ID)
	if err != nil {
		return "", x.storeError(i, err)
	}
	for j := len(hist) - 1; j >= 0; j-- {
		if hist[j].Event == string(stagemodel.EventError) {
			return hist[j].Message, nil
		}
	}
	return "failed", nil
}

// rollback runs the Rollback of every COMPLETE stage in reverse stage order,
// on the state as checkpointed before the failed stage, and records each in
// its row's history: an entry from COMPLETE to COMPLETE (no attempt begins
// in COMPLETE, so such an entry can only be a rollback). A stage whose
// rollback is recorded is skipped, which makes a rollback a crash stopped
// resume where it stopped. It returns the rollbacks' errors joined, and
// separately an error that stopped it (storage, or the caller's context).
func (x *execution[S]) rollback(failed int) (rollbackErr, err error) {
	var state *S
	var errs []error
	for j := len(x.rows) - 1; j >= 0; j-- {
		row, st := x.rows[j], x.r.stages[j]
		if row.Status != stagemodel.StatusComplete || rolledBack(row) {
			continue
		}
		if state == nil {
			if state, err = decode[S](x.checkpointBefore(failed)); err != nil {
				return nil, fmt.Errorf("stage: task %q: the checkpoint to roll back from does not decode into %T: %w", x.taskID, state, err)
			}
		}
		begin, msg := x.r.now(), msgNoRollback
		if st.Rollback != nil {
			_, rbErr := protect(func() (struct{}, error) { return struct{}{}, st.Rollback(x.taskCtx, state) })
			if x.ctx.Err() != nil {
				return nil, x.interrupted(j)
			}
			msg = msgRolledBack
			if rbErr != nil {
				msg = msgRollbackKO + rbErr.Error()
				errs = append(errs, fmt.Errorf("rollback of stage %q: %w", st.Name, rbErr))
			}
		}
		end := x.r.now()
		e := stagemodel.StageStateHistoryEntry{Attempt: row.Attempts, BeginStatus: stagemodel.StatusComplete, BeginTs: timestamp(begin),
			EndStatus: stagemodel.StatusComplete, EndTs: timestamp(end), Message: msg, RunTimeSeconds: max(end.Sub(begin).Seconds(), 0)}
		next, uerr := x.r.store.Update(x.ctx, row, func(s *StageState) { s.History = appendEntry(s.History, e) })
		if uerr != nil {
			return nil, x.storeError(j, uerr)
		}
		x.rows[j] = next
	}
	return errors.Join(errs...), nil
}

// rolledBack reports whether a COMPLETE row's rollback is recorded.
func rolledBack(row *StageState) bool {
	for _, e := range row.History {
		if e.BeginStatus == stagemodel.StatusComplete {
			return true
		}
	}
	return false
}
