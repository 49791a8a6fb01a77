package pipeline

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/tasktype"
)

// NotFoundError says that a run, subtask or registered task does not exist.
// It matches tasktype.ErrNotFound.
type NotFoundError struct {
	// What names the missing thing: `run 0190…`, `subtask 2 of run 0190…`,
	// `task "Build" in stage "STATIC"`.
	What string
	// Hint says what exists or what to do, when known.
	Hint string
	// Run is the run What names (the missing run, or the run of the
	// missing subtask); uuid.Nil when What names none.
	Run uuid.UUID
	// Subtask is the number of the missing subtask; 0 when What names no
	// subtask.
	Subtask int64
}

func (e *NotFoundError) Error() string {
	if e.Hint == "" {
		return e.What + ": not found"
	}
	return e.What + ": not found; " + e.Hint
}

// Is makes errors.Is(err, tasktype.ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == tasktype.ErrNotFound }

// RunError is the error of an operation on one run: "run ID: op: err".
// When err names the run itself (a *NotFoundError or *StateError whose What
// is this run, or the store's conflict on this run), the message is "op:
// err", so that it names the run once: "subtask 3: start: run ID is
// COMPLETED: cannot start a subtask; …". When err is the *NotFoundError of
// the subtask op names, the message is "run ID: subtask 3: increment: not
// found; …", naming the run and the subtask once each. A refusal of the
// lifecycle (a generated *TransitionError) reads "run ID: skip: not
// possible while the run is RUNNING; possible now: complete, fail,
// cancel", or "…; it has ended" for a finished run or subtask. errors.Is
// and errors.As see Err.
type RunError struct {
	// Run is the run operated on.
	Run uuid.UUID
	// Op is the operation: "update", "complete", "subtask 3: start".
	Op string
	// Err is why it failed.
	Err error
}

func (e *RunError) Error() string {
	var nf *NotFoundError
	if errors.As(e.Err, &nf) && nf.Subtask != 0 && nf.Run == e.Run && e.Err.Error() == nf.Error() &&
		strings.HasPrefix(e.Op, fmt.Sprintf("subtask %d: ", nf.Subtask)) {
		msg := "not found"
		if nf.Hint != "" {
			msg += "; " + nf.Hint
		}
		return fmt.Sprintf("run %s: %s: %s", e.Run, e.Op, msg)
	}
	if te, ok := errors.AsType[tasktype.TransitionInfoer](e.Err); ok {
		// The lifecycle's refusal, in the words of the operation: "run ID:
		// skip: not possible while the run is RUNNING; possible now:
		// complete, fail, cancel".
		t := te.Transition()
		subject := "the run"
		if sub, _, ok := strings.Cut(e.Op, ": "); ok && strings.HasPrefix(sub, "subtask ") {
			subject = sub
		}
		tail := "; it has ended"
		if len(t.Allowed) > 0 {
			tail = "; possible now: " + strings.Join(t.Allowed, ", ")
		}
		return fmt.Sprintf("run %s: %s: not possible while %s is %s%s", e.Run, e.Op, subject, t.From, tail)
	}
	if namesRun(e.Err, e.Run) {
		return e.Op + ": " + e.Err.Error()
	}
	return fmt.Sprintf("run %s: %s: %v", e.Run, e.Op, e.Err)
}

// Unwrap returns Err.
func (e *RunError) Unwrap() error { return e.Err }

// runError wraps err as a *RunError. The store's conflict on the run
// itself calls it a run ("run ID is RUNNING at version 3 now, …"), on
// another row (one of its subtasks, which op names: "subtask 2: update")
// "the subtask", not by its row's id, which users never see.
func runError(id uuid.UUID, op string, err error) error {
	var ce *backends.ConflictError
	if errors.As(err, &ce) && ce.Name == "" {
		if ce.Read.ID == id {
			ce.Name = "run " + id.String()
		} else {
			ce.Name = "the subtask"
		}
	}
	return &RunError{Run: id, Op: op, Err: err}
}

// namesRun reports whether err's message names run: it holds an error of
// this package that says so, or the store's conflict on the run.
func namesRun(err error, run uuid.UUID) bool {
	var nf *NotFoundError
	if errors.As(err, &nf) && nf.Run == run && nf.Subtask == 0 {
		return true
	}
	var se *StateError
	if errors.As(err, &se) && se.Run == run {
		return true
	}
	var ce *backends.ConflictError
	return errors.As(err, &ce) && ce.Read.ID == run
}

