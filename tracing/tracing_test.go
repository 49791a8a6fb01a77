package tracing_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingpg "github.com/taskmodel/taskmodel/gen/training/pgdb"
	trainingsqlite "github.com/taskmodel/taskmodel/gen/training/sqlitedb"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/tracing"
)

var ctx = context.Background()

type Engine = engine.Engine[training.Training, training.Event, *training.Training]

// twoProcesses opens one database twice, as two processes would, and
// returns a driver over each.
var twoProcesses = []struct {
	name string
	open func(t *testing.T) (a, b backends.WorkDriver[training.Training])
}{
	{"sqlite", func(t *testing.T) (a, b backends.WorkDriver[training.Training]) {
		path := filepath.Join(t.TempDir(), "tasks.db")
		open := func() *sql.DB {
			db, err := sqlite.Open(ctx, path, training.Migrations(sqlite.Engine))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		return trainingsqlite.NewDriver(open()), trainingsqlite.NewDriver(open())
	}},
	{"postgres", func(t *testing.T) (a, b backends.WorkDriver[training.Training]) {
		cfg := pgtest.Schema(t)
		var ds [2]backends.WorkDriver[training.Training]
		for i := range ds {
			pool, err := postgres.OpenConfig(ctx, cfg.Copy(), training.Migrations(postgres.Engine))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			ds[i] = trainingpg.NewDriver(pool)
		}
		return ds[0], ds[1]
	}},
}

// traced returns an engine over d whose spans go to exp.
func traced(d backends.WorkDriver[training.Training], exp *tracetest.InMemoryExporter) *Engine {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	return engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker), engine.WithTracer(tracing.New(tp)))
}

// runUntil runs a pool over e until x is finished; the handler returns
// outcome inside a span of its own.
func runUntil(t *testing.T, e *Engine, x *training.Training, outcome error, tp trace.TracerProvider) {
	t.Helper()
	p, err := worker.New(e, func(ctx context.Context, _ *training.Training, _ *worker.Progress[training.Training]) error {
		_, span := tp.Tracer("handler").Start(ctx, "train")
		span.End()
		return outcome
	}, worker.Config{Concurrency: 1, PollInterval: 10 * time.Millisecond, NoRescue: true})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Run(c) })
	defer func() { cancel(); wg.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) { // a hang, not a speed goal
		got, err := e.Get(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.IsTerminal() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task still %s", got.Status)
		}
	}
}

