package server_test

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

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

// TestWorkerReportSpans: with tracing on, each report of the HTTP worker
// protocol has a span on the server, a child of the worker's span when the
// request sends its traceparent and else of the task's creation (its
// trace); a failed task's settle span has status error, with the message
// and error.type.
func TestWorkerReportSpans(t *testing.T) {
	const client = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const workerSpan = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
	cases := []struct {
		name, report, body string
		traceparent        string // the request's; "" for none
		span               string
		status             codes.Code
		description        string
		errorType          string
	}{
		{"heartbeat under the worker's span", "heartbeat", "", workerSpan, "heartbeat training", codes.Unset, "", ""},
		{"heartbeat without a traceparent", "heartbeat", "", "", "heartbeat training", codes.Unset, "", ""},
		{"progress under the worker's span", "progress", `,"percent":40`, workerSpan, "progress training", codes.Unset, "", ""},
		{"progress without a traceparent", "progress", `,"percent":40`, "", "progress training", codes.Unset, "", ""},
		{"complete", "complete", "", workerSpan, "settle training", codes.Unset, "", ""},
		{"fail", "fail", `,"message":"loss is NaN"`, workerSpan, "settle training", codes.Error, "loss is NaN", "_OTHER"},
		{"fail without a traceparent", "fail", `,"message":"loss is NaN"`, "", "settle training", codes.Error, "loss is NaN", "_OTHER"},
	}
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			e := newEnv(t, b, envOptions{engine: []engine.Option{engine.WithTracer(tracing.New(tp))}})
			w := e.workerToken("gpu-box", "training")
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					id := e.must(201, "POST", "/tasks", "alice", `{"task_type":"training","tag":"a"}`, "traceparent", client).json(t)["task_id"].(string)
					got := e.claim(w, `{}`)
					if len(got) != 1 || got[0].ID != id {
						t.Fatalf("claimed %+v", got)
					}
					var header []string
					wantParent := got[0].Traceparent[36:52] // the creation's span
					if tc.traceparent != "" {
						header, wantParent = []string{"traceparent", tc.traceparent}, tc.traceparent[36:52]
					}
					e.must(200, "POST", "/worker/tasks/"+id+"/"+tc.report, w, leaseBody(got[0].Lease, tc.body), header...)
					var spans []tracetest.SpanStub
					for _, s := range exp.GetSpans() {
						for _, kv := range s.Attributes {
							if kv.Key == "messaging.message.id" && kv.Value.AsString() == id && s.Name == tc.span {
								spans = append(spans, s)
							}
						}
					}
					if len(spans) != 1 {
						t.Fatalf("%d spans %q of task %s; want 1", len(spans), tc.span, id)
					}
					s := spans[0]
					if s.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
						t.Errorf("span in trace %s; want the task's", s.SpanContext.TraceID())
					}
					if got := s.Parent.SpanID().String(); got != wantParent {
						t.Errorf("parent %s; want %s", got, wantParent)
					}
					if s.Status.Code != tc.status || s.Status.Description != tc.description {
						t.Errorf("status %v %q; want %v %q", s.Status.Code, s.Status.Description, tc.status, tc.description)
					}
					attrs := map[string]string{}
					for _, kv := range s.Attributes {
						attrs[string(kv.Key)] = kv.Value.Emit()
					}
					if attrs["error.type"] != tc.errorType {
						t.Errorf("error.type %q; want %q", attrs["error.type"], tc.errorType)
					}
					if attrs["messaging.system"] != "taskmodel" || attrs["messaging.destination.name"] != "training" {
						t.Errorf("attributes %v", attrs)
					}
					if tc.span != "settle training" && (attrs["messaging.operation.name"] != tc.report || s.SpanKind != trace.SpanKindClient) {
						t.Errorf("operation name %q, kind %v; want %q, client", attrs["messaging.operation.name"], s.SpanKind, tc.report)
					}
				})
			}
		})
	}
}
