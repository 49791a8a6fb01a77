package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/training"
)

// TestQueryPlans checks that no generated query of the training model (a
// model with a worker section) reads a whole table: over 20,000 tasks, most
// finished with the expired lease finished tasks keep and 40 running with a
// live one, analyzed, every query's plan (EXPLAIN QUERY PLAN) finds its rows
// through an index. Lost once walked an index on lease expiry over every
// expired lease and looked each task up (46 ms at 50,000 tasks, growing
// with every task ever run); this test failed then.
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "plans.db"), training.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fill := []string{
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
		INSERT INTO training (id, status, version, created_at, updated_at, progress)
		SELECT printf('%08x-0000-4000-8000-000000000000', i), CASE WHEN i % 500 = 0 THEN 'RUNNING' WHEN i % 97 = 0 THEN 'QUEUED' ELSE 'DONE' END,
			3, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z', 0 FROM n`,
		`UPDATE training SET tm_lease_owner = 'worker', tm_lease_attempt = 1,
			tm_lease_expires_at = CASE WHEN status = 'RUNNING' THEN '2026-12-01T00:00:00Z' ELSE '2026-11-01T00:00:00Z' END
		WHERE status <> 'QUEUED'`,
		`INSERT INTO training_history (task_id, seq, to_status, at) SELECT id, 1, 'QUEUED', created_at FROM training`,
		`ANALYZE`,
	}
	for _, s := range fill {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	src, err := os.ReadFile("../../gen/training/sql/sqlite/query.sql")
	if err != nil {
		t.Fatal(err)
	}
	queries := backendtest.Queries(string(src), false)
	if len(queries) < 10 {
		t.Fatalf("found %d queries: the parser is broken", len(queries))
	}
	// A full scan of a table, named or aliased (SQLite names the alias); a
	// CTE, a subquery or json_each may be scanned.
	fullScan := regexp.MustCompile(`\bSCAN (training\w*|t|l|r|h|f)\b`)
	retention := false
	for _, q := range queries {
		plan, err := explainSQLite(ctx, db, q)
		if err != nil {
			t.Errorf("%s: %v", q.Name, err)
			continue
		}
		if fullScan.MatchString(plan) {
			t.Errorf("%s reads a whole table at 20,000 tasks:\n%s", q.Name, plan)
		}
		// Retention's condition on the status is the retention index's,
		// written alike (an OR chain on SQLite), or the planner cannot use it.
		if q.Name == "DeleteFinished" {
			retention = true
			if !strings.Contains(plan, "INDEX training_finished_idx") {
				t.Errorf("%s does not read the retention index:\n%s", q.Name, plan)
			}
		}
	}
	if !retention {
		t.Error("no query DeleteFinished: the retention index's check did not run")
	}
}

// explainSQLite returns the plan of q with every parameter NULL.
func explainSQLite(ctx context.Context, db *sql.DB, q backendtest.Query) (string, error) {
	args := make([]any, q.Params)
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+strings.TrimSuffix(q.SQL, ";"), args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		lines = append(lines, detail)
	}
	return strings.Join(lines, "\n"), rows.Err()
}
