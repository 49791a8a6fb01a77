package postgres_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/pgdb"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/tasktype"
)

// TestDeleteCascades: the history table has no foreign key (migration
// 0006_lean_writes), and deleting tasks still deletes their history,
// whichever statement deletes them: the driver's Delete, retention's
// DeleteFinished, or SQL written by hand. The other tasks' rows stay.
func TestDeleteCascades(t *testing.T) {
	ctx := context.Background()
	pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), training.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var fks int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_constraint
		WHERE conrelid = 'training_history'::regclass AND contype = 'f'`).Scan(&fks); err != nil {
		t.Fatal(err)
	}
	if fks != 0 {
		t.Errorf("%d foreign keys left on training_history, want 0", fks)
	}

	d := trainingdb.NewDriver(pool)
	e := engine.New[training.Training, training.Event](d, engine.WithWorker(training.Worker))
	ids := make([]uuid.UUID, 5)
	for i := range ids {
		x, err := e.Create(ctx, training.NewTraining(), engine.Meta{Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = x.ID
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	claims, _, err := d.Claim(ctx, "w1", now, now.Add(time.Minute), len(ids), backends.QueuePosition{})
	if err != nil || len(claims) != len(ids) {
		t.Fatalf("Claim = %d claims, %v; want %d", len(claims), err, len(ids))
	}
	// ids[0] ends DONE long ago, for retention.
	done := claims[0].Task
	if _, err := e.FireFrom(ctx, done, training.EventComplete, nil, engine.Meta{Actor: "w1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE training SET updated_at = now() - interval '1 day' WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}

	count := func(table string, id uuid.UUID) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE task_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, id := range ids {
		if count("training_history", id) == 0 {
			t.Fatalf("task %s has no history before the deletes", id)
		}
	}

	if n, err := d.DeleteFinished(ctx, now.Add(-time.Hour), 10); err != nil || n != 1 {
		t.Fatalf("DeleteFinished = %d, %v; want 1", n, err)
	}
	if err := e.Store().Delete(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM training WHERE id = ANY ($1)`, ids[2:3]); err != nil {
		t.Fatal(err)
	}
	// A session whose search_path does not hold the schema deletes a task by
	// its qualified name: the trigger deletes from the task's own schema.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SET search_path = pg_catalog`); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `DELETE FROM `+pgx.Identifier{schema, "training"}.Sanitize()+` WHERE id = $1`, ids[3])
	if _, rerr := conn.Exec(ctx, `RESET search_path`); rerr != nil {
		t.Fatal(rerr)
	}
	conn.Release()
	if err != nil {
		t.Fatalf("delete with another search_path: %v", err)
	}
	for i, id := range ids {
		want := 0
		if i == 4 {
			want = -1 // kept: any count above 0
		}
		switch n := count("training_history", id); {
		case want == 0 && n != 0:
			t.Errorf("task %d was deleted but %d of its history rows stayed", i, n)
		case want < 0 && n == 0:
			t.Errorf("task %d was kept but its history was deleted", i)
		}
	}
}

// TestListingPlansUsePartialIndexes: the indexes of the listing by tag and
// by owner are partial (WHERE <field> IS NOT NULL) on the models where the
// field is optional, and the unified listing's generic plan still uses every
// one of them: the planner proves that "tag = $n" implies tag IS NOT NULL.
// Were it not to, the listing would read those rows through the status
// index and filter, slowly and without a sequential scan to notice.
func TestListingPlansUsePartialIndexes(t *testing.T) {
	ctx := context.Background()
	pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), catalog.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	partial := partialIndexes(ctx, t, pool)
	if len(partial) < 5 {
		t.Fatalf("found %d partial listing indexes (%v), want one per model with an optional tag or owner", len(partial), partial)
	}
	// The listing benchmark's data set (tags, owners, statuses and ages as
	// the listing's requirements describe them), 20,000 tasks.
	if err := loadListing(ctx, t, pool, 20000); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../gen/catalog/sql/postgresql/query.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn := genericPlans(t, pool)
	defer conn.Release()
	var plan string
	for _, q := range backendtest.Queries(string(src), true) {
		p, err := explain(ctx, conn.Conn(), q)
		if err != nil {
			t.Fatalf("%s: %v", q.Name, err)
		}
		plan += p
	}
	for _, idx := range backendtest.Unused(plan, partial) {
		t.Errorf("no plan of the listing uses the partial index %s", idx)
	}
}

