package server_test

import (
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/tracing"
)

// TestWorkerProtocolTraceparent: with tracing on, a task created under a
// client's traceparent is traced in the client's trace, the claim answer
// hands the worker that trace, and the end a worker reports under its own
// span's traceparent is traced under that span; with tracing off the
// answer carries none.
func TestWorkerProtocolTraceparent(t *testing.T) {
	const client = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const workerSpan = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			t.Run("on", func(t *testing.T) {
				exp := tracetest.NewInMemoryExporter()
				tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
				e := newEnv(t, b, envOptions{engine: []engine.Option{engine.WithTracer(tracing.New(tp))}})
				w := e.workerToken("gpu-box", "training")
				id := e.must(201, "POST", "/tasks", "alice", `{"task_type":"training","tag":"a"}`, "traceparent", client).json(t)["task_id"].(string)
				got := e.claim(w, `{}`)
				if len(got) != 1 || got[0].ID != id {
					t.Fatalf("claimed %+v", got)
				}
				tp0 := got[0].Traceparent
				if !strings.HasPrefix(tp0, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || tp0 == client {
					t.Errorf("claim answer's traceparent %q; want the create span's, in the client's trace", tp0)
				}
				e.must(200, "POST", "/worker/tasks/"+id+"/complete", w, leaseBody(got[0].Lease, ""), "traceparent", workerSpan)
				parents := map[string]string{}
				for _, s := range exp.GetSpans() {
					if s.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
						t.Errorf("span %q in trace %s", s.Name, s.SpanContext.TraceID())
					}
					parents[s.Name] = s.Parent.SpanID().String()
				}
				for span, parent := range map[string]string{"create training": "00f067aa0ba902b7", "settle training": "b7ad6b7169203331", "receive training": tp0[36:52]} {
					if parents[span] != parent {
						t.Errorf("%s's parent %q; want %q (spans: %v)", span, parents[span], parent, parents)
					}
				}
			})
			t.Run("off", func(t *testing.T) {
				e := newEnv(t, b, envOptions{})
				w := e.workerToken("gpu-box", "training")
				e.must(201, "POST", "/tasks", "alice", `{"task_type":"training","tag":"a"}`, "traceparent", client)
				if got := e.claim(w, `{}`); len(got) != 1 || got[0].Traceparent != "" {
					t.Errorf("claimed %+v; want no traceparent", got)
				}
			})
		})
	}
}
