package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// sizes are a comparison's workloads' sizes.
type sizes struct {
	rounds      int
	burnJobs    int   // jobs of each PostgreSQL burn-down
	burnConc    []int // its concurrencies
	createJobs  int   // jobs of creation while working
	producers   int   // its producers, each inserting one job at a time
	createConc  int   // its workers
	pickupJobs  int   // jobs of each pickup run
	pickupPause time.Duration
	sqliteJobs  int   // jobs of each SQLite burn-down
	sqliteConc  []int // its concurrencies
}

// fullSizes is make bench-compare's comparison.
var fullSizes = sizes{
	rounds:   3,
	burnJobs: 50_000, burnConc: []int{100, 1000, 4000},
	createJobs: 10_000, producers: 8, createConc: 100,
	pickupJobs: 200, pickupPause: 100 * time.Millisecond,
	sqliteJobs: 20_000, sqliteConc: []int{100, 1000},
}

// quickSizes is BENCH_QUICK=1's: every workload, small.
var quickSizes = sizes{
	rounds:   2,
	burnJobs: 4_000, burnConc: []int{100, 1000},
	createJobs: 1_500, producers: 8, createConc: 100,
	pickupJobs: 20, pickupPause: 100 * time.Millisecond,
	sqliteJobs: 500, sqliteConc: []int{100},
}

// pickupConc is the workers of the pickup runs: taskmodel's default
// Concurrency, given to River's queue too.
const pickupConc = 10

// runLimit bounds the wait for one run's jobs.
const runLimit = 10 * time.Minute

// row is one line of the table.
type row struct {
	name  string
	unit  string // "jobs/s" or "ms"
	lower bool   // lower is better
}

// workload is one measurement, run once per system and round.
type workload struct {
	id     string
	sqlite bool
	burn   bool // a PostgreSQL burn-down: SQL alone runs it too
	rows   []row
	// run measures inst: a value for each row, and the jobs it ran.
	run func(ctx context.Context, e *env, sys system, inst instance, st store) ([]float64, int, cpuUse, error)
}

// cpuUse is the CPU time a run took, by side.
type cpuUse struct {
	client, server time.Duration
	serverKnown    bool
}

// workloads returns the comparison's workloads for sz.
func workloads(sz sizes) []workload {
	var ws []workload
	for _, conc := range sz.burnConc {
		ws = append(ws, workload{
			id:   fmt.Sprintf("burn-%d", conc),
			burn: true,
			rows: []row{{name: fmt.Sprintf("PostgreSQL burn-down, %d jobs, concurrency %d", sz.burnJobs, conc), unit: "jobs/s"}},
			run: func(ctx context.Context, e *env, _ system, inst instance, _ store) ([]float64, int, cpuUse, error) {
				return burnDown(ctx, e, inst, sz.burnJobs, conc)
			},
		})
	}
	ws = append(ws, workload{
		id: "create",
		rows: []row{{name: fmt.Sprintf("PostgreSQL creation while working, %d jobs, %d producers one at a time, concurrency %d",
			sz.createJobs, sz.producers, sz.createConc), unit: "jobs/s"}},
		run: func(ctx context.Context, e *env, _ system, inst instance, _ store) ([]float64, int, cpuUse, error) {
			return createWhileWorking(ctx, e, inst, sz)
		},
	})
	for _, remote := range []bool{false, true} {
		where, id := "inserted in the same process", "pickup"
		if remote {
			where, id = "inserted by another process", "pickup-remote"
		}
		ws = append(ws, workload{
			id: id,
			rows: []row{
				{name: "PostgreSQL pickup p50, idle queue, " + where, unit: "ms", lower: true},
				{name: "PostgreSQL pickup p99, idle queue, " + where, unit: "ms", lower: true},
			},
			run: func(ctx context.Context, e *env, sys system, inst instance, st store) ([]float64, int, cpuUse, error) {
				return pickup(ctx, e, sys, inst, st, sz, remote)
			},
		})
	}
	for _, conc := range sz.sqliteConc {
		ws = append(ws, workload{
			id: fmt.Sprintf("sqlite-%d", conc), sqlite: true,
			rows: []row{{name: fmt.Sprintf("SQLite burn-down, %d jobs, concurrency %d", sz.sqliteJobs, conc), unit: "jobs/s"}},
			run: func(ctx context.Context, e *env, _ system, inst instance, _ store) ([]float64, int, cpuUse, error) {
				return burnDown(ctx, e, inst, sz.sqliteJobs, conc)
			},
		})
	}
	return ws
}

// meter measures a run's CPU time.
type meter struct {
	e              *env
	client, server time.Duration
	serverOK       bool
}

func (e *env) startMeter() *meter {
	m := &meter{e: e, client: clientCPU()}
	if e.server != nil {
		s, err := e.server.cpu()
		m.server, m.serverOK = s, err == nil
	}
	return m
}

// stop returns the CPU time since start; extra is the client's other
// processes' (a child that inserted).
func (m *meter) stop(extra time.Duration) cpuUse {
	u := cpuUse{client: clientCPU() - m.client + extra}
	if m.serverOK {
		if s, err := m.e.server.cpu(); err == nil {
			u.server, u.serverKnown = s-m.server, true
		}
	}
	return u
}