// StateError says that an operation needs a run or subtask in other
// statuses than the one it is in (incrementing a completed subtask, starting
// a subtask of a finished run, completing a run whose subtasks are still
// running). It matches tasktype.ErrTransitionNotAllowed. Status changes
// themselves are checked by the generated lifecycle, whose
// *pipelinerun.TransitionError and *pipelinesubtask.TransitionError say which
// events are allowed.
type StateError struct {
	// What names the run or subtask.
	What string
	// Status is its status.
	Status string
	// Op is the refused operation.
	Op string
	// Need says what the operation needs.
	Need string
	// Run is the run What names (the run itself); uuid.Nil when What names
	// none ("subtask 2").
	Run uuid.UUID
}

func (e *StateError) Error() string {
	return fmt.Sprintf("%s is %s: cannot %s; %s", e.What, e.Status, e.Op, e.Need)
}

// Is makes errors.Is(err, tasktype.ErrTransitionNotAllowed) true.
func (e *StateError) Is(target error) bool { return target == tasktype.ErrTransitionNotAllowed }

// UnfinishedError says that a run cannot complete: some of its subtasks are
// started or running, or the run declared more subtasks (total_subtasks)
// than were started. It matches tasktype.ErrTransitionNotAllowed.
type UnfinishedError struct {
	Run uuid.UUID
	// Open are the subtasks that are STARTED or RUNNING.
	Open []*Subtask
	// NotStartedCount is how many declared subtasks never started;
	// NotStarted lists the first ten of their numbers.
	NotStartedCount int64
	NotStarted      []int64
	// Declared is the run's total_subtasks, 0 when not set.
	Declared int64
}

func (e *UnfinishedError) Error() string {
	return "cannot complete the run: " + e.list() + "; complete or fail them first"
}

// list names the unfinished and unstarted subtasks.
func (e *UnfinishedError) list() string {
	var parts []string
	for _, s := range e.Open {
		parts = append(parts, fmt.Sprintf("subtask %d (%s) is %s", s.SubtaskNumber, s.Name, s.Status))
	}
	switch n := e.NotStartedCount; {
	case n == 1 && len(e.NotStarted) == 1:
		parts = append(parts, fmt.Sprintf("subtask %d of %d never started", e.NotStarted[0], e.Declared))
	case n > 1:
		nums := make([]string, len(e.NotStarted))
		for i, x := range e.NotStarted {
			nums[i] = strconv.FormatInt(x, 10)
		}
		list := strings.Join(nums, ", ")
		if n > int64(len(nums)) {
			list += fmt.Sprintf(", … (%d in all)", n)
		}
		parts = append(parts, fmt.Sprintf("subtasks %s of %d never started", list, e.Declared))
	}
	return strings.Join(parts, "; ")
}

// Is makes errors.Is(err, tasktype.ErrTransitionNotAllowed) true.
func (e *UnfinishedError) Is(target error) bool { return target == tasktype.ErrTransitionNotAllowed }

func fieldError(field, rule, value, msg string) *tasktype.FieldError {
	return &tasktype.FieldError{Field: field, Rule: rule, Value: value, Message: msg}
}

func required(field string) *tasktype.FieldError {
	return fieldError(field, "required", "", "is required")
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// joinErrs reports every error of errs at once. The refused fields among
// them (*tasktype.FieldError, *tasktype.ValidationError) become one
// *tasktype.ValidationError listing them all ("stage: …; total_subtasks:
// …"), or the one *tasktype.FieldError as it is; other errors (a stage not
// found) are joined after them with errors.Join. nil when all are nil.
func joinErrs(errs ...error) error {
	var fields []*tasktype.FieldError
	var others []error
	for _, err := range errs {
		var ve *tasktype.ValidationError
		var fe *tasktype.FieldError
		switch {
		case err == nil:
		case errors.As(err, &ve) && ve.Type == "" && err == error(ve):
			fields = append(fields, ve.Fields...)
		case errors.As(err, &fe) && err == error(fe):
			fields = append(fields, fe)
		default:
			others = append(others, err)
		}
	}
	var all []error
	switch len(fields) {
	case 0:
	case 1:
		all = append(all, fields[0])
	default:
		all = append(all, &tasktype.ValidationError{Fields: fields})
	}
	all = append(all, others...)
	if len(all) <= 1 {
		if len(all) == 0 {
			return nil
		}
		return all[0]
	}
	return errors.Join(all...)
}
