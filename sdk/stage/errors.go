package stage

import (
	"errors"
	"fmt"
)

var (
	// ErrFailed matches (errors.Is) every *FailedError: the task failed for
	// good and its completed stages were rolled back.
	ErrFailed = errors.New("task failed")
	// ErrCanceled is what Run returns (wrapped) for a canceled task, and the
	// cause (context.Cause) of a running stage's context that Cancel ended.
	ErrCanceled = errors.New("task canceled")
)

// FailedError reports a task that failed for good: a stage's last allowed
// attempt failed, or its retries were exhausted. Run returns it again for the
// task on every later call, without running anything.
type FailedError struct {
	// TaskID is the failed task's id.
	TaskID string
	// Stage is the name of the stage that failed, Attempts its attempts.
	Stage    string
	Attempts int64
	// Message is the failure as recorded with the error event: the failing
	// attempt's error, or why the stage was given up without another attempt.
	Message string
	// Err is the failing attempt's error when this call of Run saw it fail;
	// nil when the task had failed before (Message still says why).
	Err error
	// Rollback joins the errors of the rollbacks that failed (each wrapped
	// with its stage's name); nil when every rollback succeeded.
	Rollback error
}

// Error describes the failure and any failed rollbacks.
func (e *FailedError) Error() string {
	s := fmt.Sprintf("stage: task %q failed at stage %q after %d attempt(s): %s", e.TaskID, e.Stage, e.Attempts, e.Message)
	if e.Rollback != nil {
		s += "; " + e.Rollback.Error()
	}
	return s
}

// Unwrap makes errors.Is match ErrFailed, the attempt's error and the
// rollbacks' errors.
func (e *FailedError) Unwrap() []error {
	errs := []error{ErrFailed}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Rollback != nil {
		errs = append(errs, e.Rollback)
	}
	return errs
}
