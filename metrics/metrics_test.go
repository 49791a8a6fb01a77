package metrics_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/analysis"
	analysispg "github.com/taskmodel/taskmodel/gen/analysis/pgdb"
	analysissqlite "github.com/taskmodel/taskmodel/gen/analysis/sqlitedb"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingpg "github.com/taskmodel/taskmodel/gen/training/pgdb"
	trainingsqlite "github.com/taskmodel/taskmodel/gen/training/sqlitedb"
	"github.com/taskmodel/taskmodel/metrics"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/tasktype"
)

var ctx = context.Background()

// backend opens the drivers of both models on one database.
type backend struct {
	name     string
	analysis func(t *testing.T) backends.WorkDriver[analysis.Task]
	training func(t *testing.T) backends.WorkDriver[training.Training]
}

func openSQLite(t *testing.T, ms []tasktype.Migration) *sql.DB {
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tasks.db"), ms)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t *testing.T, ms []tasktype.Migration) *pgxpool.Pool {
	pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), ms)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

var all = []backend{
	{"memory",
		func(*testing.T) backends.WorkDriver[analysis.Task] { return memory.New[analysis.Task]() },
		func(*testing.T) backends.WorkDriver[training.Training] { return memory.New[training.Training]() }},
	{"sqlite",
		func(t *testing.T) backends.WorkDriver[analysis.Task] {
			return analysissqlite.NewDriver(openSQLite(t, analysis.Migrations(sqlite.Engine)))
		},
		func(t *testing.T) backends.WorkDriver[training.Training] {
			return trainingsqlite.NewDriver(openSQLite(t, training.Migrations(sqlite.Engine)))
		}},
	{"postgres",
		func(t *testing.T) backends.WorkDriver[analysis.Task] {
			return analysispg.NewDriver(openPostgres(t, analysis.Migrations(postgres.Engine)))
		},
		func(t *testing.T) backends.WorkDriver[training.Training] {
			return trainingpg.NewDriver(openPostgres(t, training.Migrations(postgres.Engine)))
		}},
}

// series is one metric's value in a gathering: a histogram's count and sum,
// or a counter's value as the count.
type series struct {
	count uint64
	sum   float64
}

// gather reads every series of the registry by name and label values.
func gather(t *testing.T, g prometheus.Gatherer) map[string]series {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]series{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName() + labels(m)
			switch {
			case m.Histogram != nil:
				out[key] = series{m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()}
			case m.Counter != nil:
				out[key] = series{count: uint64(m.Counter.GetValue())}
			}
		}
	}
	return out
}

func labels(m *dto.Metric) string {
	s := "{"
	for i, l := range m.GetLabel() {
		if i > 0 {
			s += ","
		}
		s += l.GetName() + "=" + l.GetValue()
	}
	return s + "}"
}

// observed returns a fake clock, a registry holding a new Set, and the
// options of an engine of the model that reports to it on that clock.
func observed(l tasktype.Lifecycle, w tasktype.Worker) (*backendtest.Clock, *prometheus.Registry, []engine.Option) {
	clock := backendtest.NewClock()
	set := metrics.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(set)
	return clock, reg, []engine.Option{engine.WithClock(clock.Now), engine.WithWorker(w), engine.WithObserver(set.Model(l))}
}

