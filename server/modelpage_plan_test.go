package server

import (
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/analysis"
)

// TestModelPageQueryPlans: the model page's counts, queue reads and moves
// of a window find their rows through the model's indexes, on SQLite: none
// reads a table from end to end, and the moves read the history's time
// index alone.
func TestModelPageQueryPlans(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "plan.db"), analysis.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	oldest, running := queueSQL("analysis", "")
	ownOldest, ownRunning := queueSQL("analysis", "user_id")
	queries := map[string]string{
		"count":             countSQL("analysis"),
		"count of an owner": countOfSQL("analysis", "user_id"),
		"oldest":            oldest,
		"running":           running,
		"oldest of owner":   ownOldest,
		"running of owner":  ownRunning,
	}
	now := time.Now().UTC()
	moveArgs := []any{now.Add(-time.Hour), now}
	for i := range MovesBuckets - 1 {
		moveArgs = append(moveArgs, now.Add(-time.Hour+time.Duration(i+1)*time.Hour/MovesBuckets))
	}
	queries["moves"] = movesSQL("analysis", "", MovesBuckets)
	queries["moves of owner"] = movesSQL("analysis", "user_id", MovesBuckets)
	tableScan := regexp.MustCompile(`\bSCAN analysis(_history)?\b`)
	for name, q := range queries {
		args := []any{"QUEUED", "alice"}
		if strings.HasPrefix(name, "moves") {
			args = moveArgs
			if name == "moves of owner" {
				args = append(args, "alice")
			}
		}
		if strings.Count(q, "$") < len(args) {
			args = args[:strings.Count(q, "$")]
		}
		text := sqlitePlan(t, db, sqliteParams(q), args...)
		t.Logf("%s: %s", name, text)
		if !strings.Contains(text, "INDEX analysis_") || (tableScan.MatchString(text) && !strings.Contains(text, "COVERING INDEX")) {
			t.Errorf("%s: plan %q does not use the model's indexes\n%s", name, text, q)
		}
		if strings.HasPrefix(name, "moves") && !strings.Contains(text, "SEARCH analysis_history USING COVERING INDEX analysis_history_at_idx (at>? AND at<?)") {
			t.Errorf("%s: plan %q does not read the window from the history's time index alone\n%s", name, text, q)
		}
	}
}

// TestModelMovesPlanPostgres: on PostgreSQL the moves of a window are read
// from the history's time index alone, newest first (an index-only backward
// scan), for an admin and for a user, once the history holds more moves
// in the window than the page reads.
func TestModelMovesPlanPostgres(t *testing.T) {
	ctx := context.Background()
	pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), analysis.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	now := time.Now().UTC()
	// 30,000 moves over the last hour, of tasks whose rows are not needed
	// (history rows are not checked against their task on PostgreSQL).
	if _, err := pool.Exec(ctx, `INSERT INTO analysis_history (task_id, seq, from_status, to_status, event, at)
		SELECT gen_random_uuid(), 2, 'PROCESSING', 'COMPLETED', 'complete', $1::timestamptz - i * interval '100 milliseconds'
		FROM generate_series(1, 30000) AS i`, now); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE analysis_history"); err != nil {
		t.Fatal(err)
	}
	args := []any{now.Add(-time.Hour), now}
	for i := range MovesBuckets - 1 {
		args = append(args, now.Add(-time.Hour+time.Duration(i+1)*time.Hour/MovesBuckets))
	}
	for _, col := range []string{"", "user_id"} {
		a := args
		if col != "" {
			a = append(a, "alice")
		}
		rows, err := pool.Query(ctx, "EXPLAIN "+movesSQL("analysis", col, MovesBuckets), a...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		t.Logf("moves, owner %q:\n%s", col, text)
		if !strings.Contains(text, "Index Only Scan Backward using analysis_history_at_idx on analysis_history") {
			t.Errorf("owner %q: the plan does not read the history's time index alone:\n%s", col, text)
		}
	}
}

// sqlitePlan is SQLite's plan of q with args, its steps joined by "; ".
func sqlitePlan(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}
