package pipeline_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/tasktype"
)

// hookStorage runs a function once at one instant of another call, to put
// a second writer between a call's read and its write deterministically.
type hookStorage struct {
	storage.Storage
	// beforeSubInsert runs once, just before a subtask is inserted: between
	// StartSubtask's read of the run and its writes.
	beforeSubInsert func()
	// afterSubInsert runs once, just after a subtask is inserted: its row
	// is there, NOT_STARTED, and its start event not yet fired.
	afterSubInsert func()
	// afterSubtasksOf runs once, just after the subtasks of a run are read
	// (and before they are returned): between a finishing call's check of
	// the subtasks and the run's move.
	afterSubtasksOf func()
	insertOnce      sync.Once
	afterInsertOnce sync.Once
	listOnce        sync.Once
}

func (h *hookStorage) Subtasks() backends.Driver[storage.Subtask] {
	return hookSubs{h.Storage.Subtasks(), h}
}

func (h *hookStorage) SubtasksOf(ctx context.Context, run uuid.UUID) ([]*storage.Subtask, error) {
	subs, err := h.Storage.SubtasksOf(ctx, run)
	if h.afterSubtasksOf != nil {
		h.listOnce.Do(h.afterSubtasksOf)
	}
	return subs, err
}

type hookSubs struct {
	backends.Driver[storage.Subtask]
	h *hookStorage
}

func (d hookSubs) Insert(ctx context.Context, s *storage.Subtask, hist backends.History) error {
	if d.h.beforeSubInsert != nil {
		d.h.insertOnce.Do(d.h.beforeSubInsert)
	}
	err := d.Driver.Insert(ctx, s, hist)
	if err == nil && d.h.afterSubInsert != nil {
		d.h.afterInsertOnce.Do(d.h.afterSubInsert)
	}
	return err
}

// hooked returns a tracker over e's storage wrapped in a hookStorage.
func hooked(e *env) (*pipeline.Tracker, *hookStorage) {
	hs := &hookStorage{Storage: e.st}
	return pipeline.New(hs, pipeline.WithClock(e.clock.Now), pipeline.WithActor("test"),
		pipeline.WithLogger(slog.New(slog.NewTextHandler(e.logs, nil)))), hs
}

// finishCalls are the calls that finish a run, with the status each leaves
// the run in and the one each moves an unfinished subtask to ("" when the
// call refuses while a subtask is unfinished, or cannot follow a started
// subtask).
var finishCalls = []struct {
	name      string
	call      func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID) error
	status    pipelinerun.Status
	subStatus pipelinesubtask.Status
	// refusedOpen is the error while a subtask is open (RUNNING run).
	refusedOpen error
}{
	{"complete", func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID) error {
		_, err := tr.Complete(ctx, id, "done")
		return err
	}, pipelinerun.StatusCompleted, "", tasktype.ErrTransitionNotAllowed},
	{"complete by force", func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID) error {
		_, err := tr.CompleteWith(ctx, id, "done", pipeline.CompleteOptions{Force: true})
		return err
	}, pipelinerun.StatusCompleted, pipelinesubtask.StatusCancelled, nil},
	{"fail", func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID) error {
		_, err := tr.Fail(ctx, id, "boom", "")
		return err
	}, pipelinerun.StatusFailed, pipelinesubtask.StatusFailed, nil},
	{"cancel", func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID) error {
		_, err := tr.Cancel(ctx, id, "stop")
		return err
	}, pipelinerun.StatusCancelled, pipelinesubtask.StatusCancelled, nil},
	{"skip", func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID) error {
		_, err := tr.Skip(ctx, id, "nothing to do")
		return err
	}, pipelinerun.StatusSkipped, "", tasktype.ErrTransitionNotAllowed},
}