// runOne runs a pool until task id is finished.
func runOne[T any, E ~string, PT worker.Model[T, E]](t *testing.T, e *engine.Engine[T, E, PT], h worker.Handler[T], id func() (bool, error)) {
	t.Helper()
	p, err := worker.New(e, h, worker.Config{Concurrency: 1, PollInterval: 10 * time.Millisecond, NoRescue: true})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = p.Run(c) }()
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(20 * time.Second) // a hang, not a speed goal
	for {
		done, err := id()
		if err != nil {
			t.Fatal(err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the task did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAnalysisThroughAPool drives one analysis task through its lifecycle
// on a fake clock, its QUEUED status with an entry timestamp (queued_at),
// and checks every series it must touch, with the durations the clock made.
func TestAnalysisThroughAPool(t *testing.T) {
	cases := []struct {
		name    string
		outcome error
		// want: the handler's outcome label, and the failure's code ("" for none).
		result, code string
	}{
		{"completed", nil, "completed", ""},
		{"fail with a code of the spec", worker.Fail("AGENT_ERROR", "agent crashed"), "failed", "AGENT_ERROR"},
		{"fail with a code the spec lacks", worker.Fail("NOT_A_CODE", "made up"), "failed", "INTERNAL_ERROR"},
		{"fail with a plain error", errors.New("boom"), "failed", "INTERNAL_ERROR"},
	}
	for _, b := range all {
		t.Run(b.name, func(t *testing.T) {
			d := b.analysis(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					clock, reg, opts := observed(analysis.Lifecycle(), analysis.Worker)
					e := engine.New[analysis.Task, analysis.Event](d, opts...)
					x := analysis.NewTask()
					x.UserID, x.ToolID, x.Agents = "user-1", "profile-my-data", []string{"score-risk"}
					x, err := e.Create(ctx, x, engine.Meta{})
					if err != nil {
						t.Fatal(err)
					}
					for _, step := range []struct {
						wait time.Duration
						ev   analysis.Event
					}{{2 * time.Second, analysis.EventRequestUploadURLs}, {3 * time.Second, analysis.EventVerifyUploads}} {
						clock.Advance(step.wait)
						if x, err = e.FireFrom(ctx, x, step.ev, nil, engine.Meta{}); err != nil {
							t.Fatal(err)
						}
					}
					clock.Advance(5 * time.Second) // waits in QUEUED
					runOne(t, e, func(context.Context, *analysis.Task, *worker.Progress[analysis.Task]) error {
						clock.Advance(7 * time.Second) // the handler's work
						return tc.outcome
					}, func() (bool, error) {
						got, err := e.Get(ctx, x.ID)
						return err == nil && got.Status.IsTerminal(), err
					})
					got := gather(t, reg)
					want := map[string]series{
						"taskmodel_time_in_status_seconds{model=analysis,status=CREATED}":    {1, 2},
						"taskmodel_time_in_status_seconds{model=analysis,status=UPLOADING}":  {1, 3},
						"taskmodel_time_in_status_seconds{model=analysis,status=QUEUED}":     {1, 5},
						"taskmodel_time_in_status_seconds{model=analysis,status=PROCESSING}": {1, 7},
						// Statuses the task did not leave are there, at zero.
						"taskmodel_time_in_status_seconds{model=analysis,status=UPLOAD_FAILED}":        {0, 0},
						"taskmodel_pickup_latency_seconds{model=analysis}":                             {1, 5},
						"taskmodel_handler_duration_seconds{model=analysis,outcome=" + tc.result + "}": {1, 7},
					}
					other := map[string]string{"completed": "failed", "failed": "completed"}[tc.result]
					want["taskmodel_handler_duration_seconds{model=analysis,outcome="+other+"}"] = series{}
					if tc.code != "" {
						want["taskmodel_handler_failures_total{code="+tc.code+",model=analysis}"] = series{count: 1}
					}
					for k, w := range want {
						if g, ok := got[k]; !ok || g != w {
							t.Errorf("%s = %+v (present %v); want %+v", k, g, ok, w)
						}
					}
					for k := range got {
						if _, ok := want[k]; !ok && got[k].count > 0 {
							t.Errorf("unexpected observation %s = %+v", k, got[k])
						}
					}
				})
			}
		})
	}
}

// TestTrainingPickupFromCreation: the training model's QUEUED is its initial
// status, entered at creation (its entry timestamp queued_at is set then),
// so a first claim's pickup latency runs from the task's creation, on
// every backend.
func TestTrainingPickupFromCreation(t *testing.T) {
	for _, b := range all {
		t.Run(b.name, func(t *testing.T) {
			d := b.training(t)
			clock, reg, opts := observed(training.Lifecycle(), training.Worker)
			e := engine.New[training.Training, training.Event](d, opts...)
			x, err := e.Create(ctx, training.NewTraining(), engine.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(4 * time.Second)
			runOne(t, e, func(context.Context, *training.Training, *worker.Progress[training.Training]) error {
				clock.Advance(1500 * time.Millisecond)
				return nil
			}, func() (bool, error) {
				got, err := e.Get(ctx, x.ID)
				return err == nil && got.Status.IsTerminal(), err
			})
			got := gather(t, reg)
			for k, w := range map[string]series{
				"taskmodel_pickup_latency_seconds{model=training}":                     {1, 4},
				"taskmodel_time_in_status_seconds{model=training,status=QUEUED}":       {1, 4},
				"taskmodel_time_in_status_seconds{model=training,status=RUNNING}":      {1, 1.5},
				"taskmodel_handler_duration_seconds{model=training,outcome=completed}": {1, 1.5},
			} {
				if g := got[k]; g != w {
					t.Errorf("%s = %+v; want %+v", k, g, w)
				}
			}
		})
	}
}

// TestModelIsOnePerName: a model's observer is one per name.
func TestModelIsOnePerName(t *testing.T) {
	set := metrics.New()
	if set.Model(analysis.Lifecycle()) != set.Model(analysis.Lifecycle()) {
		t.Error("two observers for one model")
	}
	if set.Model(analysis.Lifecycle()) == set.Model(training.Lifecycle()) {
		t.Error("one observer for two models")
	}
}

// BenchmarkObserver measures what the observer adds to an engine's writes:
// a task created and moved through its first two events on the memory
// driver (so that the observer is not hidden behind a database), without
// and with a Set's observer.
func BenchmarkObserver(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			opts := []engine.Option{engine.WithWorker(analysis.Worker)}
			if on {
				opts = append(opts, engine.WithObserver(metrics.New().Model(analysis.Lifecycle())))
			}
			e := engine.New[analysis.Task, analysis.Event](memory.New[analysis.Task](), opts...)
			b.ReportAllocs()
			for b.Loop() {
				x := analysis.NewTask()
				x.UserID, x.ToolID, x.Agents = "user-1", "profile-my-data", []string{"score-risk"}
				x, err := e.Create(ctx, x, engine.Meta{})
				if err != nil {
					b.Fatal(err)
				}
				for _, ev := range []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads} {
					if x, err = e.FireFrom(ctx, x, ev, nil, engine.Meta{}); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkMoved measures one observation of a move (a claim: the time in
// status and the pickup latency).
func BenchmarkMoved(b *testing.B) {
	m := metrics.New().Model(analysis.Lifecycle())
	at := time.Now()
	mv := engine.Move{From: "QUEUED", Event: "start", To: "PROCESSING", At: at, Entered: at.Add(-time.Second)}
	b.ReportAllocs()
	for b.Loop() {
		m.Moved(mv)
	}
}

// TestRequeuedClaim: a training task claimed, lost (its lease expired),
// requeued and claimed again. Its QUEUED has an entry timestamp
// (queued_at, set on creation and by the requeue), so both claims are
// timed on every backend — the second too where the claim is made in SQL
// (SQLite, PostgreSQL), which rewrites updated_at — and none is counted as
// unknown.
func TestRequeuedClaim(t *testing.T) {
	for _, b := range all {
		t.Run(b.name, func(t *testing.T) {
			clock, reg, opts := observed(training.Lifecycle(), training.Worker)
			e := engine.New[training.Training, training.Event](b.training(t), opts...)
			l, err := worker.NewLeases(e)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Create(ctx, training.NewTraining(), engine.Meta{}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(4 * time.Second)
			if got, _, err := l.Claim(ctx, "ghost", 1); err != nil || len(got) != 1 {
				t.Fatalf("first claim: %d, %v", len(got), err)
			}
			clock.Advance(training.Worker.Lease) // the lease expires: RUNNING for 30 s
			if r, err := l.Rescue(ctx, "rescuer"); err != nil || r.Requeued != 1 {
				t.Fatalf("rescue %+v, %v", r, err)
			}
			clock.Advance(6 * time.Second)
			// Another worker (its claims start at the head of the queue).
			l2, err := worker.NewLeases(e)
			if err != nil {
				t.Fatal(err)
			}
			if got, _, err := l2.Claim(ctx, "ghost", 1); err != nil || len(got) != 1 {
				t.Fatalf("second claim: %d, %v", len(got), err)
			}
			got := gather(t, reg)
			for k, w := range map[string]series{
				"taskmodel_time_in_status_seconds{model=training,status=RUNNING}": {1, 30},
				// 4 s before the first claim, 6 s after the requeue.
				"taskmodel_pickup_latency_seconds{model=training}":               {2, 10},
				"taskmodel_time_in_status_seconds{model=training,status=QUEUED}": {2, 10},
			} {
				if got[k] != w {
					t.Errorf("%s = %+v; want %+v", k, got[k], w)
				}
			}
			if n := got["taskmodel_time_in_status_unknown_total{model=training,status=QUEUED}"].count; n != 0 {
				t.Errorf("%d claims counted as unknown, want none", n)
			}
		})
	}
}
