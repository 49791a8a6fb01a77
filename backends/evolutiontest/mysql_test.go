package evolutiontest_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/tasktype"
)

// retireStatus generates the base spec, then retire_status over it, and a
// fresh model of retire_status: the MySQL migrations of v1, of v2 (v1's and
// the evolution) and of the fresh model.
func retireStatus(t *testing.T) (v1, v2, fresh []tasktype.Migration) {
	t.Helper()
	mod := newModule(t)
	if out, err := mod.generate(t, filepath.Join(casesDir, "base.yaml")); err != nil {
		t.Fatalf("taskgen: %v\n%s", err, out)
	}
	v1 = mod.migrations(t, mysql.Engine)
	v2spec := filepath.Join(casesDir, "retire_status", "v2.yaml")
	if out, err := mod.generate(t, v2spec); err != nil {
		t.Fatalf("taskgen: %v\n%s", err, out)
	}
	f := newModule(t)
	if out, err := f.generate(t, v2spec); err != nil {
		t.Fatalf("taskgen: %v\n%s", err, out)
	}
	return v1, mod.migrations(t, mysql.Engine), f.migrations(t, mysql.Engine)
}

// checkRetired checks that d has the schema of a fresh database of fresh
// and that the one task in the retired status moved with one history row.
func checkRetired(t *testing.T, d db, fresh []tasktype.Migration) {
	t.Helper()
	ctx := context.Background()
	checkFresh(t, mysql.Engine, d, fresh)
	rows, err := d.rows(ctx, "SELECT count(*) AS n FROM job_history WHERE from_status = 'PAUSED' AND to_status = 'QUEUED'")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0]["n"] != "1" {
		t.Errorf("%s history rows for the moved task, want 1", rows[0]["n"])
	}
	rows, err = d.rows(ctx, "SELECT status, version FROM job WHERE id = '"+id(3)+"'")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0]["status"] != "QUEUED" || rows[0]["version"] != "4" {
		t.Errorf("the moved task is %v, want QUEUED at version 4", rows[0])
	}
}

// TestMySQLMigrationResumes fails a migration halfway on MySQL, which
// commits each schema change as it runs: the statements before the failed
// one stay applied, the error says so, and once the cause is fixed the
// next start resumes at the failed statement and ends with the schema of a
// fresh database, the retired status's task moved once.
func TestMySQLMigrationResumes(t *testing.T) {
	ctx := context.Background()
	v1, all, fresh := retireStatus(t)
	last := &all[len(all)-1]
	// A statement that fails until the table it reads exists, after the
	// moves and the task table's change.
	const gate = "SELECT count(*) FROM evolution_gate;\n"
	i := strings.Index(last.SQL, "ALTER TABLE job_history")
	if i < 0 {
		t.Fatalf("no change of the history table in:\n%s", last.SQL)
	}
	last.SQL = last.SQL[:i] + gate + last.SQL[i:]
	d := openDB(t, mysql.Engine)
	if err := d.migrate(ctx, v1); err != nil {
		t.Fatal(err)
	}
	seed(t, mysql.Engine, d, true)
	err := d.migrate(ctx, all)
	var ferr *mysql.MigrationFailedError
	if !errors.As(err, &ferr) || ferr.Statement != 4 || !strings.Contains(err.Error(), "statements 1 to 3 stayed applied") {
		t.Fatalf("migration: %v, want statement 4 to fail after 3 applied", err)
	}
	if err := d.exec(ctx, "CREATE TABLE evolution_gate (x INT)"); err != nil {
		t.Fatal(err)
	}
	if err := d.migrate(ctx, all); err != nil {
		t.Fatalf("the migration resumed: %v", err)
	}
	if err := d.exec(ctx, "DROP TABLE evolution_gate"); err != nil {
		t.Fatal(err)
	}
	checkRetired(t, d, fresh)
}

// TestMySQLMovesWrittenOnce runs the first statements of a migration that
// retires a status, as a process killed after them would have left them
// (it records no progress), then the whole migration: the moved task gets
// one history row, not one per start.
func TestMySQLMovesWrittenOnce(t *testing.T) {
	ctx := context.Background()
	v1, all, fresh := retireStatus(t)
	parts, err := all[len(all)-1].Parts()
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := mysql.SplitStatements(parts.Body)
	if err != nil {
		t.Fatal(err)
	}
	for done := 1; done < len(stmts); done++ {
		d := openDB(t, mysql.Engine)
		if err := d.migrate(ctx, v1); err != nil {
			t.Fatal(err)
		}
		seed(t, mysql.Engine, d, true)
		for _, s := range stmts[:done] {
			if err := d.exec(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.migrate(ctx, all); err != nil {
			t.Fatalf("after %d statements: %v", done, err)
		}
		checkRetired(t, d, fresh)
	}
}
