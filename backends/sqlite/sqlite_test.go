package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/analysis/sqlitedb"
	"github.com/taskmodel/taskmodel/gen/catalog"
	catalogdb "github.com/taskmodel/taskmodel/gen/catalog/sqlitedb"
	evaluationdb "github.com/taskmodel/taskmodel/gen/evaluation/sqlitedb"
	pipelinerundb "github.com/taskmodel/taskmodel/gen/pipelinerun/sqlitedb"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/sqlitedb"
	"github.com/taskmodel/taskmodel/tasktype"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t testing.TB) backends.Driver[analysis.Task] {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), analysis.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlitedb.NewDriver(db)
	})
}

func TestConformanceInMemory(t *testing.T) {
	backendtest.Run(t, func(t testing.TB) backends.Driver[analysis.Task] {
		db, err := sqlite.Open(context.Background(), ":memory:", analysis.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlitedb.NewDriver(db)
	})
}

func TestStoredValues(t *testing.T) {
	backendtest.RunStoredValues(t, func(t testing.TB) (backends.Driver[analysis.Task], backendtest.StoreJSON) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), analysis.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlitedb.NewDriver(db), func(ctx context.Context, id uuid.UUID, v string) error {
			_, err := db.ExecContext(ctx, `UPDATE analysis SET progress_detail = ? WHERE id = ?`, v, id.String())
			return err
		}
	})
}

// TestUndeclaredValues: see backendtest.RunUndeclaredValues. The CHECK is
// set aside on one connection, as a newer spec's migration would have
// rewritten it.
func TestUndeclaredValues(t *testing.T) {
	backendtest.RunUndeclaredValues(t, func(t testing.TB) (backends.Driver[analysis.Task], backendtest.StoreText) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), analysis.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlitedb.NewDriver(db), func(ctx context.Context, id uuid.UUID, column, v string) error {
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, `PRAGMA ignore_check_constraints = ON`); err != nil {
				return err
			}
			defer conn.ExecContext(ctx, `PRAGMA ignore_check_constraints = OFF`)
			_, err = conn.ExecContext(ctx, `UPDATE analysis SET `+column+` = ? WHERE id = ?`, v, id.String())
			return err
		}
	})
}

// TestOldWriter: see backendtest.RunOldWriter. SQLite adds no required
// column without a default in place (a migration rebuilds the table):
// TestClassifyNotNull covers the error.
func TestOldWriter(t *testing.T) {
	backendtest.RunOldWriter(t, func(t testing.TB) (backends.Driver[analysis.Task], func(context.Context) error) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), analysis.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlitedb.NewDriver(db), nil
	})
}

