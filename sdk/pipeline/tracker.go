package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Run is one execution of a registered task: the generated
// pipelinerun.PipelineRun.
type Run = storage.Run

// Subtask is one step within a run: the generated
// pipelinesubtask.PipelineSubtask.
type Subtask = storage.Subtask

// Stage is a registered pipeline stage.
type Stage = storage.Stage

// Task is a registered task within a stage.
type Task = storage.Task

// Tracker records pipeline runs in a storage.Storage. It is safe for
// concurrent use by any number of goroutines; several processes may share
// one database.
type Tracker struct {
	st   storage.Storage
	runs *backends.Store[Run, pipelinerun.Event, *Run]
	subs *backends.Store[Subtask, pipelinesubtask.Event, *Subtask]
	// runEng and subEng make the status moves (over runs and subs), so
	// that their observers and change streams see them; reads, creations
	// and progress without a move go to the stores.
	runEng *engine.Engine[Run, pipelinerun.Event, *Run]
	subEng *engine.Engine[Subtask, pipelinesubtask.Event, *Subtask]
	// runObs and subObs are the observers of WithObservers.
	runObs, subObs []engine.Observer
	now            func() time.Time
	log            *slog.Logger
	actor          string
}

// Option configures a Tracker.
type Option func(*Tracker)

// WithClock sets the clock (tests use a fake one). The default is time.Now.
func WithClock(now func() time.Time) Option { return func(t *Tracker) { t.now = now } }

// WithLogger sets where the tracking lines go. The default is slog.Default();
// a logger with a discarding handler silences them.
func WithLogger(l *slog.Logger) Option { return func(t *Tracker) { t.log = l } }

// WithActor sets the actor recorded in the history rows of the changes this
// tracker makes (a user or host name). The default is empty.
func WithActor(actor string) Option { return func(t *Tracker) { t.actor = actor } }

// WithObservers makes the tracker report every status change of a run to
// runs and of a subtask to subtasks, as an engine reports its moves
// (engine.WithObserver): a metrics.Set's Model(pipelinerun.Lifecycle()),
// say. Either may be nil; given more than once, every observer sees every
// move. taskmodel serve's server gives its lifecycle metrics this way
// (Tracker.Observed).
func WithObservers(runs, subtasks engine.Observer) Option {
	return func(t *Tracker) {
		if runs != nil {
			t.runObs = append(t.runObs, runs)
		}
		if subtasks != nil {
			t.subObs = append(t.subObs, subtasks)
		}
	}
}

// Observed returns a tracker like t (its storage, clock, logger and actor)
// that also reports its status changes to runs and subtasks (see
// WithObservers). Its engines are its own: their change streams
// (Engines) carry the changes made through it, not through t.
func (t *Tracker) Observed(runs, subtasks engine.Observer) *Tracker {
	c := *t
	c.runObs, c.subObs = append([]engine.Observer{}, t.runObs...), append([]engine.Observer{}, t.subObs...)
	WithObservers(runs, subtasks)(&c)
	c.build()
	return &c
}

// Engines returns the engines that make the tracker's status changes: a
// subscriber (engine.SubscribeLocal) sees each run's and subtask's moves
// made through this tracker, and the trackers As returns from it.
func (t *Tracker) Engines() (*engine.Engine[Run, pipelinerun.Event, *Run], *engine.Engine[Subtask, pipelinesubtask.Event, *Subtask]) {
	return t.runEng, t.subEng
}

// As returns a tracker that records actor in the history rows of the
// changes it makes, sharing t's storage, clock and logger: a server records
// each request's user this way. Closing either closes the storage.
func (t *Tracker) As(actor string) *Tracker {
	c := *t
	c.actor = actor
	return &c
}

// Actor returns the actor the tracker records (see WithActor and As).
func (t *Tracker) Actor() string { return t.actor }

// New returns a Tracker over st. Close closes st.
func New(st storage.Storage, opts ...Option) *Tracker {
	t := &Tracker{st: st, now: time.Now, log: slog.Default()}
	for _, o := range opts {
		o(t)
	}
	t.build()
	return t
}

// build makes the tracker's engines over its storage, with its clock and
// observers.
func (t *Tracker) build() {
	runOpts := []engine.Option{engine.WithClock(t.now)}
	for _, o := range t.runObs {
		runOpts = append(runOpts, engine.WithObserver(o))
	}
	subOpts := []engine.Option{engine.WithClock(t.now)}
	for _, o := range t.subObs {
		subOpts = append(subOpts, engine.WithObserver(o))
	}
	t.runEng = engine.New[Run, pipelinerun.Event](t.st.Runs(), runOpts...)
	t.subEng = engine.New[Subtask, pipelinesubtask.Event](t.st.Subtasks(), subOpts...)
	t.runs, t.subs = t.runEng.Store(), t.subEng.Store()
}

// Close releases the storage.
func (t *Tracker) Close() error { return t.st.Close() }

// Storage returns the tracker's storage.
func (t *Tracker) Storage() storage.Storage { return t.st }

// Now returns the tracker's clock reading (UTC, to the microsecond): the
// "now" of its estimates.
func (t *Tracker) Now() time.Time { return t.clock() }

func (t *Tracker) clock() time.Time { return t.now().UTC().Truncate(time.Microsecond) }

func (t *Tracker) meta(msg string) backends.Meta { return backends.Meta{Actor: t.actor, Message: msg} }

// maxAttempts bounds the read-decide-write loops that retry when another
// writer changed the same run or subtask in between.
const maxAttempts = 50

// retry runs f until it does not fail with tasktype.ErrConflict, waiting a
// short random while between attempts so that racing writers spread out.
func retry[T any](ctx context.Context, f func() (*T, error)) (*T, error) {
	for attempt := 1; ; attempt++ {
		x, err := f()
		if !errors.Is(err, tasktype.ErrConflict) || attempt == maxAttempts {
			return x, err
		}
		if err := pause(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// pause waits a short random while before another attempt (the longer the
// more attempts failed), or until ctx ends.
func pause(ctx context.Context, attempt int) error {
	wait := time.Duration(rand.Int64N(int64(min(attempt, 20)) * int64(time.Millisecond)))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
		return nil
	}
}

// getRun reads a run; an unknown id is a *NotFoundError.
func (t *Tracker) getRun(ctx context.Context, id uuid.UUID) (*Run, error) {
	r, err := t.runs.Get(ctx, id)
	if errors.Is(err, tasktype.ErrNotFound) {
		return nil, &NotFoundError{What: fmt.Sprintf("run %s", id), Run: id}
	}
	return r, err
}

// getSubtask reads subtask n of a run; unknown ones are a *NotFoundError
// that says whether the run exists.
func (t *Tracker) getSubtask(ctx context.Context, run uuid.UUID, n int64) (*Subtask, error) {
	s, err := t.st.Subtask(ctx, run, n)
	if errors.Is(err, tasktype.ErrNotFound) {
		if _, rerr := t.getRun(ctx, run); rerr != nil {
			return nil, rerr
		}
		return nil, &NotFoundError{What: fmt.Sprintf("subtask %d of run %s", n, run), Hint: "start it first (subtask start)", Run: run, Subtask: n}
	}
	return s, err
}
