package stage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	stagemodel "github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/gen/stage/pgdb"
	"github.com/taskmodel/taskmodel/gen/stage/sqlitedb"
	"github.com/taskmodel/taskmodel/sdk/stage"
)

type Driver = backends.Driver[stagemodel.StageState]

type backend struct {
	name string
	// open opens a fresh database; other opens another driver over the same
	// database, as another process would (memory, which lives in one
	// process, returns the same driver).
	open func(t *testing.T) (d Driver, other func(t *testing.T) Driver)
}

// all are the backends every rule is tested on.
var all = []backend{
	{"memory", func(t *testing.T) (Driver, func(*testing.T) Driver) {
		d := memory.New[stagemodel.StageState]()
		return d, func(*testing.T) Driver { return d }
	}},
	{"sqlite", func(t *testing.T) (Driver, func(*testing.T) Driver) {
		path := filepath.Join(t.TempDir(), "stages.db")
		open := func(t *testing.T) Driver {
			db, err := sqlite.Open(context.Background(), path, stagemodel.Migrations(sqlite.Engine))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return sqlitedb.NewDriver(db)
		}
		return open(t), open
	}},
	{"postgres", func(t *testing.T) (Driver, func(*testing.T) Driver) {
		cfg := pgtest.Schema(t)
		open := func(t *testing.T) Driver {
			pool, err := postgres.OpenConfig(context.Background(), cfg.Copy(), stagemodel.Migrations(postgres.Engine))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			return pgdb.NewDriver(pool)
		}
		return open(t), open
	}},
}

// forEachBackend runs test on every backend with a fresh env.
func forEachBackend(t *testing.T, test func(t *testing.T, e *env)) {
	for _, b := range all {
		t.Run(b.name, func(t *testing.T) {
			d, other := b.open(t)
			e := newEnv(t, d)
			e.other = other
			test(t, e)
		})
	}
}

// state is the tasks' shared state in the tests.
type state struct {
	Log []string `json:"log"`
	N   int      `json:"n"`
}

// env is one backend with a fake clock and a sleeper that advances it.
type env struct {
	ctx    context.Context
	driver Driver
	clock  *backendtest.Clock
	// other opens another driver over the same database: another process.
	other func(t *testing.T) Driver

	mu     sync.Mutex
	sleeps []time.Duration
}

func newEnv(t *testing.T, d Driver) *env {
	return &env{ctx: context.Background(), driver: d, clock: backendtest.NewClock()}
}

// store returns a new Store over d (a fresh "process" over the same data).
func (e *env) store(d Driver) *stage.Store {
	return backends.NewStore[stagemodel.StageState, stagemodel.Event](d, backends.WithClock(e.clock.Now))
}

// sleep records the backoff and moves the clock instead of waiting.
func (e *env) sleep(ctx context.Context, d time.Duration) error {
	e.mu.Lock()
	e.sleeps = append(e.sleeps, d)
	e.mu.Unlock()
	e.clock.Advance(d)
	return ctx.Err()
}

func (e *env) slept() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.sleeps)
}

// config is a Config with the fake clock and sleeper, and a 1s-doubling
// backoff capped at 10s.
func (e *env) config(p stage.RetryPolicy, max int) stage.Config {
	return stage.Config{Policy: p, MaxAttempts: max, Sleep: e.sleep, Clock: e.clock.Now,
		Backoff: stage.Exponential{Initial: time.Second, Max: 10 * time.Second}}
}

// runner returns a Runner over a new Store over d.
func (e *env) runner(t *testing.T, d Driver, stages []stage.Stage[state], cfg stage.Config) *stage.Runner[state] {
	t.Helper()
	r, err := stage.NewRunner(e.store(d), stages, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rows reads the task's rows in stage order through a fresh Store.
func (e *env) rows(t *testing.T, taskID string, names ...string) []*stagemodel.StageState {
	t.Helper()
	out := make([]*stagemodel.StageState, len(names))
	for i, n := range names {
		row, err := e.store(e.driver).Get(e.ctx, stage.RowID(taskID, n))
		if err != nil {
			t.Fatalf("row of stage %s: %v", n, err)
		}
		out[i] = row
	}
	return out
}

var errBoom = errors.New("boom")

// recorder scripts stages and records what they saw.
type recorder struct {
	mu        sync.Mutex
	calls     []string            // stage names in call order
	saw       map[string][]string // stage → the state's log at each of its calls
	rollbacks []string            // "name:log" in call order
}

func newRecorder() *recorder { return &recorder{saw: map[string][]string{}} }

func (r *recorder) called(name string, s *state) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, name)
	r.saw[name] = append(r.saw[name], strings.Join(s.Log, ","))
	return len(r.saw[name])
}

