package postgres_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/analysis"
	analysisdb "github.com/taskmodel/taskmodel/gen/analysis/pgdb"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/pgdb"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/tasktype"
)

// TestQueryPlans checks that no generated query reads a whole task table:
// with 20,000 tasks and fresh statistics, the generic plan of every query in
// the model's query.sql (the plan a prepared statement settles on) finds its
// rows through an index. A join of the task table on a batch's rows once
// hashed a sequential scan of the table (TransitionMany and Claim), which
// cost 0.5 ms a batch at 5,000 tasks and grew with the table; this test
// failed then.
func TestQueryPlans(t *testing.T) {
	const tasks = 20000
	models := []struct {
		name       string
		running    string // the worker section's running status
		migrations []tasktype.Migration
		seed       func(ctx context.Context, pool *pgxpool.Pool) error
	}{
		{"analysis", analysis.Worker.Running, analysis.Migrations(postgres.Engine), func(ctx context.Context, pool *pgxpool.Pool) error {
			x := analysis.NewTask()
			x.UserID, x.ToolID, x.Agents = "user-1", "profile-my-data", []string{"unified-profiler"}
			_, err := engine.New[analysis.Task, analysis.Event](analysisdb.NewDriver(pool)).Create(ctx, x, engine.Meta{})
			return err
		}},
		{"training", training.Worker.Running, training.Migrations(postgres.Engine), func(ctx context.Context, pool *pgxpool.Pool) error {
			_, err := engine.New[training.Training, training.Event](trainingdb.NewDriver(pool)).Create(ctx, training.NewTraining(), engine.Meta{})
			return err
		}},
	}
	for _, m := range models {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), m.migrations)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			if err := m.seed(ctx, pool); err != nil {
				t.Fatal(err)
			}
			fill(t, pool, m.name, tasks)
			leases(t, pool, m.name, m.running)
			src, err := os.ReadFile("../../gen/" + m.name + "/sql/postgresql/query.sql")
			if err != nil {
				t.Fatal(err)
			}
			queries := backendtest.Queries(string(src), true)
			if len(queries) < 10 {
				t.Fatalf("found %d queries in %s's query.sql: the parser is broken", len(queries), m.name)
			}
			conn := genericPlans(t, pool)
			defer conn.Release()
			scan := regexp.MustCompile(`Seq Scan on ` + m.name + `\b`)
			for _, q := range queries {
				plan, err := explain(ctx, conn.Conn(), q)
				if err != nil {
					t.Errorf("%s: %v", q.Name, err)
					continue
				}
				if scan.MatchString(plan) {
					t.Errorf("%s reads the whole %s table at %d tasks:\n%s", q.Name, m.name, tasks, plan)
				}
			}
		})
	}
}

// genericPlans returns a connection of pool on which prepared statements
// use their generic plan from the start; the caller releases it (before it
// closes the pool).
func genericPlans(t *testing.T, pool *pgxpool.Pool) *pgxpool.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		conn.Release()
		t.Fatal(err)
	}
	return conn
}

// leases puts 200 of the table's tasks in the running status with a live
// lease, and gives every other task an expired lease, as finished tasks
// keep theirs: Lost once read every lease and every task to find the few
// running ones.
func leases(t *testing.T, pool *pgxpool.Pool, table, running string) {
	t.Helper()
	ctx := context.Background()
	stmts := []string{
		fmt.Sprintf(`UPDATE %[1]s SET status = $1 WHERE id IN (SELECT id FROM %[1]s ORDER BY id LIMIT 200)`, table),
		fmt.Sprintf(`UPDATE %[1]s SET tm_lease_owner = 'worker', tm_lease_attempt = 1,
			tm_lease_expires_at = CASE WHEN status = $1 THEN now() + interval '1 minute' ELSE now() - interval '1 day' END`, table),
	}
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s, running); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
		t.Fatal(err)
	}
}

// fill copies the table's one task until it holds n, each with its creation
// history row, and refreshes the planner's statistics.
func fill(t *testing.T, pool *pgxpool.Pool, table string, n int) {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND column_name <> 'id' ORDER BY ordinal_position`, table)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	list := strings.Join(cols, ", ")
	stmts := []string{
		fmt.Sprintf(`INSERT INTO %[1]s (id, %[2]s) SELECT gen_random_uuid(), %[2]s FROM %[1]s CROSS JOIN generate_series(2, %[3]d)`, table, list, n),
		fmt.Sprintf(`INSERT INTO %[1]s_history (task_id, seq, to_status, at, attempt, actor, message)
			SELECT id, 1, status, created_at, 0, '', '' FROM %[1]s WHERE id NOT IN (SELECT task_id FROM %[1]s_history)`, table),
		"ANALYZE " + table, "ANALYZE " + table + "_history",
	}
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// explain returns the generic plan of q: prepared, and explained with every
// parameter NULL (the plan does not depend on the values).
func explain(ctx context.Context, conn *pgx.Conn, q backendtest.Query) (string, error) {
	stmt := "plan_" + strings.ToLower(q.Name)
	if _, err := conn.Exec(ctx, "PREPARE "+stmt+" AS "+strings.TrimSuffix(q.SQL, ";")); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, "DEALLOCATE "+stmt) //nolint:errcheck
	args := ""
	if q.Params > 0 {
		args = "(" + strings.TrimSuffix(strings.Repeat("NULL, ", q.Params), ", ") + ")"
	}
	rows, err := conn.Query(ctx, "EXPLAIN (COSTS OFF) EXECUTE "+stmt+args)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}
