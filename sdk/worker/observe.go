package worker

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/internal/observe"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Observer sees how the handlers of a model's tasks end, for metrics: give
// the engine an engine.Observer that also implements Observer
// (engine.WithObserver), and the pools and the HTTP worker protocol over
// that engine report to it. Its method runs on the worker's goroutine after
// the task's final write: it must be quick and safe for concurrent use.
//
// The claims themselves are engine moves (engine.Observer's Moved, with the
// worker section's claim event): their time in the queue is the pickup
// latency.
type Observer interface {
	// Finished is called once a handler's outcome ended a claimed task
	// (Leases.Finish: the complete or the fail event), not when a rescue
	// failed it.
	Finished(o Outcome)
}

// Outcome is how one claimed task ended.
type Outcome struct {
	ID uuid.UUID
	// Ran is the time from the claim to the end event: from the task's
	// entry into the running status (its entry timestamp, which the claim
	// sets) to the time the end event stamped; Known is false when the
	// task's row does not tell when it entered the running status.
	Ran   time.Duration
	Known bool
	// Failed: the fail event ended it, with error code Code; else the
	// complete event did.
	Failed bool
	Code   string
}

// engineObserver returns the observer given to eng (engine.WithObserver),
// nil for none.
func engineObserver(eng any) engine.Observer {
	o, _ := observe.Of(eng).(engine.Observer)
	return o
}

