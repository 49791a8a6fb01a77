package engine

import (
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/sdk/internal/observe"
)

// Observer sees the moves an engine makes, for metrics: package metrics is a
// Prometheus one. Its methods run on the writer's goroutine after the write
// committed, so they must be quick and safe for concurrent use. An engine
// without one (the default) pays nothing for it.
//
// An Observer that also implements worker.Observer sees the worker pools'
// and the HTTP worker protocol's claims and ends over the engine.
type Observer interface {
	// Moved is called once for every status change the engine made: Fire,
	// FireFrom, and the claims a driver made in SQL (which sdk/worker
	// reports).
	Moved(m Move)
}

// Move is one status change of a task.
type Move struct {
	ID              uuid.UUID
	From, Event, To string
	// At is when the task moved (the time its row was stamped with).
	At time.Time
	// Entered is when the task entered From, as its row told (see
	// EnteredAt); zero when the row does not tell.
	Entered time.Time
}

// InStatus is how long the task stayed in From: At − Entered, and false when
// Entered is unknown.
func (m Move) InStatus() (time.Duration, bool) {
	if m.Entered.IsZero() {
		return 0, false
	}
	return max(m.At.Sub(m.Entered), 0), true
}

// WithObserver makes the engine report its moves to o; given more than once,
// every observer sees every move, in the order given.
func WithObserver(o Observer) Option {
	return func(opt *options) {
		if o != nil {
			opt.observer = observe.Join[Move](opt.observer, o)
		}
	}
}

// observerOf returns the engine's observer: nil without one, and several
// given to WithObserver as one value (observe.Each lists them).
func (e *Engine[T, E, PT]) observerOf() Observer { return e.observer }

// init gives sdk/worker, through sdk/internal/observe, the observer of an
// engine: it reports the claims a backends.Claimer made in SQL, which the
// engine did not see, and finds the observers that also implement
// worker.Observer.
func init() {
	observe.Of = func(eng any) any {
		if e, ok := eng.(interface{ observerOf() Observer }); ok {
			if o := e.observerOf(); o != nil {
				return o
			}
		}
		return nil
	}
}

// enteredAt is a generated model's EnteredAt (when the task entered a
// status, as its row tells).
type enteredAt interface {
	EnteredAt(status string) (at time.Time, exact bool)
}

// EnteredAt returns when x entered status, as its row tells: the status's
// entry timestamp when the spec names one (exact), else updated_at while x
// is in status; zero when the row does not tell (or the model predates the
// generated EnteredAt method).
func EnteredAt[T any](x *T, status string) (at time.Time, exact bool) {
	if m, ok := any(x).(enteredAt); ok {
		return m.EnteredAt(status)
	}
	return time.Time{}, false
}

// observeFire reports a move made by FireFrom: cur as read, x as written.
func (e *Engine[T, E, PT]) observeFire(cur, x *T, ev E) {
	from, to := PT(cur).Key().Status, PT(x).Key().Status
	entered, _ := EnteredAt(cur, from)
	at, _ := EnteredAt(x, to)
	e.observer.Moved(Move{ID: PT(x).Key().ID, From: from, Event: string(ev), To: to, At: at, Entered: entered})
}