func (r *recorder) count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.saw[name])
}

func (r *recorder) seen(name string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.saw[name])
}

func (r *recorder) undone() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.rollbacks)
}

// stage returns a stage whose first fail calls dirty the state and fail
// (wrapping errBoom); the others append its name to the log, count it and
// return SuccessCount = TotalCount = N. Its Rollback records the log it saw
// and appends "undo-<name>".
func (r *recorder) stage(name string, fail int) stage.Stage[state] {
	return stage.Stage[state]{
		Name: name,
		Run: func(ctx context.Context, s *state) (*stage.SimpleRecordsResult, error) {
			n := r.called(name, s)
			if n <= fail {
				s.Log = append(s.Log, name+"-dirty")
				return nil, fmt.Errorf("%s call %d: %w", name, n, errBoom)
			}
			s.Log = append(s.Log, name)
			s.N++
			return &stage.SimpleRecordsResult{SuccessCount: int64(s.N), TotalCount: int64(s.N)}, nil
		},
		Rollback: func(ctx context.Context, s *state) error {
			r.mu.Lock()
			r.rollbacks = append(r.rollbacks, name+":"+strings.Join(s.Log, ","))
			r.mu.Unlock()
			s.Log = append(s.Log, "undo-"+name)
			return nil
		},
	}
}

// stages returns one recorder stage per name, failing as fails says.
func (r *recorder) stages(names []string, fails ...int) []stage.Stage[state] {
	out := make([]stage.Stage[state], len(names))
	for i, n := range names {
		f := 0
		if i < len(fails) {
			f = fails[i]
		}
		out[i] = r.stage(n, f)
	}
	return out
}

var errCrash = errors.New("simulated crash: the process died")

// crashDriver wraps a Driver and dies at the first write crash selects:
// that write and every later one fail with errCrash, as if the process
// had stopped there. Reads keep working so the test can look.
type crashDriver struct {
	Driver
	crash func(op string, n int, x *stagemodel.StageState) bool

	mu     sync.Mutex
	writes int
	dead   bool
}

// afterWrites dies at write number n (0-based): n writes succeed.
func afterWrites(n int) func(string, int, *stagemodel.StageState) bool {
	return func(_ string, i int, _ *stagemodel.StageState) bool { return i >= n }
}

func (d *crashDriver) write(op string, x *stagemodel.StageState) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.dead && d.crash(op, d.writes, x) {
		d.dead = true
	}
	if d.dead {
		return errCrash
	}
	d.writes++
	return nil
}

func (d *crashDriver) Insert(ctx context.Context, x *stagemodel.StageState, h backends.History) error {
	if err := d.write("insert", x); err != nil {
		return err
	}
	return d.Driver.Insert(ctx, x, h)
}

func (d *crashDriver) Transition(ctx context.Context, from backends.Key, x *stagemodel.StageState, h backends.History) (bool, error) {
	if err := d.write(h.Event, x); err != nil {
		return false, err
	}
	return d.Driver.Transition(ctx, from, x, h)
}

func (d *crashDriver) Update(ctx context.Context, from backends.Key, x *stagemodel.StageState) (bool, error) {
	if err := d.write("update", x); err != nil {
		return false, err
	}
	return d.Driver.Update(ctx, from, x)
}

// attemptEnds returns the end statuses of a row's attempt entries (rollback
// entries, which begin in COMPLETE, left out).
func attemptEnds(row *stagemodel.StageState) []stagemodel.Status {
	out := []stagemodel.Status{}
	for _, h := range row.History {
		if h.BeginStatus != stagemodel.StatusComplete {
			out = append(out, h.EndStatus)
		}
	}
	return out
}

// rollbackMessages returns the messages of a row's rollback entries.
func rollbackMessages(row *stagemodel.StageState) []string {
	var out []string
	for _, h := range row.History {
		if h.BeginStatus == stagemodel.StatusComplete {
			out = append(out, h.Message)
		}
	}
	return out
}