// burnDown inserts n jobs, then times workers of concurrency conc working
// them all off.
func burnDown(ctx context.Context, e *env, inst instance, n, conc int) ([]float64, int, cpuUse, error) {
	if err := inst.fill(ctx, n); err != nil {
		return nil, 0, cpuUse{}, fmt.Errorf("insert: %w", err)
	}
	if err := inst.analyze(ctx); err != nil {
		return nil, 0, cpuUse{}, fmt.Errorf("analyze: %w", err)
	}
	if err := e.quiesce(ctx); err != nil {
		return nil, 0, cpuUse{}, err
	}
	m := e.startMeter()
	start := time.Now()
	c, err := inst.work(ctx, conc, func(int64) {})
	if err != nil {
		return nil, 0, cpuUse{}, err
	}
	if err := c.wait(ctx, inst, n, runLimit); err != nil {
		return nil, 0, cpuUse{}, err
	}
	took := time.Since(start)
	return []float64{float64(n) / took.Seconds()}, n, m.stop(0), nil
}

// createWhileWorking times sz.createJobs jobs inserted one at a time by
// sz.producers producers while workers run them, until the last completes.
func createWhileWorking(ctx context.Context, e *env, inst instance, sz sizes) ([]float64, int, cpuUse, error) {
	n := sz.createJobs
	if err := e.quiesce(ctx); err != nil {
		return nil, 0, cpuUse{}, err
	}
	m := e.startMeter()
	start := time.Now()
	c, err := inst.work(ctx, sz.createConc, func(int64) {})
	if err != nil {
		return nil, 0, cpuUse{}, err
	}
	var next atomic.Int64
	errs := make(chan error, sz.producers)
	for range sz.producers {
		go func() {
			for next.Add(1) <= int64(n) {
				if err := inst.insert(ctx, 0); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range sz.producers {
		if err := <-errs; err != nil {
			return nil, 0, cpuUse{}, fmt.Errorf("insert: %w", err)
		}
	}
	if err := c.wait(ctx, inst, n, runLimit); err != nil {
		return nil, 0, cpuUse{}, err
	}
	took := time.Since(start)
	return []float64{float64(n) / took.Seconds()}, n, m.stop(0), nil
}

// settle is how long idle workers run before a pickup run inserts: clients
// start, listeners listen, leaders are elected.
const settle = time.Second

// pickup inserts sz.pickupJobs jobs one at a time, pausing between them
// (sz.pickupPause on average), into a queue whose workers are idle, from
// this process or from a child process, and returns the p50 and p99 of the
// time from each insert's call to its handler's start, in milliseconds.
func pickup(ctx context.Context, e *env, sys system, inst instance, st store, sz sizes, remote bool) ([]float64, int, cpuUse, error) {
	n := sz.pickupJobs
	if err := e.quiesce(ctx); err != nil {
		return nil, 0, cpuUse{}, err
	}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	c, err := inst.work(ctx, pickupConc, func(at int64) {
		d := time.Since(time.Unix(0, at))
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
	})
	if err != nil {
		return nil, 0, cpuUse{}, err
	}
	time.Sleep(settle)
	m := e.startMeter()
	var childCPU time.Duration
	if remote {
		if childCPU, err = runChild(ctx, childSpec{System: sys.name, Store: storeSpec(st), Jobs: n, Pause: sz.pickupPause}); err != nil {
			return nil, 0, cpuUse{}, err
		}
	} else if err := insertPaced(ctx, inst, n, sz.pickupPause); err != nil {
		return nil, 0, cpuUse{}, err
	}
	if err := c.wait(ctx, inst, n, runLimit); err != nil {
		return nil, 0, cpuUse{}, err
	}
	use := m.stop(childCPU)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	if len(lat) != n {
		return nil, 0, cpuUse{}, fmt.Errorf("%d jobs started, %d inserted", len(lat), n)
	}
	return []float64{ms(0.50), ms(0.99)}, n, use, nil
}

// insertPaced inserts n jobs one at a time, each carrying the moment its
// insert is called, with a pause of 0.5 to 1.5 times pause between them
// (the jitter keeps the inserts from falling in step with a poll).
func insertPaced(ctx context.Context, inst instance, n int, pause time.Duration) error {
	for i := range n {
		if i > 0 {
			time.Sleep(time.Duration(float64(pause) * (0.5 + rand.Float64())))
		}
		if err := inst.insert(ctx, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
	}
	return nil
}

// childEnv names the environment variable that makes the harness's binary
// a child that inserts jobs (its value a JSON childSpec).
const childEnv = "TASKMODEL_BENCH_CHILD"

// childSpec is what a child inserts, and where.
type childSpec struct {
	System string
	Store  storeJSON
	Jobs   int
	Pause  time.Duration
}

type storeJSON struct {
	SQLite            bool
	URL, Schema, Path string
}

func storeSpec(st store) storeJSON {
	return storeJSON{SQLite: st.sqlite, URL: st.url, Schema: st.schema, Path: st.path}
}

// runChild runs this program again as a child that inserts spec's jobs,
// and returns its CPU time.
func runChild(ctx context.Context, spec childSpec) (time.Duration, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("the inserting child: %w", err)
	}
	var cpu time.Duration
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return cpu, nil
}

// childMain is the child's work, when childEnv is set: open the system
// over the store and insert the jobs, paced.
func childMain(raw string) error {
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return fmt.Errorf("%s: %w", childEnv, err)
	}
	i := slices.IndexFunc(allSystems, func(s system) bool { return s.name == spec.System })
	if i < 0 {
		return fmt.Errorf("%s: no system %q", childEnv, spec.System)
	}
	ctx := context.Background()
	st := store{sqlite: spec.Store.SQLite, url: spec.Store.URL, schema: spec.Store.Schema, path: spec.Store.Path}
	inst, err := allSystems[i].open(ctx, st)
	if err != nil {
		return err
	}
	err = insertPaced(ctx, inst, spec.Jobs, spec.Pause)
	if cerr := inst.close(); err == nil {
		err = cerr
	}
	return err
}
