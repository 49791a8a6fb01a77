package engine

import (
	"time"

	"github.com/google/uuid"
)

// Observer sees the moves an engine makes, for metrics: package metrics is a
// Prometheus one. Its methods run on the writer's goroutine after the write
// committed, so they must be quick and safe for concurrent use. An engine
// without one (the default) pays nothing for it.
//
// An Observer that also implements worker.Observer sees the worker pools'
// and the HTTP worker protocol's claims and ends over the engine
// (sdk/worker finds it through Engine.Observer).
type Observer interface {
	// Moved is called once for every status change the engine made: Fire,
	// FireFrom, and the claims a driver made in SQL (Observe).
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
		if o == nil {
			return
		}
		if opt.observer == nil {
			opt.observer = o
			return
		}
		opt.observer = observers{opt.observer, o}
	}
}

// observers is several Observers as one.
type observers []Observer

func (os observers) Moved(m Move) {
	for _, o := range os {
		o.Moved(m)
	}
}

// Observer returns the engine's observer: nil without one, and several
// given to WithObserver as one value, whose Observers method lists them.
func (e *Engine[T, E, PT]) Observer() Observer { return e.observer }

// Observers lists the observers of an Observer made of several (what
// Engine.Observer returns when WithObserver was given more than once);
// for another it is o alone, and nothing for nil.
func Observers(o Observer) []Observer {
	switch o := o.(type) {
	case nil:
		return nil
	case observers:
		var out []Observer
		for _, x := range o {
			out = append(out, Observers(x)...)
		}
		return out
	}
	return []Observer{o}
}

// Observe reports m to the engine's observer, if it has one: sdk/worker
// calls it for the claims a backends.Claimer made in SQL, which the engine
// did not see.
func (e *Engine[T, E, PT]) Observe(m Move) {
	if e.observer != nil {
		e.observer.Moved(m)
	}
}

// Observing reports whether the engine has an observer.
func (e *Engine[T, E, PT]) Observing() bool { return e.observer != nil }

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