// partialIndexes lists the listing indexes made partial by 0006_lean_writes.
func partialIndexes(ctx context.Context, t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND indexname LIKE '%\_status\_created\_at\_idx' ORDER BY indexname`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(def, "IS NOT NULL") {
			out = append(out, name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLeasesMoveIntoTheTaskRow: migration 0008_lease_in_row moves the
// leases of a database that has worked under the lease table into the task
// rows, drops the table and the trigger that deleted from it, and the
// driver carries on: a holder keeps its lease, an expired one is lost.
func TestLeasesMoveIntoTheTaskRow(t *testing.T) {
	ctx := context.Background()
	cfg := pgtest.Schema(t)
	all := training.Migrations(postgres.Engine)
	before := all[:slices.IndexFunc(all, func(m tasktype.Migration) bool { return m.Name == "training/0008_lease_in_row" })]
	if len(before) != 7 {
		t.Fatalf("%d migrations before 0008_lease_in_row, want 7", len(before))
	}
	pool, err := postgres.OpenConfig(ctx, cfg.Copy(), before)
	if err != nil {
		t.Fatal(err)
	}
	// Tasks as a program of that time created them (today's driver writes
	// columns later migrations added).
	now := time.Now().UTC().Truncate(time.Microsecond)
	ids := make([]uuid.UUID, 6) // held, lost, queued, reserved, requeued, done
	for i := range ids {
		ids[i] = uuid.New()
		at := now.Add(time.Duration(i-len(ids)) * time.Millisecond) // created in this order
		if _, err := pool.Exec(ctx, `INSERT INTO training (id, status, version, created_at, updated_at) VALUES ($1, 'QUEUED', 1, $2, $2)`, ids[i], at); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO training_history (task_id, seq, to_status, at, actor) VALUES ($1, 1, 'QUEUED', $2, 'test')`, ids[i], at); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE training SET status = 'RUNNING' WHERE id = ANY ($1)`, []any{ids[:2]}},
		{`UPDATE training SET status = 'DONE' WHERE id = $1`, []any{ids[5]}},
		{`INSERT INTO training_lease (task_id, owner, expires_at, attempt) VALUES
			($1, 'w1', $6, 2), ($2, 'w2', $7, 1), ($3, 'w1', $6, 1), ($4, 'w2', $7, 3), ($5, 'w1', $6, 1)`,
			[]any{ids[0], ids[1], ids[3], ids[4], ids[5], now.Add(time.Minute), now.Add(-time.Minute)}},
	} {
		if _, err := pool.Exec(ctx, s.sql, s.args...); err != nil {
			t.Fatalf("%s: %v", s.sql, err)
		}
	}
	pool.Close()

	pool, err = postgres.OpenConfig(ctx, cfg, all)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var left int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_class WHERE relname = 'training_lease' AND relnamespace = current_schema()::regnamespace)
		+ (SELECT count(*) FROM pg_trigger WHERE tgname = 'training_lease_cascade' AND tgrelid = 'training'::regclass)`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("the lease table or its trigger is still there (%d)", left)
	}
	// A finished task's lease is not copied: its columns keep their defaults.
	var owner string
	var attempt int
	if err := pool.QueryRow(ctx, `SELECT tm_lease_owner, tm_lease_attempt FROM training WHERE id = $1`, ids[5]).Scan(&owner, &attempt); err != nil || owner != "" || attempt != 0 {
		t.Errorf("finished task's lease columns = %q, %d, %v; want the defaults", owner, attempt, err)
	}
	d := trainingdb.NewDriver(pool)
	backendtest.MigratedLeases(t, d, func(x *training.Training) uuid.UUID { return x.ID }, training.Worker.Queue, training.Worker.Running, now,
		backendtest.MigratedTasks{Held: ids[0], Lost: ids[1], Queued: ids[2], Reserved: ids[3], Requeued: ids[4]})
	// Deleting a task no longer runs the dropped trigger.
	if ok, err := d.Delete(ctx, ids[5]); err != nil || !ok {
		t.Errorf("Delete after the migration = %v, %v; want true", ok, err)
	}
}