// workerObserver returns the engine observers that implement Observer, as
// one (nil for none).
func workerObserver(o engine.Observer) Observer {
	var out observers
	for _, x := range observe.Each[engine.Move](o) {
		if w, ok := x.(Observer); ok {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

type observers []Observer

func (os observers) Finished(o Outcome) {
	for _, x := range os {
		x.Finished(o)
	}
}

// observeClaim reports a claim a backends.Claimer made in SQL, which the
// engine did not see: x is the claimed task. When the queue status has no
// entry timestamp, the task entered the queue when it was created if the
// queue is the initial status and this is its first claim; otherwise the
// row no longer tells (the claim rewrote updated_at), and Entered is zero.
func (l *Leases[T, E, PT]) observeClaim(c backends.Claim[T]) {
	if l.moves == nil {
		return
	}
	x := c.Task
	entered, exact := engine.EnteredAt(x, l.spec.Queue)
	if !exact {
		entered = time.Time{}
		if l.initialQueue && c.Lease.Attempt == 1 {
			entered = l.created(x)
		}
	}
	at, _ := engine.EnteredAt(x, l.spec.Running)
	l.moves.Moved(engine.Move{ID: PT(x).Key().ID, From: l.spec.Queue, Event: l.spec.Claim, To: l.spec.Running, At: at, Entered: entered})
}

// observeRecovered reports an end the engine wrote but did not see, its
// reply lost (Leases.endedBy), to the engine's subscribers (Announce) and
// observers: cur is the task as read, x as the end left it.
func (l *Leases[T, E, PT]) observeRecovered(cur, x *T, ev E) {
	from, to := PT(cur).Key().Status, PT(x).Key().Status
	l.eng.Announce(x, from, ev)
	if l.moves == nil {
		return
	}
	entered, _ := engine.EnteredAt(cur, from)
	at, _ := engine.EnteredAt(x, to)
	l.moves.Moved(engine.Move{ID: PT(x).Key().ID, From: from, Event: string(ev), To: to, At: at, Entered: entered})
}

// observeEnd reports a handler's outcome: cur is the task as the handler
// ended it, x as the end event wrote it.
func (l *Leases[T, E, PT]) observeEnd(cur, x *T, failed bool, code string) {
	if l.obs == nil {
		return
	}
	if failed {
		code = l.storedCode(code)
	}
	o := Outcome{ID: PT(x).Key().ID, Failed: failed, Code: code}
	claimed, exact := engine.EnteredAt(cur, l.spec.Running)
	if at, _ := engine.EnteredAt(x, PT(x).Key().Status); exact {
		o.Ran, o.Known = max(at.Sub(claimed), 0), true
	}
	l.obs.Finished(o)
}

// created returns x's creation time, which every generated model's listing
// row carries.
func (l *Leases[T, E, PT]) created(x *T) time.Time {
	if r, ok := any(x).(interface{ ListRow() tasktype.Row }); ok {
		return r.ListRow().CreatedAt
	}
	return time.Time{}
}

// storedCode returns the error code a failure with code stores: code if the
// spec declares it, else the worker section's (as PrepareFailure does), so
// that a handler's made-up codes do not become metric labels.
func (l *Leases[T, E, PT]) storedCode(code string) string {
	if code == "" || !l.known(code) {
		return l.spec.ErrorCode
	}
	return code
}

// Tracer traces the handlers' work, for tracing: give the engine an
// engine.Tracer that also implements Tracer (engine.WithTracer), and the
// pools over that engine report to it. The claims and the end events are
// engine moves (engine.Tracer's StartMove).
type Tracer interface {
	// StartProcess is called before a pool runs its handler on a claimed
	// task; the handler runs in the returned context, and end is called
	// once the handler returned and the task's end was written, with the
	// handler's error (nil when it succeeded).
	StartProcess(ctx context.Context, p Process) (context.Context, func(err error))
}

// Process is a handler's run on a claimed task, as a Tracer sees it.
type Process struct {
	Model string
	ID    uuid.UUID
	// Traceparent is the one the task was created with ("" for none).
	Traceparent string
	Lease       backends.Lease
}

// ReportTracer is a Tracer that also traces the reports a worker makes on
// a task it holds through a worker protocol of its own, over Leases
// (StartReport): taskmodel serve's HTTP worker protocol traces its
// heartbeats and progress reports so. Package tracing implements it.
type ReportTracer interface {
	// StartReport is called before a report is handled; end is called
	// once it was, with its error (nil when it succeeded).
	StartReport(ctx context.Context, r Report) (context.Context, func(err error))
}

// Report is a worker's report on a task it holds, as a ReportTracer sees it.
type Report struct {
	Model string
	ID    uuid.UUID
	// Traceparent is the one the task was created with ("" for none).
	Traceparent string
	// Operation names the report: "heartbeat" or "progress".
	Operation string
}

// StartReport starts the tracing of a report, named op ("heartbeat",
// "progress"), that a worker makes on task id through a worker protocol
// over these leases, when the engine's tracer is a ReportTracer: x is the
// task as the report read it, or nil, and then the task is read for its
// trace. Without such a tracer it reads nothing and returns ctx and an end
// that does nothing.
func (l *Leases[T, E, PT]) StartReport(ctx context.Context, op string, id uuid.UUID, x *T) (context.Context, func(error)) {
	rt, ok := l.tracer.(ReportTracer)
	if !ok {
		return ctx, func(error) {}
	}
	if x == nil {
		x, _ = l.eng.Get(ctx, id) // not found: a span outside the task's trace, of a report that fails
	}
	tp := ""
	if x != nil {
		tp = engine.Traceparent(x)
	}
	return rt.StartReport(ctx, Report{Model: engine.ModelName[T](), ID: id, Traceparent: tp, Operation: op})
}

// workerTracer returns the tracer of eng if it implements Tracer.
func workerTracer(eng any) Tracer {
	w, _ := observe.TracerOf(eng).(Tracer)
	return w
}

// startProcess starts the tracing of a handler's run on x; without a
// tracer it returns ctx and an end that does nothing.
func (l *Leases[T, E, PT]) startProcess(ctx context.Context, x *T, lease backends.Lease) (context.Context, func(error)) {
	if l.tracer == nil {
		return ctx, func(error) {}
	}
	return l.tracer.StartProcess(ctx, Process{Model: engine.ModelName[T](), ID: PT(x).Key().ID, Traceparent: engine.Traceparent(x), Lease: lease})
}
