package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/memstore"
	"github.com/taskmodel/taskmodel/tasktype"
)

// TestRunErrorsNameTheRunOnceWithTheOperation: the error of a call on a run
// is a *pipeline.RunError that names the run exactly once and says which
// operation failed, whether or not the error inside names the run itself.
// {run} stands for the run's id, {unknown} for an id no run has.
func TestRunErrorsNameTheRunOnceWithTheOperation(t *testing.T) {
	unknown := uuid.MustParse("00000000-0000-7000-8000-000000000002")
	type call func(e *env, id uuid.UUID) error
	cases := []struct {
		name  string
		setup []call
		call  call
		is    error
		want  string
	}{
		{"update an unknown run", nil, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Update(e.ctx, unknown, pipeline.RunUpdate{Percent: ptr(5.0)})
			return err
		}, tasktype.ErrNotFound, "update: run {unknown}: not found"},
		{"increment a subtask of an unknown run", nil, func(e *env, id uuid.UUID) error {
			_, err := e.tr.IncrementSubtask(e.ctx, unknown, 1, 1)
			return err
		}, tasktype.ErrNotFound, "subtask 1: increment: run {unknown}: not found"},
		{"complete an unknown run", nil, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Complete(e.ctx, unknown, "")
			return err
		}, tasktype.ErrNotFound, "complete: run {unknown}: not found"},
		{"update an unknown subtask", nil, func(e *env, id uuid.UUID) error {
			_, err := e.tr.UpdateSubtask(e.ctx, id, 2, pipeline.SubtaskUpdate{Percent: ptr(1.0)})
			return err
		}, tasktype.ErrNotFound, "run {run}: subtask 2: update: not found; start it first (subtask start)"},
		{"increment an unknown subtask", nil, increment(7, 1), tasktype.ErrNotFound,
			"run {run}: subtask 7: increment: not found; start it first (subtask start)"},
		{"complete an unknown subtask", nil, completeSub(3), tasktype.ErrNotFound,
			"run {run}: subtask 3: complete: not found; start it first (subtask start)"},
		{"fail an unknown subtask", nil, failSub(3), tasktype.ErrNotFound,
			"run {run}: subtask 3: fail: not found; start it first (subtask start)"},
		{"start a subtask of a finished run", []call{forceCompleteRun}, startSub(1, nil), tasktype.ErrTransitionNotAllowed,
			"subtask 1: start: run {run} is COMPLETED: cannot start a subtask; subtasks start while the run is STARTED or RUNNING"},
		{"start a subtask twice", []call{startSub(1, nil)}, startSub(1, nil), tasktype.ErrDuplicate,
			"run {run}: subtask 1: start: subtask 1 was started already; each number starts once per run"},
		{"increment a completed subtask", []call{startSub(1, nil), completeSub(1)}, increment(1, 1), tasktype.ErrTransitionNotAllowed,
			"run {run}: subtask 1: increment: subtask 1 is COMPLETED: cannot increment it; increments need STARTED or RUNNING"},
		{"update a completed run", []call{forceCompleteRun}, updateRun(5), tasktype.ErrTransitionNotAllowed,
			"update: run {run} is COMPLETED: cannot update it; updates need STARTED or RUNNING"},
		{"update a failed subtask", []call{startSub(1, nil), failSub(1)}, updateSub(1), tasktype.ErrTransitionNotAllowed,
			"run {run}: subtask 1: update: subtask 1 is FAILED: cannot update it; updates need STARTED or RUNNING"},
		{"complete with an open subtask", []call{startSub(1, nil)}, completeRun, tasktype.ErrTransitionNotAllowed,
			"run {run}: complete: cannot complete the run: subtask 1 (step 1) is STARTED; complete or fail them first"},
		{"fail without a message", nil, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Fail(e.ctx, id, "", "")
			return err
		}, tasktype.ErrValidation, "run {run}: fail: error_message: is required"},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.start(t, "STATIC", "Build Database", 0)
				for i, s := range c.setup {
					if err := s(e, r.ID); err != nil {
						t.Fatalf("setup %d: %v", i, err)
					}
				}
				err := c.call(e, r.ID)
				want := strings.NewReplacer("{run}", r.ID.String(), "{unknown}", unknown.String()).Replace(c.want)
				var re *pipeline.RunError
				if !errors.As(err, &re) || !errors.Is(err, c.is) || err.Error() != want {
					t.Fatalf("err = %v\nwant a *RunError, %v: %s", err, c.is, want)
				}
			})
		}
	})
}

