// Package tracing is the OpenTelemetry side of the SDK's tracing hooks: a
// Tracer makes spans of a task's creation, its claim, its handler's work and
// every move of its lifecycle, named and attributed after the OpenTelemetry
// messaging conventions, and keeps them in one trace from creation to
// completion, across processes: a task stores the W3C traceparent of its
// creation's span, and every later span of the task descends from it.
//
// Give it to the engines (engine.WithTracer(tracing.New(provider))); the
// pools over them trace their handlers' work too (worker.Tracer). The SDK
// itself does not import OpenTelemetry, and an engine without a tracer pays
// nothing. taskmodel serve turns it on from the standard OTEL_ environment
// variables (FromEnv).
//
// Spans (the destination is the model's name):
//
//	create <model>    producer  engine.Create: messaging.operation.type create
//	receive <model>   client    the worker section's claim event: receive
//	process <model>   consumer  a pool's handler run, from claim to end: process
//	settle <model>    client    the complete, fail and cancel events: settle
//	<event> <model>   internal  any other event of the lifecycle
//	heartbeat <model> client    a worker's heartbeat over HTTP (worker.ReportTracer)
//	progress <model>  client    a worker's progress report over HTTP
//
// Every span has messaging.system "taskmodel", messaging.destination.name,
// and messaging.message.id (the task's id, once known); moves add
// messaging.operation.name (the event) and taskmodel.status.from and .to,
// reports messaging.operation.name (heartbeat, progress; no
// messaging.operation.type: none of the conventions' types is a lease's
// renewal). A fail event's span has status error, with the failure's
// message, and error.type, its error code.
package tracing

import (
	"context"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/tasktype"
)

// InstrumentationName names the tracer this package asks providers for.
const InstrumentationName = "github.com/taskmodel/taskmodel/tracing"

// Attribute keys (OpenTelemetry messaging conventions, and this package's).
const (
	System          = attribute.Key("messaging.system")
	OperationType   = attribute.Key("messaging.operation.type")
	OperationName   = attribute.Key("messaging.operation.name")
	DestinationName = attribute.Key("messaging.destination.name")
	MessageID       = attribute.Key("messaging.message.id")
	StatusFrom      = attribute.Key("taskmodel.status.from")
	StatusTo        = attribute.Key("taskmodel.status.to")
	LeaseOwner      = attribute.Key("taskmodel.lease.owner")
	Attempt         = attribute.Key("taskmodel.attempt")
	ErrorType       = attribute.Key("error.type")
)

// Tracer is an engine.Tracer and a worker.Tracer over an OpenTelemetry
// tracer provider. Safe for concurrent use.
type Tracer struct {
	tr trace.Tracer
}

var (
	_ engine.Tracer       = (*Tracer)(nil)
	_ worker.Tracer       = (*Tracer)(nil)
	_ worker.ReportTracer = (*Tracer)(nil)
)

// New returns a Tracer whose spans go to provider.
func New(provider trace.TracerProvider) *Tracer {
	return &Tracer{tr: provider.Tracer(InstrumentationName)}
}

var w3c = propagation.TraceContext{}

// Traceparent returns the W3C traceparent of ctx's span, "" when it has
// none.
func Traceparent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	w3c.Inject(ctx, c)
	return c["traceparent"]
}

// Continue returns ctx with the span a W3C traceparent names as its remote
// parent; ctx when tp is empty or not a valid traceparent.
func Continue(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	return w3c.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
}

// parent returns the context a span of a task starts in: ctx when its span
// is in the task's trace (or the task has none), else ctx under the task's
// traceparent, with a link to ctx's span (the request or the process that
// made the move, in a trace of its own).
func parent(ctx context.Context, tp string) (context.Context, []trace.SpanStartOption) {
	task := trace.SpanContextFromContext(Continue(context.Background(), tp))
	if !task.IsValid() {
		return ctx, nil
	}
	cur := trace.SpanContextFromContext(ctx)
	if cur.IsValid() && cur.TraceID() == task.TraceID() {
		return ctx, nil
	}
	pctx := trace.ContextWithRemoteSpanContext(ctx, task)
	if cur.IsValid() {
		return pctx, []trace.SpanStartOption{trace.WithLinks(trace.Link{SpanContext: cur})}
	}
	return pctx, nil
}

