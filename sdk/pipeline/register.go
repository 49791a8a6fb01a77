package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/taskmodel/taskmodel/tasktype"
)

// RegisterStage registers one stage (see Register).
func (t *Tracker) RegisterStage(ctx context.Context, s Stage) error {
	return t.Register(ctx, []Stage{s}, nil)
}

// RegisterTask registers one task, and its stage if that is new (see
// Register).
func (t *Tracker) RegisterTask(ctx context.Context, task Task) error {
	return t.Register(ctx, nil, []Task{task})
}

// Register registers stages and tasks in bulk, in one transaction: all of
// them or, on any error, none. It is idempotent, and keeps order: a stage or
// task registered for the first time goes after the last one (of its stage,
// for a task) unless its Order is positive, which sets its position; one
// registered again keeps its position (unless Order is positive) and the
// optional fields the new registration leaves nil. A task's stage is
// registered with it when it is new.
//
// Every stage and task is validated first; the error names the entry
// (stages[i], tasks[i]) and the field.
func (t *Tracker) Register(ctx context.Context, stages []Stage, tasks []Task) error {
	var errs []error
	for i, s := range stages {
		if err := ValidateStage(s); err != nil {
			errs = append(errs, fmt.Errorf("stages[%d]: %w", i, err))
		}
	}
	for i, task := range tasks {
		if err := ValidateTask(task); err != nil {
			errs = append(errs, fmt.Errorf("tasks[%d] (%s / %s): %w", i, task.Stage, task.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := t.st.Register(ctx, stages, tasks); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	for _, s := range stages {
		t.log.InfoContext(ctx, fmt.Sprintf("[REGISTER] stage %s", s.Name), "stage", s.Name)
	}
	for _, task := range tasks {
		t.log.InfoContext(ctx, fmt.Sprintf("[REGISTER] %s / %s", task.Stage, task.Name), "stage", task.Stage, "task", task.Name)
	}
	return nil
}

func validateName(field, v string) error {
	if err := ValidateName(field, v); err != nil {
		return err
	}
	return nil
}

// NameSpaceMessage is the refusal of a name that begins or ends with white
// space (see ValidateName).
const NameSpaceMessage = "must not begin or end with a space"

// ValidateName checks the name of a stage, task or subtask, as given to
// Register, Start, SkipTask and StartSubtask (field names it in the
// error): it is required, and may not begin or end with white space.
//
// The rule, on every path (the SDK, the CLI's arguments and flags, the
// HTTP API, registration files): names are compared in SQL, and MySQL's
// and MariaDB's PAD SPACE collations take "TRAIL " for "TRAIL" where
// SQLite and PostgreSQL do not, so such a name would be one stage on one
// engine and two on another. Trimming it instead, on some paths and not
// others, made "Job " a registered task that run start could not find;
// refusing it everywhere, lookups included, with the same message, keeps
// every engine and every path alike.
func ValidateName(field, v string) *tasktype.FieldError {
	if strings.TrimSpace(v) == "" {
		return required(field)
	}
	if strings.TrimSpace(v) != v {
		return fieldError(field, "space", v, NameSpaceMessage)
	}
	return nil
}

// ValidateStage checks a stage as Register does, before anything is
// written: its name, the spec's limits and the tracker's (MaxDescriptionLen).
func ValidateStage(s Stage) error {
	if err := validateName("name", s.Name); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	return checkLen("description", s.Description, MaxDescriptionLen)
}

// ValidateTask checks a task as Register does, before anything is
// written: its stage and name, the spec's limits and the tracker's
// (MaxPathLen).
func ValidateTask(task Task) error {
	if err := errors.Join(validateName("stage", task.Stage), validateName("name", task.Name)); err != nil {
		return err
	}
	if len(task.Stage) > 100 {
		// The stage a task names is registered with it: its limit applies.
		return fieldError("stage", "max_len", "", "must be at most 100 characters")
	}
	if err := task.Validate(); err != nil {
		return err
	}
	return checkPaths(task.ScriptPath, task.ScriptFilename, task.LogPath, task.LogFilename)
}

// Stages returns the registered stages in order.
func (t *Tracker) Stages(ctx context.Context) ([]Stage, error) {
	return t.st.Stages(ctx)
}

// CheckStage returns a *NotFoundError, saying which stages are registered,
// when stage is not one of them.
func (t *Tracker) CheckStage(ctx context.Context, stage string) error {
	stages, err := t.st.Stages(ctx)
	if err != nil {
		return err
	}
	names := make([]string, len(stages))
	for i, st := range stages {
		if st.Name == stage {
			return nil
		}
		names[i] = strconv.Quote(st.Name)
	}
	e := &NotFoundError{What: fmt.Sprintf("stage %q", stage), Hint: "registered stages: " + strings.Join(names, ", ")}
	if len(names) == 0 {
		e.Hint = "no stage is registered yet (register stages and their tasks first)"
	}
	return e
}

// CheckTask returns a *NotFoundError, saying which tasks are registered,
// when no task name is registered in stage, or in any stage when stage is
// "": a filter on an unknown task is a mistake to report, not an empty
// list.
func (t *Tracker) CheckTask(ctx context.Context, stage, name string) error {
	if stage != "" {
		_, err := t.task(ctx, stage, name)
		return err
	}
	tasks, err := t.st.Tasks(ctx, "")
	if err != nil {
		return err
	}
	var names []string
	for _, x := range tasks {
		if x.Name == name {
			return nil
		}
		if !slices.Contains(names, x.Name) {
			names = append(names, x.Name)
		}
	}
	e := &NotFoundError{What: fmt.Sprintf("task %q", name), Hint: "registered tasks: " + quoteList(names)}
	if len(names) == 0 {
		e.Hint = "no task is registered yet (register stages and their tasks first)"
	}
	return e
}

// Tasks returns the registered tasks of a stage in order, or of every stage
// when stage is "" (in stage order, then task order).
func (t *Tracker) Tasks(ctx context.Context, stage string) ([]Task, error) {
	return t.st.Tasks(ctx, stage)
}

// task returns a registered task, or a *NotFoundError listing the stage's
// registered tasks, or the registered stages when the stage is not one.
func (t *Tracker) task(ctx context.Context, stage, name string) (*Task, error) {
	def, err := t.st.Task(ctx, stage, name)
	if !errors.Is(err, tasktype.ErrNotFound) {
		return def, err
	}
	e := &NotFoundError{What: fmt.Sprintf("task %q in stage %q", name, stage)}
	tasks, lerr := t.st.Tasks(ctx, stage)
	switch {
	case lerr != nil:
		return nil, lerr
	case len(tasks) == 0:
		// The stage may not be registered at all (a typo): say so, with
		// the stages that are, as CheckStage does.
		if err := t.CheckStage(ctx, stage); err != nil {
			return nil, err
		}
		e.Hint = fmt.Sprintf("stage %q has no registered task; register tasks first (taskmodel pipeline register FILE)", stage)
	default:
		names := make([]string, len(tasks))
		for i, x := range tasks {
			names[i] = x.Name
		}
		e.Hint = "registered in that stage: " + quoteList(names)
	}
	return nil, e
}