// checkNoOpenSubtaskUnderFinishedRun fails when the run is finished but one
// of its subtasks is still STARTED or RUNNING.
func checkNoOpenSubtaskUnderFinishedRun(t *testing.T, e *env, id uuid.UUID) (*pipeline.Run, []*pipeline.Subtask) {
	t.Helper()
	run, err := e.tr.Run(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := e.tr.Subtasks(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status.IsTerminal() {
		for _, s := range subs {
			if !s.Status.IsTerminal() {
				t.Errorf("run is %s but subtask %d is %s", run.Status, s.SubtaskNumber, s.Status)
			}
		}
	}
	return run, subs
}

// TestStartSubtaskWhileTheRunFinishes: a run finished between StartSubtask's
// read of the run and its insert, or between its insert and its start
// event, refuses the subtask as it refuses one of a finished run, and keeps
// no trace of it; starting it again says the same, not that it was started
// already. The finishing call does not see the subtask being started.
func TestStartSubtaskWhileTheRunFinishes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		for _, c := range finishCalls {
			for _, at := range []string{"before the insert", "after the insert"} {
				t.Run(c.name+" "+at, func(t *testing.T) {
					r := e.start(t, "STATIC", "Build Database", 0)
					tr, hs := hooked(e)
					finish := func() {
						if err := c.call(e.ctx, e.tr, r.ID); err != nil {
							t.Errorf("%s: %v", c.name, err)
						}
					}
					if at == "before the insert" {
						hs.beforeSubInsert = finish
					} else {
						hs.afterSubInsert = finish
					}
					want := "subtask 1: start: run " + r.ID.String() + " is " + string(c.status) +
						": cannot start a subtask; subtasks start while the run is STARTED or RUNNING"
					for _, try := range []string{"racing", "again"} {
						_, err := tr.StartSubtask(e.ctx, r.ID, 1, pipeline.SubtaskStart{Name: "late"})
						var se *pipeline.StateError
						if !errors.As(err, &se) || !errors.Is(err, tasktype.ErrTransitionNotAllowed) || err.Error() != want {
							t.Errorf("StartSubtask (%s) = %v\nwant a *StateError %q", try, err, want)
						}
					}
					run, subs := checkNoOpenSubtaskUnderFinishedRun(t, e, r.ID)
					if run.Status != c.status || len(subs) != 0 {
						t.Errorf("run is %s with %d subtasks, want %s with none", run.Status, len(subs), c.status)
					}
				})
			}
		}
	})
}

// TestFinishRechecksWhenASubtaskStarts: a subtask started between a
// finishing call's check of the subtasks and the run's move makes the call
// check again, so that it sees the subtask: completion refuses, failure and
// cancellation take it with the run, skip finds the run RUNNING.
func TestFinishRechecksWhenASubtaskStarts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		for _, c := range finishCalls {
			t.Run(c.name, func(t *testing.T) {
				r := e.start(t, "STATIC", "Build Database", 0)
				tr, hs := hooked(e)
				hs.afterSubtasksOf = func() {
					if _, err := e.tr.StartSubtask(e.ctx, r.ID, 1, pipeline.SubtaskStart{Name: "early"}); err != nil {
						t.Errorf("StartSubtask: %v", err)
					}
				}
				err := c.call(e.ctx, tr, r.ID)
				if c.refusedOpen != nil {
					if !errors.Is(err, c.refusedOpen) {
						t.Fatalf("%s = %v, want %v", c.name, err, c.refusedOpen)
					}
				} else if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				run, subs := checkNoOpenSubtaskUnderFinishedRun(t, e, r.ID)
				wantRun, wantSub := c.status, c.subStatus
				if c.refusedOpen != nil {
					wantRun, wantSub = pipelinerun.StatusRunning, pipelinesubtask.StatusStarted
				}
				if run.Status != wantRun || len(subs) != 1 || subs[0].Status != wantSub {
					var got []string
					for _, s := range subs {
						got = append(got, string(s.Status))
					}
					t.Errorf("run is %s with subtasks [%s], want %s with [%s]", run.Status, strings.Join(got, " "), wantRun, wantSub)
				}
			})
		}
	})
}