// TestOneTraceAcrossTwoProcesses: a task created by one engine and run by
// a pool over another engine on the same database (another process, as
// far as the task can tell) has its spans in one trace: the creator's,
// under its request's span, with the create, the claim, the handler's run
// (and the handler's own span under it) and the end event.
func TestOneTraceAcrossTwoProcesses(t *testing.T) {
	cases := []struct {
		name    string
		outcome error
		end     string // the end event's status
		// The settle span's status description and error.type.
		description, errorType string
	}{
		{"completed", nil, "DONE", "", ""},
		{"failed", errors.New("loss is NaN"), "FAILED", "loss is NaN", "_OTHER"},
	}
	for _, b := range twoProcesses {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					da, db := b.open(t)
					creator, runner := tracetest.NewInMemoryExporter(), tracetest.NewInMemoryExporter()
					ea, eb := traced(da, creator), traced(db, runner)

					// The creator's request span.
					reqTP := sdktrace.NewTracerProvider(sdktrace.WithSyncer(creator))
					rctx, req := reqTP.Tracer("client").Start(ctx, "POST /tasks")
					x, err := ea.Create(rctx, training.NewTraining(), engine.Meta{})
					req.End()
					if err != nil {
						t.Fatal(err)
					}
					if x.Traceparent() == "" {
						t.Fatal("the task stores no traceparent")
					}
					runUntil(t, eb, x, tc.outcome, sdktrace.NewTracerProvider(sdktrace.WithSyncer(runner)))

					spans := append(creator.GetSpans(), runner.GetSpans()...)
					trace := req.SpanContext().TraceID()
					byName := map[string]tracetest.SpanStub{}
					for _, s := range spans {
						if s.SpanContext.TraceID() != trace {
							t.Errorf("span %q is in trace %s, not the creator's %s", s.Name, s.SpanContext.TraceID(), trace)
						}
						byName[s.Name] = s
					}
					var names []string
					for n := range byName {
						names = append(names, n)
					}
					slices.Sort(names)
					want := []string{"POST /tasks", "create training", "process training", "receive training", "settle training", "train"}
					if !slices.Equal(names, want) {
						t.Fatalf("spans %v; want %v", names, want)
					}
					parentOf := func(child, parent string) {
						if got := byName[child].Parent.SpanID(); got != byName[parent].SpanContext.SpanID() {
							t.Errorf("%q's parent is %s, not %q", child, got, parent)
						}
					}
					parentOf("create training", "POST /tasks")
					parentOf("receive training", "create training")
					parentOf("process training", "create training")
					parentOf("train", "process training")
					parentOf("settle training", "process training")

					id := x.ID.String()
					for _, c := range []struct {
						span string
						attr map[string]string
					}{
						{"create training", map[string]string{"messaging.system": "taskmodel", "messaging.operation.type": "create", "messaging.destination.name": "training", "messaging.message.id": id}},
						{"receive training", map[string]string{"messaging.operation.type": "receive", "messaging.operation.name": "start", "messaging.message.id": id, "taskmodel.status.from": "QUEUED", "taskmodel.status.to": "RUNNING"}},
						{"process training", map[string]string{"messaging.operation.type": "process", "messaging.message.id": id}},
						{"settle training", map[string]string{"messaging.operation.type": "settle", "taskmodel.status.from": "RUNNING", "taskmodel.status.to": tc.end}},
					} {
						got := map[string]string{}
						for _, kv := range byName[c.span].Attributes {
							got[string(kv.Key)] = kv.Value.Emit()
						}
						for k, v := range c.attr {
							if got[k] != v {
								t.Errorf("%s: %s = %q; want %q", c.span, k, got[k], v)
							}
						}
					}
					wantStatus := codes.Unset
					if tc.outcome != nil {
						wantStatus = codes.Error
					}
					if got := byName["process training"].Status.Code; got != wantStatus {
						t.Errorf("process span status %v; want %v", got, wantStatus)
					}
					// The fail event's span tells the failure: its write
					// succeeded, the task failed.
					settle := byName["settle training"]
					if settle.Status.Code != wantStatus || settle.Status.Description != tc.description {
						t.Errorf("settle span status %v %q; want %v %q", settle.Status.Code, settle.Status.Description, wantStatus, tc.description)
					}
					errorType := ""
					for _, kv := range settle.Attributes {
						if kv.Key == "error.type" {
							errorType = kv.Value.Emit()
						}
					}
					if errorType != tc.errorType {
						t.Errorf("settle span error.type %q; want %q", errorType, tc.errorType)
					}
				})
			}
		})
	}
}

// TestOffByDefault: an engine without a tracer stores no traceparent.
func TestOffByDefault(t *testing.T) {
	d, _ := twoProcesses[0].open(t)
	e := engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker))
	x, err := e.Create(ctx, training.NewTraining(), engine.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Get(ctx, x.ID); got.Traceparent() != "" {
		t.Errorf("traceparent %q stored without a tracer", got.Traceparent())
	}
}

// TestContinue: a traceparent is read back as the span it names; a bad one
// is ignored.
func TestContinue(t *testing.T) {
	for _, tc := range []struct {
		tp    string
		valid bool
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"", false},
		{"not a traceparent", false},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
	} {
		c := tracing.Continue(ctx, tc.tp)
		if got := trace.SpanContextFromContext(c).IsValid(); got != tc.valid {
			t.Errorf("Continue(%q): valid %v; want %v", tc.tp, got, tc.valid)
		}
		if tc.valid && tracing.Traceparent(c) != tc.tp {
			t.Errorf("Traceparent(Continue(%q)) = %q", tc.tp, tracing.Traceparent(c))
		}
	}
}

