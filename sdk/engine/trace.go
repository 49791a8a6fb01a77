package engine

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/sdk/internal/observe"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Tracer wraps an engine's writes in spans: package tracing is an
// OpenTelemetry one. An engine without one (the default) pays nothing for
// it. A task carries the W3C traceparent its creation's span returned
// (stored in the task row, migration 0010_traceparent), so that the spans
// of its later moves, in any process, continue the creator's trace.
//
// A Tracer that also implements worker.Tracer sees the pools' handler runs
// over the engine.
type Tracer interface {
	// StartCreate is called before a task of model is stored. It returns
	// the context the write runs in, the traceparent to store with the task
	// ("" for none), and end, which the engine calls with the stored task's
	// id or the error.
	StartCreate(ctx context.Context, model string) (context.Context, string, func(id uuid.UUID, err error))
	// StartMove is called before a task moves (Fire, FireFrom, and, after
	// the fact, the claims a driver made in SQL). end is called with the
	// status reached, or the error.
	StartMove(ctx context.Context, m TracedMove) (context.Context, func(to string, err error))
}

// TracedMove is a move a Tracer sees.
type TracedMove struct {
	Model string
	ID    uuid.UUID
	// Traceparent is the one the task was created with ("" for none).
	Traceparent string
	From, Event string
	// Operation is what the move is to a worker, as the OpenTelemetry
	// messaging conventions name it: "receive" for the worker section's
	// claim event, "settle" for its complete, fail and cancel events, ""
	// for any other event.
	Operation string
	// Start is when the move started, when it is reported after the fact
	// (a claim a driver made in SQL); zero for now.
	Start time.Time
	// Failure is set for the worker section's fail event, which fails the
	// task: a tracer marks the span failed even though the write
	// succeeded. nil for any other event.
	Failure *TracedFailure
}

// TracedFailure is the failure a fail event stores: the error code ("" for
// none) and the message, as the pool's handler, the worker over the HTTP
// protocol or the rescue of a lost task said them; a fail event fired
// otherwise (Fire) carries no code, and its history message.
type TracedFailure struct {
	Code, Message string
}

// WithTracer makes the engine trace its writes with t.
func WithTracer(t Tracer) Option { return func(o *options) { o.tracer = t } }

// tracerOf returns the engine's tracer; nil without one.
func (e *Engine[T, E, PT]) tracerOf() Tracer { return e.tracer }

// traced is a generated model's stored trace context.
type traced interface {
	Traceparent() string
	SetTraceparent(string)
}

// Traceparent returns the W3C traceparent x was created with, "" for none
// (or for a model that predates it).
func Traceparent[T any](x *T) string {
	if t, ok := any(x).(traced); ok {
		return t.Traceparent()
	}
	return ""
}

// ModelName returns the name of model T, "" for a model that predates its
// listing row.
func ModelName[T any]() string {
	if r, ok := any(new(T)).(interface{ ListRow() tasktype.Row }); ok {
		return r.ListRow().TaskType
	}
	return ""
}

// operation names a move by event for a tracer.
func (e *Engine[T, E, PT]) operation(ev string) string {
	switch w := e.worker; ev {
	case "":
		return ""
	case w.Claim:
		return "receive"
	case w.Complete, w.Fail, w.Cancel:
		return "settle"
	}
	return ""
}

// startCreate starts the tracing of a create of x (e.tracer is set, x is
// not nil) and returns the task to store: a copy of x that carries the
// span's traceparent, so that the caller's task is not written to, or x
// itself when there is none to carry.
func (e *Engine[T, E, PT]) startCreate(ctx context.Context, x *T) (context.Context, *T, func(id uuid.UUID, err error)) {
	ctx, tp, end := e.tracer.StartCreate(ctx, e.model)
	if _, ok := any(x).(traced); ok && tp != "" {
		c := *x
		any(&c).(traced).SetTraceparent(tp)
		x = &c
	}
	return ctx, x, end
}

// traceMove reports to the engine's tracer, if it has one, a move made
// without the engine (a claim a backends.Claimer made in SQL): x, a *T, as
// moved, from status from by event ev, started at start. sdk/worker calls
// it through observe.TraceMove.
func (e *Engine[T, E, PT]) traceMove(ctx context.Context, x any, from, ev string, start time.Time) {
	t, ok := x.(*T)
	if e.tracer == nil || !ok {
		return
	}
	_, end := e.tracer.StartMove(ctx, e.tracedMove(t, from, ev, start))
	end(PT(t).Key().Status, nil)
}

func (e *Engine[T, E, PT]) tracedMove(x *T, from, ev string, start time.Time) TracedMove {
	return TracedMove{Model: e.model, ID: PT(x).Key().ID, Traceparent: Traceparent(x), From: from, Event: ev, Operation: e.operation(ev), Start: start}
}

// tracedFailure is the failure of a move by ev fired in ctx with meta: nil
// unless ev is the worker section's fail event.
func (e *Engine[T, E, PT]) tracedFailure(ctx context.Context, ev string, meta Meta) *TracedFailure {
	if ev == "" || ev != e.worker.Fail {
		return nil
	}
	f, ok := observe.FailureOf(ctx)
	if !ok {
		f.Message = meta.Message
	}
	return &TracedFailure{Code: f.Code, Message: f.Message}
}
