package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/internal/sdktest"
	"github.com/taskmodel/taskmodel/tasktype"
)

// raceDriver runs before, once, right before the next guarded transition:
// another writer's change landing between the engine's read and its write.
type raceDriver struct {
	backends.Driver[analysis.Task]
	before func()
}

func (d *raceDriver) Transition(ctx context.Context, from tasktype.Key, next *analysis.Task, h backends.History) (bool, error) {
	if f := d.before; f != nil {
		d.before = nil
		f()
	}
	return d.Driver.Transition(ctx, from, next, h)
}

func processing(t *testing.T, e *Engine) *analysis.Task {
	t.Helper()
	x, err := e.Create(ctx, sdktest.NewTask(), engine.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	return mustFire(t, e, x, analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart)
}

// TestLostRace: a change that lands between a read and its guarded write.
// Fire and Cancel read again and retry while the event is still possible,
// and answer the transition error of the status the task has now when it
// is not; FireFrom, guarded by the caller's read, does not retry, and its
// conflict holds that transition error.
func TestLostRace(t *testing.T) {
	progress := func(e *Engine, id uuid.UUID) error { _, err := e.Progress(ctx, id, 0.5, nil); return err }
	complete := func(e *Engine, id uuid.UUID) error {
		_, err := e.Fire(ctx, id, analysis.EventComplete, nil, engine.Meta{})
		return err
	}
	cancel := func(e *Engine, x *analysis.Task) (*analysis.Task, error) {
		return e.Cancel(ctx, x.ID, engine.Meta{Actor: "user"})
	}
	fireFrom := func(e *Engine, x *analysis.Task) (*analysis.Task, error) {
		return e.FireFrom(ctx, x, analysis.EventCancel, nil, engine.Meta{Actor: "user"})
	}
	cases := []struct {
		name     string
		other    func(*Engine, uuid.UUID) error
		call     func(*Engine, *analysis.Task) (*analysis.Task, error)
		want     analysis.Status // "" for an error
		conflict bool            // the error is tasktype.ErrConflict
		msg      string
	}{
		{"Cancel after a progress update", progress, cancel, analysis.StatusCancelled, false, ""},
		{"Cancel after a complete", complete, cancel, "", false,
			`cancel task %s: event "cancel" is not allowed from status COMPLETED; it is terminal, no event is allowed`},
		{"FireFrom after a progress update", progress, fireFrom, "", true,
			"task %s is PROCESSING at version 5 now, not PROCESSING at version 4 as it was read: task changed concurrently"},
		{"FireFrom after a complete", complete, fireFrom, "", true,
			`task %s moved from PROCESSING to COMPLETED while this change was written: event "cancel" is not allowed from status COMPLETED; it is terminal, no event is allowed`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &raceDriver{Driver: memory.New[analysis.Task, *analysis.Task]()}
			e := newEngine(d, backendtest.NewClock())
			x := processing(t, e)
			d.before = func() {
				if err := c.other(e, x.ID); err != nil {
					t.Errorf("the other change: %v", err)
				}
			}
			got, err := c.call(e, x)
			if c.want != "" {
				if err != nil || got.Status != c.want {
					t.Fatalf("got %v, %v; want %s", got, err, c.want)
				}
				return
			}
			if want := strings.ReplaceAll(c.msg, "%s", x.ID.String()); err == nil || err.Error() != want {
				t.Fatalf("error %v\nwant  %s", err, want)
			}
			if errors.Is(err, tasktype.ErrConflict) != c.conflict {
				t.Errorf("errors.Is(err, ErrConflict) = %v, want %v", !c.conflict, c.conflict)
			}
			var te tasktype.TransitionInfoer
			if refused := strings.Contains(c.msg, "not allowed"); errors.As(err, &te) != refused || errors.Is(err, tasktype.ErrTransitionNotAllowed) != refused {
				t.Errorf("transition error found: %v, want %v", !refused, refused)
			}
		})
	}
}

// TestFireGivesUpOnATaskThatAlwaysChanges: a task that another writer
// changes before every write is a conflict after eight reads.
func TestFireGivesUpOnATaskThatAlwaysChanges(t *testing.T) {
	d := &raceDriver{Driver: memory.New[analysis.Task, *analysis.Task]()}
	e := newEngine(d, backendtest.NewClock())
	x := processing(t, e)
	tries := 0
	var again func()
	again = func() {
		tries++
		d.before = nil
		// A new percent each time: a report of the stored one writes nothing.
		if _, err := e.Progress(ctx, x.ID, float64(tries)/10, nil); err != nil {
			t.Errorf("progress: %v", err)
		}
		d.before = again
	}
	d.before = again
	_, err := e.Cancel(ctx, x.ID, engine.Meta{})
	d.before = nil
	var lost *backends.ConflictError
	if !errors.As(err, &lost) || lost.Refused != nil || tries != 8 {
		t.Fatalf("after %d tries: %v", tries, err)
	}
	if !strings.HasPrefix(err.Error(), "cancel: task "+x.ID.String()+" is PROCESSING at version") {
		t.Errorf("the message names the task once: %v", err)
	}
}

type fixedTracer struct{}

const fixedTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

func (fixedTracer) StartCreate(ctx context.Context, model string) (context.Context, string, func(uuid.UUID, error)) {
	return ctx, fixedTraceparent, func(uuid.UUID, error) {}
}

func (fixedTracer) StartMove(ctx context.Context, m engine.TracedMove) (context.Context, func(string, error)) {
	return ctx, func(string, error) {}
}

// TestTracedCreates: with a tracer, the stored tasks carry the
// traceparent, the caller's tasks are not written to, and a nil task in
// CreateMany is named by its index as without one.
func TestTracedCreates(t *testing.T) {
	e := engine.New[analysis.Task, analysis.Event](memory.New[analysis.Task, *analysis.Task](), engine.WithTracer(fixedTracer{}))
	in := sdktest.NewTask()
	x, err := e.Create(ctx, in, engine.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	many := []*analysis.Task{sdktest.NewTask()}
	xs, err := e.CreateMany(ctx, many, engine.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		task      *analysis.Task
		wantTrace string
	}{
		{"stored by Create", x, fixedTraceparent},
		{"stored by CreateMany", xs[0], fixedTraceparent},
		{"the caller's, given to Create", in, ""},
		{"the caller's, given to CreateMany", many[0], ""},
	} {
		if got := engine.Traceparent(c.task); got != c.wantTrace {
			t.Errorf("%s: traceparent %q, want %q", c.name, got, c.wantTrace)
		}
	}
	_, err = e.CreateMany(ctx, []*analysis.Task{sdktest.NewTask(), nil}, engine.Meta{})
	if err == nil || !strings.Contains(err.Error(), "tasks[1]") {
		t.Errorf("CreateMany with a nil task: %v, want an error naming tasks[1]", err)
	}
}
