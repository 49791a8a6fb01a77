package postgres_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
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

// TestClaimAfterSkipsClaimedEntries: a claimed task leaves its entry in the
// queue's range of the status index, dead, until VACUUM removes it, and a
// claim from the head of the queue steps over all of them. A claim after the
// last claimed task starts past them: with 10,000 tasks claimed since the
// last vacuum, it reads a handful of index pages where a claim from the head
// reads every page those entries fill (over a hundred).
func TestClaimAfterSkipsClaimedEntries(t *testing.T) {
	ctx := context.Background()
	pool, d, e := oneSession(t) // the statistics read below are this connection's
	for range 20 {
		xs := make([]*training.Training, 1000)
		for i := range xs {
			xs[i] = training.NewTraining()
		}
		if _, err := e.CreateMany(ctx, xs, engine.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	// The dead entries must stay for the measurement: no autovacuum here,
	// should the server run it.
	for _, q := range []string{"VACUUM ANALYZE training", "ALTER TABLE training SET (autovacuum_enabled = false)"} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	claim := func(after backends.QueuePosition, limit int) backends.QueuePosition {
		t.Helper()
		got, last, err := d.Claim(ctx, "w1", now, now.Add(time.Minute), limit, after)
		if err != nil || len(got) != limit {
			t.Fatalf("claimed %d, %v; want %d", len(got), err, limit)
		}
		return last
	}
	for range 10 {
		claim(backends.QueuePosition{}, 1000)
	}
	// pages reads the status index's page reads after a claim: a session
	// hands its counts over when it goes idle after a forced flush.
	pages := func(do func()) int64 {
		t.Helper()
		read := func() int64 {
			var n int64
			if err := pool.QueryRow(ctx, `SELECT idx_blks_hit + idx_blks_read FROM pg_statio_user_indexes
				WHERE schemaname = current_schema() AND indexrelname = 'training_status_created_at_idx'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if _, err := pool.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
			t.Fatal(err)
		}
		before := read()
		if _, err := pool.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
			t.Fatal(err)
		}
		do()
		if _, err := pool.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
			t.Fatal(err)
		}
		return read() - before
	}
	// A claim of one task: each claimed task's new row version is also
	// inserted into the index, which reads a root-to-leaf path.
	var last backends.QueuePosition
	fromHead := pages(func() { last = claim(backends.QueuePosition{}, 1) })
	after := pages(func() { claim(last, 1) })
	t.Logf("status index pages read by a claim of one task: %d from the head, %d after the last claimed task", fromHead, after)
	if after > 10 || fromHead < 5*after {
		t.Errorf("a claim after the last claimed task read %d status index pages, one from the head %d; want at most 10, and a fifth of the other", after, fromHead)
	}
}

// TestBatchPlansFollowTheTable: a claim first run while the task table was
// empty still finds its rows through the indexes once the table has filled,
// before any ANALYZE. A prepared statement keeps its plan, made with the
// statistics of that moment: the claim's update then read the whole table at
// every claim (180 ms a claim at 50,000 tasks) until autovacuum's first
// ANALYZE. Generated drivers run their claims through postgres.Replanned,
// whose plans last one period (postgres.ReplanEvery): the test moves from
// one period to the next after filling the table.
func TestBatchPlansFollowTheTable(t *testing.T) {
	ctx := context.Background()
	period := int64(1)
	postgres.SetPlanPeriod(t, &period)
	pool, d, e := oneSession(t) // its cached plans, its statistics
	// No ANALYZE may come to replace a stale plan, should the server run
	// autovacuum.
	for _, table := range []string{"training", "training_history"} {
		if _, err := pool.Exec(ctx, "ALTER TABLE "+table+" SET (autovacuum_enabled = false)"); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	claim := func() {
		t.Helper()
		if _, _, err := d.Claim(ctx, "w1", now, now.Add(time.Minute), 1, backends.QueuePosition{}); err != nil {
			t.Fatal(err)
		}
	}
	// On the empty table: a prepared statement would make its plan now (at
	// its first execution under force_generic_plan, after five otherwise).
	for range 10 {
		claim()
	}
	for range 20 {
		xs := make([]*training.Training, 1000)
		for i := range xs {
			xs[i] = training.NewTraining()
		}
		if _, err := e.CreateMany(ctx, xs, engine.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	var pages int64
	if err := pool.QueryRow(ctx, "SELECT pg_relation_size('training') / current_setting('block_size')::int").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	heap := func() int64 {
		t.Helper()
		var n int64
		if err := pool.QueryRow(ctx, `SELECT heap_blks_hit + heap_blks_read FROM pg_statio_user_tables
			WHERE schemaname = current_schema() AND relname = 'training'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	flush := func() {
		t.Helper()
		if _, err := pool.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	before := heap()
	flush()
	period++
	claim()
	flush()
	read := heap() - before
	t.Logf("a claim of one task read %d of the table's %d pages", read, pages)
	if read > pages/10 {
		t.Errorf("a claim of one task read %d of the table's %d pages: its plan is the empty table's", read, pages)
	}
}

// TestReplannedKeepsAPlanAPeriod: a Replanned statement is prepared once
// per connection and period, and each of its executions in the period
// reuses that statement (and its plan); the next period prepares it anew.
func TestReplannedKeepsAPlanAPeriod(t *testing.T) {
	ctx := context.Background()
	period := int64(7)
	postgres.SetPlanPeriod(t, &period)
	cfg := pgtest.Schema(t)
	cfg.MaxConns = 1 // one session: its prepared statements
	pool, err := postgres.OpenConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := postgres.Replanned(pool)
	const probe = "SELECT count(*) FROM pg_class WHERE relpages >= $1"
	run := func(times int) {
		t.Helper()
		for range times {
			var n int64
			if err := db.QueryRow(ctx, probe, 0).Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
	}
	prepared := func() map[string]int64 {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements
			WHERE statement LIKE 'SELECT count(*) FROM pg_class%' ORDER BY statement`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for rows.Next() {
			var stmt string
			var plans int64
			if err := rows.Scan(&stmt, &plans); err != nil {
				t.Fatal(err)
			}
			out[stmt[len(probe):]] = plans
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	steps := []struct {
		name string
		runs int
		next bool // move to the next period first
		want map[string]int64
	}{
		{"first period", 3, false, map[string]int64{"\n-- plan 7": 3}},
		{"same period", 2, false, map[string]int64{"\n-- plan 7": 5}},
		{"next period", 1, true, map[string]int64{"\n-- plan 7": 5, "\n-- plan 8": 1}},
	}
	for _, s := range steps {
		if s.next {
			period++
		}
		run(s.runs)
		got := prepared()
		if fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Errorf("%s: prepared statements (suffix: executions) = %v, want %v", s.name, got, s.want)
		}
	}
}

// TestWarmClaims: WarmClaims claims nothing and writes nothing, and leaves
// its connection holding the current period's claim statement with its
// plan, which the next claim in that period reuses; ClaimsCold is the
// start of the next period.
func TestWarmClaims(t *testing.T) {
	ctx := context.Background()
	period := int64(7)
	postgres.SetPlanPeriod(t, &period)
	pool, d, e := oneSession(t) // its prepared statements
	x, err := e.Create(ctx, training.NewTraining(), engine.Meta{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// plans counts the session's prepared claims of the period and their
	// generic plans.
	plans := func() (statements, generic int64) {
		t.Helper()
		err := pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(generic_plans), 0)::bigint FROM pg_prepared_statements
			WHERE statement LIKE '%SKIP LOCKED%' AND statement LIKE '%-- plan 7'`).Scan(&statements, &generic)
		if err != nil {
			t.Fatal(err)
		}
		return statements, generic
	}
	if s, _ := plans(); s != 0 {
		t.Fatalf("%d claim statements prepared before any claim", s)
	}
	if err := d.WarmClaims(ctx); err != nil {
		t.Fatal(err)
	}
	if s, g := plans(); s != 1 || g != 1 {
		t.Errorf("after WarmClaims: %d claim statements prepared, %d generic plans; want 1, 1", s, g)
	}
	got, err := e.Get(ctx, x.ID)
	if err != nil || got.Status != training.StatusQueued || got.Version != x.Version {
		t.Errorf("after WarmClaims the task is %v at version %d (%v); want it untouched", got.Status, got.Version, err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	claims, _, err := d.Claim(ctx, "w1", now, now.Add(time.Minute), 10, backends.QueuePosition{})
	if err != nil || len(claims) != 1 {
		t.Fatalf("the claim after WarmClaims got %d tasks (%v), want 1", len(claims), err)
	}
	if s, g := plans(); s != 1 || g != 2 {
		t.Errorf("after the claim: %d claim statements prepared, %d generic plan uses; want the warm one reused (1, 2)", s, g)
	}

	for _, c := range []struct{ at, want string }{
		{"2026-12-07T04:00:00.300Z", "2026-12-07T04:00:01Z"},
		{"2026-12-07T04:00:00Z", "2026-12-07T04:00:01Z"},
		{"2026-12-07T04:00:00.999999999Z", "2026-12-07T04:00:01Z"},
	} {
		at, _ := time.Parse(time.RFC3339Nano, c.at)
		if got := d.ClaimsCold(at).UTC().Format(time.RFC3339Nano); got != c.want {
			t.Errorf("ClaimsCold(%s) = %s, want %s", c.at, got, c.want)
		}
	}
}

// oneSession opens the training model in a schema of its own over a pool
// of one connection, one session (its prepared statements, plans and
// statistics), closed when the test ends; it returns the pool, the driver
// and an engine over it.
func oneSession(t *testing.T) (*pgxpool.Pool, *trainingdb.Driver, *engine.Engine[training.Training, training.Event, *training.Training]) {
	t.Helper()
	cfg := pgtest.Schema(t)
	cfg.MaxConns = 1
	pool, err := postgres.OpenConfig(context.Background(), cfg, training.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	d := trainingdb.NewDriver(pool)
	return pool, d, engine.New[training.Training, training.Event](d)
}