// conflictingRuns is a run driver whose guarded updates always lose: each
// one is overtaken by an identical write just before it.
type conflictingRuns struct{ backends.Driver[storage.Run] }

func (d conflictingRuns) Update(ctx context.Context, from tasktype.Key, next *storage.Run) (bool, error) {
	if _, err := d.Driver.Update(ctx, from, next); err != nil {
		return false, err
	}
	return d.Driver.Update(ctx, from, next)
}

type conflictingStorage struct{ storage.Storage }

func (s conflictingStorage) Runs() backends.Driver[storage.Run] {
	return conflictingRuns{s.Storage.Runs()}
}

// TestRunConflictSaysRun: when a run changes under every attempt of a
// call, the store's conflict calls it a run, names it once and keeps the
// operation; it is still tasktype.ErrConflict.
func TestRunConflictSaysRun(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	if err := pipeline.New(st).Register(ctx, nil, seedTasks); err != nil {
		t.Fatal(err)
	}
	tr := pipeline.New(conflictingStorage{st}, pipeline.WithLogger(slog.New(slog.DiscardHandler)))
	r, err := tr.Start(ctx, "STATIC", "Build Database", pipeline.StartOptions{NoGitLookup: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Update(ctx, r.ID, pipeline.RunUpdate{Percent: ptr(1.0)}); err != nil { // STARTED → RUNNING, a transition
		t.Fatal(err)
	}
	_, err = tr.Update(ctx, r.ID, pipeline.RunUpdate{Percent: ptr(2.0)})
	now, rerr := tr.Run(ctx, r.ID)
	if rerr != nil {
		t.Fatal(rerr)
	}
	want := fmt.Sprintf("update: run %s is RUNNING at version %d now, not RUNNING at version %d as it was read: task changed concurrently",
		r.ID, now.Version, now.Version-1)
	var ce *backends.ConflictError
	if !errors.Is(err, tasktype.ErrConflict) || !errors.As(err, &ce) || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// conflictingSubtasks is a storage whose subtask updates always lose, as
// conflictingRuns' run updates do.
type conflictingSubtasks struct{ storage.Storage }

func (s conflictingSubtasks) Subtasks() backends.Driver[storage.Subtask] {
	return conflictingSubs{s.Storage.Subtasks()}
}

type conflictingSubs struct {
	backends.Driver[storage.Subtask]
}

func (d conflictingSubs) Update(ctx context.Context, from tasktype.Key, next *storage.Subtask) (bool, error) {
	if _, err := d.Driver.Update(ctx, from, next); err != nil {
		return false, err
	}
	return d.Driver.Update(ctx, from, next)
}

// TestSubtaskConflictSaysSubtask: when a subtask changes under every attempt
// of a call, the store's conflict calls it "the subtask" (the operation
// names it), not a task by a row id users never see.
func TestSubtaskConflictSaysSubtask(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	plain := pipeline.New(st)
	if err := plain.Register(ctx, nil, seedTasks); err != nil {
		t.Fatal(err)
	}
	r, err := plain.Start(ctx, "STATIC", "Build Database", pipeline.StartOptions{NoGitLookup: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.StartSubtask(ctx, r.ID, 1, pipeline.SubtaskStart{Name: "step 1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.UpdateSubtask(ctx, r.ID, 1, pipeline.SubtaskUpdate{Percent: ptr(1.0)}); err != nil {
		t.Fatal(err)
	}
	tr := pipeline.New(conflictingSubtasks{st}, pipeline.WithLogger(slog.New(slog.DiscardHandler)))
	_, err = tr.UpdateSubtask(ctx, r.ID, 1, pipeline.SubtaskUpdate{Percent: ptr(2.0)})
	want := regexp.MustCompile(`^run ` + r.ID.String() + `: subtask 1: update: the subtask is RUNNING at version \d+ now, not RUNNING at version \d+ as it was read: task changed concurrently$`)
	if !errors.Is(err, tasktype.ErrConflict) || err == nil || !want.MatchString(err.Error()) {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}