// TestClassifyNotNull: a NULL in a NOT NULL column is a ValidationError
// naming the column.
func TestClassifyNotNull(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), analysis.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`INSERT INTO analysis (id) VALUES ('x')`)
	got := sqlite.Classify(err)
	var ve *tasktype.ValidationError
	if !errors.As(got, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Rule != "required" || ve.Fields[0].Field == "" || strings.Contains(ve.Fields[0].Field, ".") {
		t.Fatalf("Classify(%v) = %v", err, got)
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	// Several processes (here, pools) starting at once on a new file.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := sqlite.Open(ctx, path, analysis.Migrations(sqlite.Engine))
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	db, err := sqlite.Open(ctx, path, analysis.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM taskmodel_migrations`).Scan(&n); err != nil || n != len(analysis.Migrations(sqlite.Engine)) {
		t.Fatalf("migrations recorded: %d, %v", n, err)
	}
	db.Close()
	older := analysis.Migrations(sqlite.Engine)[:3]
	all := analysis.Migrations(sqlite.Engine)
	want := "the database is at migration " + strings.TrimPrefix(all[len(all)-1].Name, "analysis/") + " of model analysis, newer than this program, whose spec of analysis ends at 0003_changes: run a build of the newer spec"
	if _, err := sqlite.Open(ctx, path, older); err == nil || err.Error() != want {
		t.Fatalf("older program: %v\nwant %s", err, want)
	}
	changed := analysis.Migrations(sqlite.Engine)
	changed[0].SQL = "CREATE TABLE other (x INTEGER);"
	_, err = sqlite.Open(ctx, path, changed)
	if err == nil || !strings.Contains(err.Error(), "migration analysis/0001_schema was applied with different SQL") {
		t.Fatalf("changed migration: %v", err)
	}
}

// TestChecksMirrorTheSpec writes rows the spec forbids straight into SQLite:
// the table's CHECK constraints refuse them.
func TestChecksMirrorTheSpec(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, ":memory:", analysis.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	insert := `INSERT INTO analysis (id, status, version, created_at, updated_at, user_id, tool_id, agents, progress, blobs_cleaned)
	           VALUES ('00000000-0000-0000-0000-000000000001', ?, 1, '2026-01-01', '2026-01-01', 'u', ?, ?, ?, 0)`
	tests := []struct {
		name     string
		status   string
		tool     string
		agents   string
		progress int
		ok       bool
	}{
		{"valid", "CREATED", "t", `["a"]`, 0, true},
		{"unknown status", "DONE", "t", `["a"]`, 0, false},
		{"empty tool_id", "CREATED", "", `["a"]`, 0, false},
		{"256-character tool_id", "CREATED", strings.Repeat("é", 256), `["a"]`, 0, false},
		{"255 multi-byte characters", "CREATED", strings.Repeat("é", 255), `["a"]`, 0, true},
		{"no agents", "CREATED", "t", `[]`, 0, false},
		{"agents not a list", "CREATED", "t", `{"a":1}`, 0, false},
		{"progress 101", "CREATED", "t", `["a"]`, 101, false},
		{"progress -1", "CREATED", "t", `["a"]`, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db.Exec(`DELETE FROM analysis`)
			_, err := db.Exec(insert, tt.status, tt.tool, tt.agents, tt.progress)
			if (err == nil) != tt.ok {
				t.Errorf("insert: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// go test ./backends/sqlite -run '^$' -bench Transitions
func BenchmarkTransitions(b *testing.B) {
	backendtest.BenchmarkTransitions(b, func(t testing.TB) backends.Driver[analysis.Task] {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), analysis.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlitedb.NewDriver(db)
	})
}

func TestListing(t *testing.T) {
	backendtest.RunListing(t, func(t testing.TB) backendtest.ListingDrivers {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), catalog.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return backendtest.ListingDrivers{Training: trainingdb.NewDriver(db), Evaluation: evaluationdb.NewDriver(db), Analysis: sqlitedb.NewDriver(db), PipelineRun: pipelinerundb.NewDriver(db), Lister: catalogdb.NewLister(db)}
	})
}

func TestLeases(t *testing.T) {
	backendtest.RunLeases(t, func(t testing.TB) backends.Leases {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlite.NewLeases(db)
	})
}

// TestLeasesMoveIntoTheTaskRow: migration 0008_lease_in_row moves the
// leases of a database that has worked under the lease table into the task
// rows and drops the table; the driver carries on: a holder keeps its lease,
// an expired one is lost.
func TestLeasesMoveIntoTheTaskRow(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	all := training.Migrations(sqlite.Engine)
	before := all[:slices.IndexFunc(all, func(m tasktype.Migration) bool { return m.Name == "training/0008_lease_in_row" })]
	if len(before) != 4 {
		t.Fatalf("%d migrations before 0008_lease_in_row, want 4", len(before))
	}
	db, err := sqlite.Open(ctx, path, before)
	if err != nil {
		t.Fatal(err)
	}
	// Tasks as a program of that time created them (today's driver writes
	// columns later migrations added).
	now := time.Now().UTC()
	ids := make([]uuid.UUID, 6) // held, lost, queued, reserved, requeued, done
	for i := range ids {
		ids[i] = uuid.New()
		at := now.Add(time.Duration(i-len(ids)) * time.Millisecond) // created in this order
		if _, err := db.ExecContext(ctx, `INSERT INTO training (id, status, version, created_at, updated_at) VALUES (?, 'QUEUED', 1, ?, ?)`, ids[i], at, at); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO training_history (task_id, seq, to_status, at, actor) VALUES (?, 1, 'QUEUED', ?, 'test')`, ids[i], at); err != nil {
			t.Fatal(err)
		}
	}
	live, expired := now.Add(time.Minute), now.Add(-time.Minute)
	for _, s := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE training SET status = 'RUNNING' WHERE id IN (?, ?)`, []any{ids[0], ids[1]}},
		{`UPDATE training SET status = 'DONE' WHERE id = ?`, []any{ids[5]}},
		{`INSERT INTO training_lease (task_id, owner, expires_at, attempt) VALUES (?, 'w1', ?, 2), (?, 'w2', ?, 1), (?, 'w1', ?, 1), (?, 'w2', ?, 3), (?, 'w1', ?, 1)`,
			[]any{ids[0], live, ids[1], expired, ids[3], live, ids[4], expired, ids[5], live}},
	} {
		if _, err := db.ExecContext(ctx, s.sql, s.args...); err != nil {
			t.Fatalf("%s: %v", s.sql, err)
		}
	}
	db.Close()

	db, err = sqlite.Open(ctx, path, all)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var left int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'training_lease'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("the lease table is still there (%d, %v)", left, err)
	}
	var owner string
	var attempt int
	if err := db.QueryRowContext(ctx, `SELECT tm_lease_owner, tm_lease_attempt FROM training WHERE id = ?`, ids[5]).Scan(&owner, &attempt); err != nil || owner != "" || attempt != 0 {
		t.Errorf("finished task's lease columns = %q, %d, %v; want the defaults", owner, attempt, err)
	}
	d := trainingdb.NewDriver(db)
	backendtest.MigratedLeases(t, d, func(x *training.Training) uuid.UUID { return x.ID }, training.Worker.Queue, training.Worker.Running, now,
		backendtest.MigratedTasks{Held: ids[0], Lost: ids[1], Queued: ids[2], Reserved: ids[3], Requeued: ids[4]})
	if ok, err := d.Delete(ctx, ids[5]); err != nil || !ok {
		t.Errorf("Delete after the migration = %v, %v; want true", ok, err)
	}
}

// TestMigrateReport: MigrateReport reports the migrations it applied, not
// those applied before; AppliedMigrations lists them all, in name order,
// with when, and reads a database never migrated without writing to it.
func TestMigrateReport(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	all := analysis.Migrations(sqlite.Engine)
	start := time.Now().Add(-time.Second)
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := sqlite.AppliedMigrations(ctx, db)
	if err != nil || len(got) != 0 {
		t.Fatalf("fresh database: %v, %v; want none", got, err)
	}
	var reported []string
	report := func(m tasktype.Migration, took time.Duration) {
		if took <= 0 {
			t.Errorf("%s took %s", m.Name, took)
		}
		reported = append(reported, m.Name)
	}
	for _, tt := range []struct {
		name       string
		migrations []tasktype.Migration
		want       []tasktype.Migration
	}{
		{"first three", all[:3], all[:3]},
		{"the rest", all, all[3:]},
		{"again", all, nil},
	} {
		reported = nil
		if err := sqlite.MigrateReport(ctx, db, tt.migrations, report); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var want []string
		for _, m := range tt.want {
			want = append(want, m.Name)
		}
		if !slices.Equal(reported, want) {
			t.Errorf("%s: reported %v, want %v", tt.name, reported, want)
		}
	}
	got, err = sqlite.AppliedMigrations(ctx, db)
	if err != nil || len(got) != len(all) {
		t.Fatalf("applied: %d, %v; want %d", len(got), err, len(all))
	}
	for i, a := range got {
		if a.Name != all[i].Name || a.Checksum != all[i].Checksum() {
			t.Errorf("applied %d: %s %.12s, want %s %.12s", i, a.Name, a.Checksum, all[i].Name, all[i].Checksum())
		}
		if a.AppliedAt.Before(start) || a.AppliedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("%s applied at %v", a.Name, a.AppliedAt)
		}
	}
}

// TestOpenReadOnlyFile: a database file this process may not write is
// refused at Open, not at its first write. Root may write any file, so the
// test needs another user.
func TestOpenReadOnlyFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes read-only files; run as another user to test the refusal")
	}
	path := filepath.Join(t.TempDir(), "ro.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	_, err = sqlite.Open(context.Background(), path)
	want := "sqlite: open " + path + ": the file is read-only for this process, and taskmodel writes to its database"
	if err == nil || err.Error() != want {
		t.Fatalf("Open: %v, want %s", err, want)
	}
}

// notes are three migrations of a small model; the third one's data check
// refuses notes longer than 5 characters.
func notes() []tasktype.Migration {
	return []tasktype.Migration{
		{Name: "job/0001_schema", SQL: "CREATE TABLE job (id TEXT PRIMARY KEY, note TEXT NOT NULL);\n"},
		{Name: "job/0002_at", SQL: "ALTER TABLE job ADD COLUMN at TEXT;\n"},
		{Name: "job/0003_short_note", SQL: "-- taskmodel:check job.note | at most 5 characters | tasks\nSELECT count(*), min(id) FROM job WHERE length(note) > 5;\n-- taskmodel:migrate\nCREATE INDEX job_note ON job (note);\n"},
	}
}

// TestMigrationRules: the refusals of a migration's data checks and of a
// broken numbering, as on every engine.
func TestMigrationRules(t *testing.T) {
	backendtest.RunMigrationRules(t, backendtest.Migrating{Engine: sqlite.Engine, Jobs: notes(),
		Open: func(t testing.TB, ms []tasktype.Migration) backendtest.MigratingDB {
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), ms)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return backendtest.SQLMigratingDB(db, sqlite.Migrate, sqlite.Applied)
		}})
}
