package evolutiontest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/tasktype"
)

// BenchmarkConstraintChange applies a migration that narrows two limits
// (the narrow_limits case: a data check, then on SQLite a rebuild of the
// task table, on PostgreSQL the CHECKs replaced NOT VALID and validated
// after the commit) to a table of TASKMODEL_BENCH_TASKS tasks (1,000,000 by
// default) with a history row each, while a writer updates one task after
// another. It reports the migration's time and the longest a write waited.
//
//	go test ./backends/evolutiontest -run '^$' -bench ConstraintChange -benchtime 1x
func BenchmarkConstraintChange(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("TASKMODEL_BENCH_TASKS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			b.Fatalf("TASKMODEL_BENCH_TASKS=%q: want a positive number of tasks", s)
		}
	}
	for _, e := range []string{sqlite.Engine, postgres.Engine} {
		b.Run(fmt.Sprintf("%s/tasks=%d", e, n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				v1, all := benchMigrations(b, e)
				d := openDB(b, e)
				ctx := context.Background()
				if err := d.migrate(ctx, v1); err != nil {
					b.Fatal(err)
				}
				seedMany(b, e, d, n)
				stop := make(chan struct{})
				var worst atomic.Int64
				var writes, failed atomic.Int64
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 1; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						start := time.Now()
						// A write SQLite's busy timeout gave up on counts
						// as a wait until it failed.
						if err := d.exec(ctx, "UPDATE job SET version = version + 1 WHERE id = ?", benchID(1+i%n)); err != nil {
							failed.Add(1)
						}
						writes.Add(1)
						if w := int64(time.Since(start)); w > worst.Load() {
							worst.Store(w)
						}
					}
				}()
				time.Sleep(200 * time.Millisecond)
				worst.Store(0)
				failed.Store(0)
				b.StartTimer()
				start := time.Now()
				if err := d.migrate(ctx, all); err != nil {
					b.Fatal(err)
				}
				took := time.Since(start)
				b.StopTimer()
				time.Sleep(100 * time.Millisecond)
				close(stop)
				wg.Wait()
				b.ReportMetric(took.Seconds(), "s/migration")
				b.ReportMetric(time.Duration(worst.Load()).Seconds(), "s/longest-write-wait")
				b.ReportMetric(float64(failed.Load()), "failed-writes")
			}
		})
	}
}

var benchChains = map[string][2][]tasktype.Migration{}

// benchMigrations generates the base spec and the narrow_limits case once.
func benchMigrations(b *testing.B, engine string) (v1, all []tasktype.Migration) {
	if c, ok := benchChains[engine]; ok {
		return c[0], c[1]
	}
	mod := newModule(b)
	if out, err := mod.generate(b, filepath.Join(casesDir, "base.yaml")); err != nil {
		b.Fatalf("taskgen: %v\n%s", err, out)
	}
	v1 = mod.migrations(b, engine)
	if out, err := mod.generate(b, filepath.Join(casesDir, "narrow_limits", "v2.yaml")); err != nil {
		b.Fatalf("taskgen: %v\n%s", err, out)
	}
	all = mod.migrations(b, engine)
	benchChains[engine] = [2][]tasktype.Migration{v1, all}
	return v1, all
}

func benchID(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012d", i, i) }

// seedMany stores n tasks, in QUEUED, RUNNING and DONE in turn, each with a
// creation history row, in one statement per table.
func seedMany(b *testing.B, engine string, d db, n int) {
	ctx := context.Background()
	var stmts []string
	if engine == postgres.Engine {
		stmts = []string{
			fmt.Sprintf(`INSERT INTO job (id, status, version, created_at, updated_at, weight, note, priority, tm_history_seq)
SELECT (lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, (ARRAY['QUEUED','RUNNING','DONE'])[1 + i %% 3], 1, now(), now(), 1, 'note ' || i, 1 + i %% 5, 1
FROM generate_series(1, %d) AS i`, n),
			`INSERT INTO job_history (task_id, seq, to_status, at, actor) SELECT id, 1, 'QUEUED', created_at, 'bench' FROM job`,
			`ANALYZE job`, `ANALYZE job_history`,
		}
	} else {
		stmts = []string{
			fmt.Sprintf(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)
INSERT INTO job (id, status, version, created_at, updated_at, weight, note, priority)
SELECT printf('%%08x-0000-4000-8000-%%012d', i, i), CASE i %% 3 WHEN 0 THEN 'QUEUED' WHEN 1 THEN 'RUNNING' ELSE 'DONE' END, 1,
  '2026-01-02 03:04:05+00:00', '2026-01-02 03:04:05+00:00', 1, 'note ' || i, 1 + i %% 5 FROM c`, n),
			`INSERT INTO job_history (task_id, seq, to_status, at, actor) SELECT id, 1, 'QUEUED', created_at, 'bench' FROM job`,
		}
	}
	for _, s := range stmts {
		if err := d.exec(ctx, s); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
}