func common(model string, id uuid.UUID) []attribute.KeyValue {
	kv := []attribute.KeyValue{System.String("taskmodel"), DestinationName.String(model)}
	if id != uuid.Nil {
		kv = append(kv, MessageID.String(id.String()))
	}
	return kv
}

// end ends span with err's status.
func end(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// StartCreate starts the span of a create; the task stores its traceparent.
func (t *Tracer) StartCreate(ctx context.Context, model string) (context.Context, string, func(uuid.UUID, error)) {
	ctx, span := t.tr.Start(ctx, "create "+model, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(append(common(model, uuid.Nil), OperationType.String("create"), OperationName.String("create"))...))
	return ctx, Traceparent(ctx), func(id uuid.UUID, err error) {
		if id != uuid.Nil {
			span.SetAttributes(MessageID.String(id.String()))
		}
		end(span, err)
	}
}

// StartMove starts the span of a move, in the task's trace.
func (t *Tracer) StartMove(ctx context.Context, m engine.TracedMove) (context.Context, func(string, error)) {
	ctx, opts := parent(ctx, m.Traceparent)
	kv := append(common(m.Model, m.ID), OperationName.String(m.Event), StatusFrom.String(m.From))
	name, kind := m.Event+" "+m.Model, trace.SpanKindInternal
	if m.Operation != "" {
		name, kind = m.Operation+" "+m.Model, trace.SpanKindClient
		kv = append(kv, OperationType.String(m.Operation))
	}
	opts = append(opts, trace.WithSpanKind(kind), trace.WithAttributes(kv...))
	if !m.Start.IsZero() {
		opts = append(opts, trace.WithTimestamp(m.Start))
	}
	ctx, span := t.tr.Start(ctx, name, opts...)
	return ctx, func(to string, err error) {
		if to != "" {
			span.SetAttributes(StatusTo.String(to))
		}
		if f := m.Failure; f != nil && err == nil {
			failed(span, f)
		}
		end(span, err)
	}
}

// maxStatusDescription bounds, in characters, the status description a
// failure's message gives a span (the message itself may be far longer).
const maxStatusDescription = 1024

// failed marks span, of a fail event that was written, as failed: status
// error with the failure's message, and error.type the error code stored
// ("_OTHER", the conventions' fallback, when there is none).
func failed(span trace.Span, f *engine.TracedFailure) {
	kind := f.Code
	if kind == "" {
		kind = "_OTHER"
	}
	msg := f.Message
	if msg == "" {
		msg = "failed"
	}
	span.SetAttributes(ErrorType.String(kind))
	span.SetStatus(codes.Error, tasktype.Truncate(msg, maxStatusDescription))
}

// StartReport starts the span of a worker's report on a task it holds (a
// heartbeat, a progress report over the HTTP worker protocol): a child of
// the request's span when it is in the task's trace, else in the task's
// trace with a link to it, as a move's.
func (t *Tracer) StartReport(ctx context.Context, r worker.Report) (context.Context, func(error)) {
	ctx, opts := parent(ctx, r.Traceparent)
	kv := append(common(r.Model, r.ID), OperationName.String(r.Operation))
	ctx, span := t.tr.Start(ctx, r.Operation+" "+r.Model, append(opts, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(kv...))...)
	return ctx, func(err error) { end(span, err) }
}

// StartProcess starts the span of a handler's run, in the task's trace: the
// handler's own spans and the end event's span are its children.
func (t *Tracer) StartProcess(ctx context.Context, p worker.Process) (context.Context, func(error)) {
	ctx, opts := parent(ctx, p.Traceparent)
	kv := append(common(p.Model, p.ID), OperationType.String("process"), OperationName.String("process"),
		LeaseOwner.String(p.Lease.Owner), Attempt.Int(p.Lease.Attempt))
	ctx, span := t.tr.Start(ctx, "process "+p.Model, append(opts, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(kv...))...)
	return ctx, func(err error) { end(span, err) }
}
