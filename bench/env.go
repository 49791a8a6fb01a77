package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
)

// env is what the runs share: the private PostgreSQL server and a
// temporary directory for the SQLite files.
type env struct {
	cluster *pgtest.Cluster
	server  *server
	admin   *pgx.Conn // creates and drops the runs' schemas
	dir     string
	runs    int
	started time.Time
	load    string // the load average when the comparison started
}

// newEnv makes the temporary directory and, when pg, starts the private
// server with PostgreSQL's defaults.
func newEnv(ctx context.Context, pg bool) (_ *env, err error) {
	e := &env{started: time.Now(), load: loadAverage()}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dir, err = os.MkdirTemp("", "bench-compare-"); err != nil {
		return nil, err
	}
	if !pg {
		return e, nil
	}
	if e.cluster, err = pgtest.Start(); err != nil {
		return nil, err
	}
	if e.admin, err = pgx.Connect(ctx, e.cluster.URL()); err != nil {
		return nil, err
	}
	if e.server, err = findServer(ctx, e.cluster.URL()); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *env) close() {
	if e.admin != nil {
		e.admin.Close(context.Background())
	}
	if e.cluster != nil {
		if err := e.cluster.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// runOnce runs w on sys over a fresh store (a new schema, or a new SQLite
// file), removed afterwards.
func (e *env) runOnce(ctx context.Context, w workload, sys system) (_ []sample, err error) {
	e.runs++
	st := store{sqlite: w.sqlite}
	if w.sqlite {
		st.path = filepath.Join(e.dir, fmt.Sprintf("run-%d.db", e.runs))
	} else {
		st.url, st.schema = e.cluster.URL(), fmt.Sprintf("run_%d", e.runs)
		if _, err := e.admin.Exec(ctx, "CREATE SCHEMA "+st.schema); err != nil {
			return nil, err
		}
	}
	defer func() { err = errors.Join(err, e.drop(st)) }()
	inst, err := sys.open(ctx, st)
	if err != nil {
		return nil, err
	}
	values, jobs, use, err := w.run(ctx, e, sys, inst, st)
	if w.sqlite {
		use.serverKnown = false // the PostgreSQL server idles through SQLite's runs
	}
	if cerr := inst.close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	out := make([]sample, len(values))
	for i, v := range values {
		out[i] = sample{value: v, client: perJob(use.client, jobs), server: perJob(use.server, jobs), serverKnown: use.serverKnown}
	}
	return out, nil
}

// perJob is d per job in microseconds.
func perJob(d time.Duration, jobs int) float64 {
	return float64(d.Microseconds()) / float64(jobs)
}

// drop removes a run's store.
func (e *env) drop(st store) error {
	if st.sqlite {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(st.path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	}
	_, err := e.admin.Exec(context.Background(), "DROP SCHEMA "+st.schema+" CASCADE")
	return err
}

// quiesce starts a run from the same state of the server: a checkpoint
// writes the dirty pages of what the run prepared (and of the runs
// before), so that no run pays for another's.
func (e *env) quiesce(ctx context.Context) error {
	if e.admin == nil {
		return nil
	}
	_, err := e.admin.Exec(ctx, "CHECKPOINT")
	return err
}

// describe tells what the comparison ran on.
func (e *env) describe(ctx context.Context, sz sizes) string {
	var b strings.Builder
	rounds := fmt.Sprintf("%d rounds", sz.rounds)
	if sz.rounds == 1 {
		rounds = "1 round"
	}
	var names []string
	for _, s := range allSystems {
		names = append(names, s.name)
	}
	alone := ""
	if sqlAloneLikeTaskmodel {
		alone = "; SQL alone with taskmodel's indexes and history columns (-sql-alone-like-taskmodel)"
	}
	fmt.Fprintf(&b, "Compared %s, %s (each workload: %s in turn%s), %s.\n",
		e.started.UTC().Format("2006-01-02 15:04 MST"), rounds, strings.Join(names, ", "), alone, time.Since(e.started).Round(time.Second))
	fmt.Fprintf(&b, "Machine: %d cores, %s; load average %s at the start, %s at the end.\n",
		runtime.NumCPU(), runtime.Version(), e.load, loadAverage())
	if e.admin != nil {
		var v string
		if err := e.admin.QueryRow(ctx, "SHOW server_version").Scan(&v); err == nil {
			fmt.Fprintf(&b, "PostgreSQL %s, a private server with its default settings, on the same machine.\n", strings.Fields(v)[0])
		}
	}
	return b.String()
}

// loadAverage is the machine's 1-minute load average, from /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}
