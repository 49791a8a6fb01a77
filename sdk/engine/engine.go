package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Model is what the engine needs of a generated model struct: PT is *T.
type Model[T any, E ~string] interface {
	backends.Model[T, E]
	// ReportProgress sets the progress field from the status's mapping.
	ReportProgress(done float64) bool
}

// Meta describes a change for its history row: who made it and why.
type Meta = backends.Meta

// Engine runs the lifecycle of one model over one backend. It is a thin
// layer over backends.Store that adds progress, cancellation and a stream of
// changes; every method is safe for concurrent use.
type Engine[T any, E ~string, PT Model[T, E]] struct {
	store  *backends.Store[T, E, PT]
	worker tasktype.Worker
	bus    *bus[T]
	now    func() time.Time
	poll   time.Duration
	remote *remote // nil without WithChanges
	// observer sees the moves (WithObserver); nil for none.
	observer Observer
	// tracer traces the writes (WithTracer); nil for none. model is the
	// model's name, for it.
	tracer Tracer
	model  string
}

// Option configures an Engine.
type Option func(*options)

type options struct {
	store    []backends.Option
	worker   tasktype.Worker
	now      func() time.Time
	poll     time.Duration
	changes  backends.ChangeSource
	observer Observer
	tracer   Tracer
}

// WithClock sets the clock (tests use a fake one).
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now; o.store = append(o.store, backends.WithClock(now)) }
}

// WithIDs sets how new task ids are made (default: UUIDv7).
func WithIDs(newID func() uuid.UUID) Option {
	return func(o *options) { o.store = append(o.store, backends.WithIDs(newID)) }
}

// WithWorker gives the engine the model's worker section (the generated
// Worker variable): Cancel fires its cancel event.
func WithWorker(w tasktype.Worker) Option { return func(o *options) { o.worker = w } }

// WithPollInterval sets how often Watch reads a task to see changes made by
// other processes (default 500 ms; zero or a negative d keeps the default).
// With a change source (WithChanges) the read is a safety net for the
// changes the source misses, and can be rarer (the HTTP server uses 5 s).
func WithPollInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.poll = d
		}
	}
}

