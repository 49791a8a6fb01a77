package backends

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/tasktype"
)

// ConflictError is a guarded write that lost a race: the task changed
// between the caller's read and the write, which wrote nothing. It matches
// tasktype.ErrConflict (errors.Is).
//
// When the write fired an event that the task's status now no longer
// allows, Refused is that refusal (the model's *TransitionError), and
// errors.As and errors.Is find it through the ConflictError: the answer
// the caller would get by reading the task again and firing, without the
// retry that would only get it. A write that may still succeed on a
// fresh read has no Refused.
type ConflictError struct {
	ID uuid.UUID
	// Read is the status and version the write was guarded by; Now the
	// task's as the conflict was found.
	Read, Now tasktype.Key
	// Refused is the transition the task as it is now refuses, or nil.
	Refused error
	// Name is what the message calls the task; "" is "task ID". A caller
	// that knows the task by another name sets it ("run ID", or "the
	// subtask" when its users never see the row's id).
	Name string
}

// Error names the task, how it changed and, when the event is no longer
// possible, why.
func (e *ConflictError) Error() string {
	name := e.Name
	if name == "" {
		name = "task " + e.ID.String()
	}
	switch {
	case e.Refused != nil:
		return fmt.Sprintf("%s moved from %s to %s while this change was written: %v",
			name, e.Read.Status, e.Now.Status, e.Refused)
	case e.Now.Status == e.Read.Status && e.Now.Version == e.Read.Version:
		// The winning write was undone (rolled back) before the re-read.
		return fmt.Sprintf("%s: %v", name, tasktype.ErrConflict)
	}
	return fmt.Sprintf("%s is %s at version %d now, not %s at version %d as it was read: %v",
		name, e.Now.Status, e.Now.Version, e.Read.Status, e.Read.Version, tasktype.ErrConflict)
}

// Is makes errors.Is(err, tasktype.ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == tasktype.ErrConflict }

// Unwrap returns Refused: nil when the event may still be possible.
func (e *ConflictError) Unwrap() error { return e.Refused }