// TestEnabled: what the OTEL_ variables turn on, and the exact refusals.
func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		on   bool
		err  string
	}{
		{"nothing set", nil, false, ""},
		{"exporter otlp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true, ""},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true, ""},
		{"exporter none beats an endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false, ""},
		{"sdk disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, ""},
		{"http/protobuf", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, true, ""},
		{"another exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, `OTEL_TRACES_EXPORTER: "zipkin" is not supported; use otlp or none`},
		{"grpc", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, false, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc" is not supported; use http/protobuf`},
		{"grpc while off", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, ""},
		{"exporter in capitals", map[string]string{"OTEL_TRACES_EXPORTER": "OTLP"}, true, ""},
		{"exporter none in capitals", map[string]string{"OTEL_TRACES_EXPORTER": " None ", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false, ""},
		{"sdk disabled in capitals", map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, false, ""},
		{"protocol in capitals", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "HTTP/Protobuf"}, true, ""},
		{"https endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example.com"}, true, ""},
		{"ipv6 endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://[::1]:4318"}, true, ""},
		{"unparsable endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "::bad::"}, false,
			`OTEL_EXPORTER_OTLP_ENDPOINT: "::bad::" is not an endpoint URL; use an http or https URL with a host, such as http://collector:4318`},
		{"endpoint without a scheme", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, false,
			`OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" is not an endpoint URL; use an http or https URL with a host, such as http://collector:4318`},
		{"endpoint of another scheme", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "grpc://collector:4317"}, false,
			`OTEL_EXPORTER_OTLP_ENDPOINT: "grpc://collector:4317" is not an endpoint URL; use an http or https URL with a host, such as http://collector:4318`},
		{"endpoint without a host", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http:///v1"}, false,
			`OTEL_EXPORTER_OTLP_ENDPOINT: "http:///v1" is not an endpoint URL; use an http or https URL with a host, such as http://collector:4318`},
		{"unparsable traces endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://%zz"}, false,
			`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://%zz" is not an endpoint URL; use an http or https URL with a host, such as http://collector:4318/v1/traces`},
		{"bad endpoint while off", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "::bad::"}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			on, err := tracing.Enabled(func(k string) string { return tc.env[k] })
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if on != tc.on || msg != tc.err {
				t.Errorf("Enabled = %v, %q; want %v, %q", on, msg, tc.on, tc.err)
			}
		})
	}
}

// TestMoveFailure: a move's span has status error when its write failed,
// and when it wrote the worker section's fail event (the failure's message
// as the description, its code as error.type); otherwise status unset.
func TestMoveFailure(t *testing.T) {
	long := strings.Repeat("é", 2000)
	for _, tc := range []struct {
		name      string
		failure   *engine.TracedFailure
		writeErr  error
		status    codes.Code
		desc      string
		errorType string
	}{
		{"complete", nil, nil, codes.Unset, "", ""},
		{"fail with a code", &engine.TracedFailure{Code: "OOM", Message: "out of memory"}, nil, codes.Error, "out of memory", "OOM"},
		{"fail without a code", &engine.TracedFailure{Message: "loss is NaN"}, nil, codes.Error, "loss is NaN", "_OTHER"},
		{"fail without a message", &engine.TracedFailure{}, nil, codes.Error, "failed", "_OTHER"},
		{"fail with a long message", &engine.TracedFailure{Message: long}, nil, codes.Error, long[:2*1024], "_OTHER"},
		{"fail whose write failed", &engine.TracedFailure{Message: "loss is NaN"}, errors.New("database is gone"), codes.Error, "database is gone", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tr := tracing.New(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
			_, end := tr.StartMove(ctx, engine.TracedMove{Model: "training", From: "RUNNING", Event: "fail", Operation: "settle", Failure: tc.failure})
			to := "FAILED"
			if tc.writeErr != nil {
				to = ""
			}
			end(to, tc.writeErr)
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			s := spans[0]
			if s.Status.Code != tc.status || s.Status.Description != tc.desc {
				t.Errorf("status %v %q; want %v %q", s.Status.Code, s.Status.Description, tc.status, tc.desc)
			}
			errorType := ""
			for _, kv := range s.Attributes {
				if kv.Key == "error.type" {
					errorType = kv.Value.Emit()
				}
			}
			if errorType != tc.errorType {
				t.Errorf("error.type %q; want %q", errorType, tc.errorType)
			}
		})
	}
}