// New returns an Engine over driver. It panics when driver is nil, a
// mistake in the program rather than in its input.
func New[T any, E ~string, PT Model[T, E]](driver backends.Driver[T], opts ...Option) *Engine[T, E, PT] {
	if driver == nil {
		panic("engine.New: the driver is nil; open a backend (memory.New, a generated sqlitedb, pgdb or mysqldb driver) first")
	}
	o := options{now: time.Now, poll: 500 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	e := &Engine[T, E, PT]{
		store:    backends.NewStore[T, E, PT](driver, o.store...),
		worker:   o.worker,
		bus:      newBus[T](),
		now:      o.now,
		poll:     o.poll,
		observer: o.observer,
		tracer:   o.tracer,
	}
	if e.tracer != nil {
		e.model = ModelName[T]()
	}
	if o.changes != nil {
		e.remote = &remote{src: o.changes}
		e.bus.last = &delivered{}
	}
	return e
}

// Store returns the engine's store.
func (e *Engine[T, E, PT]) Store() *backends.Store[T, E, PT] { return e.store }

// Worker returns the worker section the engine was given (zero if none).
func (e *Engine[T, E, PT]) Worker() tasktype.Worker { return e.worker }

// Now returns the engine's clock reading.
func (e *Engine[T, E, PT]) Now() time.Time { return e.now() }

// Create validates task and stores it in the initial status, with its first
// history row; it returns the stored task.
func (e *Engine[T, E, PT]) Create(ctx context.Context, task *T, meta Meta) (*T, error) {
	if task == nil {
		return nil, backends.ErrNilTask
	}
	if e.tracer != nil {
		var end func(uuid.UUID, error)
		ctx, task, end = e.startCreate(ctx, task)
		x, err := e.create(ctx, task, meta)
		if err != nil {
			end(uuid.Nil, err)
		} else {
			end(PT(x).Key().ID, nil)
		}
		return x, err
	}
	return e.create(ctx, task, meta)
}

func (e *Engine[T, E, PT]) create(ctx context.Context, task *T, meta Meta) (*T, error) {
	x, err := e.store.Create(ctx, task, meta)
	if err != nil {
		return nil, err
	}
	e.publish(x, "", "")
	return x, nil
}

// CreateMany validates every task, then stores them all in the initial
// status with their first history rows, or none (backends.Store.CreateMany):
// a bulk create costs one statement and one commit on PostgreSQL. A
// validation error names the task's index. It returns the stored tasks in
// order. The engine's driver must be a backends.BatchInserter, as every
// driver of this module is (a wrapping driver must forward InsertMany);
// with another, it writes nothing and says so.
func (e *Engine[T, E, PT]) CreateMany(ctx context.Context, tasks []*T, meta Meta) ([]*T, error) {
	var ends []func(uuid.UUID, error) // the creates' spans
	if e.tracer != nil {
		// One span per task, each carried by a copy of its task; the one
		// write has no span of its own. A nil task gets none: the store
		// names its index.
		ends = make([]func(uuid.UUID, error), len(tasks))
		tasks = slices.Clone(tasks)
		for i, x := range tasks {
			if x != nil {
				_, tasks[i], ends[i] = e.startCreate(ctx, x)
			}
		}
	}
	xs, err := e.store.CreateMany(ctx, tasks, meta)
	for i, end := range ends {
		switch {
		case end == nil:
		case err != nil:
			end(uuid.Nil, err)
		default:
			end(PT(xs[i]).Key().ID, nil)
		}
	}
	if err != nil {
		return nil, err
	}
	for _, x := range xs {
		e.publish(x, "", "")
	}
	return xs, nil
}

// Get reads a task; tasktype.ErrNotFound if there is none.
func (e *Engine[T, E, PT]) Get(ctx context.Context, id uuid.UUID) (*T, error) {
	return e.store.Get(ctx, id)
}

// History returns a task's status changes, oldest first.
func (e *Engine[T, E, PT]) History(ctx context.Context, id uuid.UUID) ([]backends.History, error) {
	return e.store.History(ctx, id)
}

// maxFireTries bounds the reads of a Fire whose write lost a race with
// another change of the same task.
const maxFireTries = 8

// Fire reads the task and fires ev on it: mutate, if not nil, sets the
// fields the event carries (FAILED's error code and message) before the
// lifecycle, the required fields and every limit of the spec are checked.
// A move the lifecycle forbids is the model's *TransitionError; a missing
// required field a *tasktype.FieldError.
//
// Another change of the task between the read and the write (a worker's
// progress, another request) is retried on a fresh read, so mutate may run
// more than once: while the task allows ev, up to 8 reads, and when it no
// longer does, the answer is the *TransitionError of the status it has
// now, as if the changes had not overlapped. A task that changed at every
// read is tasktype.ErrConflict (a *backends.ConflictError).
func (e *Engine[T, E, PT]) Fire(ctx context.Context, id uuid.UUID, ev E, mutate func(*T), meta Meta) (*T, error) {
	for try := 1; ; try++ {
		cur, err := e.store.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		x, err := e.FireFrom(ctx, cur, ev, mutate, meta)
		var lost *backends.ConflictError
		switch {
		case !errors.As(err, &lost):
			return x, err
		case lost.Refused != nil:
			return nil, lost.Refused
		case try == maxFireTries:
			return nil, err
		}
	}
}

// FireFrom is Fire on a task the caller has read: guarded by the status and
// version it was read with, without another read or a retry. When another
// change came first, the error is a *backends.ConflictError
// (tasktype.ErrConflict); if the event is no longer possible from the
// task's status now, the model's *TransitionError is inside it (errors.As
// finds it, and errors.Is matches tasktype.ErrTransitionNotAllowed too).
func (e *Engine[T, E, PT]) FireFrom(ctx context.Context, cur *T, ev E, mutate func(*T), meta Meta) (*T, error) {
	if cur == nil {
		return nil, backends.ErrNilTask
	}
	if e.tracer != nil {
		var end func(string, error)
		m := e.tracedMove(cur, PT(cur).Key().Status, string(ev), time.Time{})
		m.Failure = e.tracedFailure(ctx, string(ev), meta)
		ctx, end = e.tracer.StartMove(ctx, m)
		x, err := e.fireFrom(ctx, cur, ev, mutate, meta)
		if err != nil {
			end("", err)
		} else {
			end(PT(x).Key().Status, nil)
		}
		return x, err
	}
	return e.fireFrom(ctx, cur, ev, mutate, meta)
}

func (e *Engine[T, E, PT]) fireFrom(ctx context.Context, cur *T, ev E, mutate func(*T), meta Meta) (*T, error) {
	k := PT(cur).Key()
	from := k.Status
	defer e.writing(k.ID, k.Version+1)()
	x, err := e.store.FireFrom(ctx, cur, ev, mutate, meta)
	if err != nil {
		return nil, err
	}
	e.publish(x, from, string(ev))
	if e.observer != nil {
		e.observeFire(cur, x, ev)
	}
	return x, nil
}

// Cancel fires the worker section's cancel event (analysis: PROCESSING →
// CANCELLED). A worker running the task sees its handler's context cancelled
// within its cancel check interval, in this process or another. Cancelling
// a task the lifecycle does not let go (a terminal one) is the model's
// *TransitionError, which names the status.
func (e *Engine[T, E, PT]) Cancel(ctx context.Context, id uuid.UUID, meta Meta) (*T, error) {
	if e.worker.Cancel == "" {
		return nil, errors.New("engine: the model's worker section names no cancel event (engine.WithWorker)")
	}
	x, err := e.Fire(ctx, id, E(e.worker.Cancel), nil, meta)
	var lost *backends.ConflictError
	switch {
	case errors.As(err, &lost):
		return nil, fmt.Errorf("cancel: %w", err) // it names the task
	case err != nil:
		return nil, fmt.Errorf("cancel task %s: %w", id, err)
	}
	return x, nil
}

// maxProgressTries bounds the re-reads of a progress update that lost a race
// with another change of the same task.
const maxProgressTries = 8

// Progress records how far the task's work is: done is the fraction done,
// 0 to 1, which the status's progress mapping turns into the task's percent
// (analysis's PROCESSING: 15 + 80 × done); detail, if not nil, sets further
// fields (a typed progress detail). The status does not change. A report
// with no detail that changes nothing (the status's progress is fixed, or
// the percent is the one stored) writes nothing and returns the task as
// read. A status
// that maps no progress, with no detail, is a *tasktype.FieldError; a task
// in a terminal status is a conflict (tasktype.ErrConflict).
// Concurrent changes are retried on a fresh read, up to 8 reads; a status
// change in between, or a task that changed at every read (many writers of
// one task at once), is a conflict (tasktype.ErrConflict), which the caller
// may retry.
func (e *Engine[T, E, PT]) Progress(ctx context.Context, id uuid.UUID, done float64, detail func(*T)) (*T, error) {
	if err := checkDone(done); err != nil {
		return nil, err
	}
	var status string // the status of the first read: progress never crosses a status change
	for try := 0; ; try++ {
		cur, err := e.store.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if k := PT(cur).Key(); status == "" {
			status = k.Status
		} else if k.Status != status {
			return nil, fmt.Errorf("task %s moved from %s to %s: %w", id, status, k.Status, tasktype.ErrConflict)
		}
		x, err := e.ProgressFrom(ctx, cur, done, detail)
		if errors.Is(err, tasktype.ErrConflict) && try < maxProgressTries {
			continue
		}
		return x, err
	}
}

// ProgressFrom is Progress on a task the caller has read, guarded by the
// version it was read with (a worker holds the latest copy of its task).
func (e *Engine[T, E, PT]) ProgressFrom(ctx context.Context, cur *T, done float64, detail func(*T)) (*T, error) {
	if err := checkDone(done); err != nil {
		return nil, err
	}
	if f, ok := any(cur).(interface{ IsFinished() bool }); ok && f.IsFinished() {
		// A finished task makes no progress: a late report (a handler
		// that went on after its task was cancelled) must not rewrite it.
		k := PT(cur).Key()
		return nil, fmt.Errorf("task %s is in %s, a terminal status: progress is recorded only while a task is unfinished: %w", k.ID, k.Status, tasktype.ErrConflict)
	}
	if detail == nil {
		probe := *cur
		if !PT(&probe).ReportProgress(done) {
			return nil, &tasktype.FieldError{Field: "progress", Rule: "mapping", Message: fmt.Sprintf("status %s maps no progress in the spec, and no detail was given", PT(cur).Key().Status)}
		}
		if reflect.DeepEqual(probe, *cur) {
			// Nothing to record (the status's progress is fixed, or the
			// percent is the one stored): no write, and no new version
			// for a concurrent event to conflict with.
			return &probe, nil
		}
	}
	k := PT(cur).Key()
	defer e.writing(k.ID, k.Version+1)()
	x, err := e.store.Update(ctx, cur, func(x *T) {
		PT(x).ReportProgress(done)
		if detail != nil {
			detail(x)
		}
	})
	if err != nil {
		return nil, err
	}
	e.publish(x, PT(cur).Key().Status, "")
	return x, nil
}

// checkDone checks a fraction of work done.
func checkDone(done float64) error {
	if math.IsNaN(done) || done < 0 || done > 1 {
		return &tasktype.FieldError{Field: "done", Rule: "range", Value: fmt.Sprint(done), Message: fmt.Sprintf("must be a fraction from 0 to 1, not %v", done)}
	}
	return nil
}
