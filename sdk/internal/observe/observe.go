// Package observe is what package engine shares with the module's other
// packages about an engine's observers and tracer, without exporting it to
// users: a user gives an engine its observers (engine.WithObserver) and
// tracer (engine.WithTracer); sdk/worker reads them here, to report the
// claims a driver made in SQL and to find the observers and tracer that
// also see the handlers' runs (worker.Observer, worker.Tracer).
package observe

import (
	"context"
	"time"
)

// Mover is an observer of moves of type M: engine.Observer is
// Mover[engine.Move].
type Mover[M any] interface {
	Moved(m M)
}

// many is several observers as one: each sees every move, in order.
type many[M any] []Mover[M]

func (ms many[M]) Moved(m M) {
	for _, o := range ms {
		o.Moved(m)
	}
}

// Join returns a and b as one observer, which Each takes apart again; a
// nil one is left out.
func Join[M any](a, b Mover[M]) Mover[M] {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return many[M](append(Each(a), Each(b)...))
}

// Each lists the observers o was joined from (Join), o alone for another,
// and none for nil.
func Each[M any](o Mover[M]) []Mover[M] {
	switch o := o.(type) {
	case nil:
		return nil
	case many[M]:
		return append([]Mover[M](nil), o...)
	}
	return []Mover[M]{o}
}

// Of returns the observer of eng, an *engine.Engine, as an engine.Observer
// in an any (nil when it has none). Package engine sets it when it is
// initialized.
var Of func(eng any) any

// TracerOf returns the tracer of eng, an *engine.Engine, as an
// engine.Tracer in an any (nil when it has none). Package engine sets it
// when it is initialized.
var TracerOf func(eng any) any

// TraceMove reports to the tracer of eng, an *engine.Engine[T, E, PT], a
// move made without the engine (a claim a driver made in SQL): x, a *T, as
// moved, from status from by event ev, started at start. Package engine
// sets it when it is initialized.
var TraceMove func(ctx context.Context, eng any, x any, from, ev string, start time.Time)

// failureKey is the context key of WithFailure.
type failureKey struct{}

// Failure is the failure a task is failed with by the worker section's
// fail event: the error code stored ("" for none) and the message.
type Failure struct {
	Code, Message string
}

// WithFailure returns ctx carrying f, for the tracer of the fail event that
// sdk/worker fires in it (a pool's handler outcome, a worker's report over
// HTTP): the engine gives it to the tracer with the move.
func WithFailure(ctx context.Context, f Failure) context.Context {
	return context.WithValue(ctx, failureKey{}, f)
}

// FailureOf returns the failure ctx carries (WithFailure).
func FailureOf(ctx context.Context) (Failure, bool) {
	f, ok := ctx.Value(failureKey{}).(Failure)
	return f, ok
}
