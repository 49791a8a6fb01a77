package evolutiontest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/tasktype"
)

// retirement is a case that retires a status: the task stored in it
// moves to the replacement.
type retirement struct {
	name     string // the case
	from, to string
	task     int // the stored task in the retired status
	version  string
}

var retirements = []retirement{
	{"retire_status", "PAUSED", "QUEUED", 3, "4"},            // into a status the old spec has
	{"rename_status_to_new", "CANCELLED", "ABORTED", 6, "3"}, // into a new one
}

// retireStatus generates the base spec, then the case over it, and a fresh
// model of the case: the MySQL migrations of v1, of v2 (v1's and the
// evolution) and of the fresh model.
func retireStatus(t *testing.T, r retirement) (v1, v2, fresh []tasktype.Migration) {
	t.Helper()
	mod := newModule(t)
	if out, err := mod.generate(t, filepath.Join(casesDir, "base.yaml")); err != nil {
		t.Fatalf("taskgen: %v\n%s", err, out)
	}
	v1 = mod.migrations(t, mysql.Engine)
	v2spec := filepath.Join(casesDir, r.name, "v2.yaml")
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
func checkRetired(t *testing.T, d db, fresh []tasktype.Migration, r retirement) {
	t.Helper()
	ctx := context.Background()
	checkFresh(t, mysql.Engine, d, fresh)
	rows, err := d.rows(ctx, "SELECT count(*) AS n FROM job_history WHERE from_status = '"+r.from+"' AND to_status = '"+r.to+"'")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0]["n"] != "1" {
		t.Errorf("%s history rows for the moved task, want 1", rows[0]["n"])
	}
	rows, err = d.rows(ctx, "SELECT status, version FROM job WHERE id = '"+id(r.task)+"'")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0]["status"] != r.to || rows[0]["version"] != r.version {
		t.Errorf("the moved task is %v, want %s at version %s", rows[0], r.to, r.version)
	}
}

// TestMySQLMigrationResumes fails a migration halfway on MySQL, which
// commits each schema change as it runs: the statements before the failed
// one stay applied, the error says so, and once the cause is fixed the
// next start resumes at the failed statement and ends with the schema of a
// fresh database, the retired status's task moved once.
func TestMySQLMigrationResumes(t *testing.T) {
	ctx := context.Background()
	r := retirements[0]
	v1, all, fresh := retireStatus(t, r)
	last := &all[len(all)-1]
	// A statement that fails until the table it reads exists, after the
	// history's change and the moves, before the task table's new CHECK.
	const gate = "SELECT count(*) FROM evolution_gate;\n"
	i := strings.LastIndex(last.SQL, "ALTER TABLE job\n")
	if i < 0 {
		t.Fatalf("no change of the task table in:\n%s", last.SQL)
	}
	last.SQL = last.SQL[:i] + gate + last.SQL[i:]
	d := openDB(t, mysql.Engine)
	if err := d.migrate(ctx, v1); err != nil {
		t.Fatal(err)
	}
	seed(t, mysql.Engine, d, true)
	err := d.migrate(ctx, all)
	// The moves (statements 2 and 3) run again before statement 4 at the
	// next start.
	var ferr *mysql.MigrationFailedError
	if !errors.As(err, &ferr) || ferr.Statement != 4 || ferr.Resume != 2 || !strings.Contains(err.Error(), "statement 1 stayed applied") {
		t.Fatalf("migration: %v, want statement 4 to fail after 3 applied, resuming at 2", err)
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
	checkRetired(t, d, fresh, r)
}

// TestMySQLMovesWrittenOnce runs the first statements of a migration that
// retires a status, as a process killed after them would have left them
// (it records no progress), then the whole migration: the moved task gets
// one history row, not one per start.
func TestMySQLMovesWrittenOnce(t *testing.T) {
	for _, r := range retirements {
		t.Run(r.name, func(t *testing.T) {
			ctx := context.Background()
			v1, all, fresh := retireStatus(t, r)
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
				checkRetired(t, d, fresh, r)
			}
		})
	}
}

// TestMySQLMovesAgain: a program still running the earlier spec puts tasks
// in the retired status after the moves, before the ALTER TABLE that
// narrows the status CHECK, which then fails on them. A start that
// resumes at that ALTER TABLE (as earlier versions left such a migration,
// failing at every start after) moves the tasks again first: the task
// written late and the one moved back get their history rows under their
// next numbers, and the CHECK is narrowed.
func TestMySQLMovesAgain(t *testing.T) {
	t0 := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	events := map[string]string{"PAUSED": "pause", "CANCELLED": "cancel"}
	for _, r := range retirements {
		t.Run(r.name, func(t *testing.T) {
			ctx := context.Background()
			v1, all, fresh := retireStatus(t, r)
			last := all[len(all)-1]
			parts, err := last.Parts()
			if err != nil {
				t.Fatal(err)
			}
			stmts, err := mysql.SplitStatements(parts.Body)
			if err != nil {
				t.Fatal(err)
			}
			narrow := -1
			for i, s := range stmts {
				if strings.Contains(s, "ADD CONSTRAINT job_status_check") {
					narrow = i
				}
			}
			if narrow < 0 {
				t.Fatalf("no narrowing of the status CHECK in:\n%s", parts.Body)
			}
			d := openDB(t, mysql.Engine)
			if err := d.migrate(ctx, v1); err != nil {
				t.Fatal(err)
			}
			seed(t, mysql.Engine, d, true)
			for _, s := range stmts[:narrow] {
				if err := d.exec(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			// The earlier program: a new task in the retired status, and
			// the moved one back in it.
			if err := d.exec(ctx, "INSERT INTO job (id, status, version, created_at, updated_at, weight, tm_history_seq) VALUES (?, ?, 1, ?, ?, 1, 1)", id(7), r.from, t0, t0); err != nil {
				t.Fatal(err)
			}
			if err := d.exec(ctx, "INSERT INTO job_history (task_id, seq, to_status, at, actor, message) VALUES (?, 1, ?, ?, 'old', '')", id(7), r.from, t0); err != nil {
				t.Fatal(err)
			}
			rows, err := d.rows(ctx, "SELECT tm_history_seq AS n FROM job WHERE id = '"+id(r.task)+"'")
			if err != nil {
				t.Fatal(err)
			}
			back := rows[0]["n"] // the moved task's number of history rows
			if err := d.exec(ctx, "UPDATE job SET status = ?, version = version + 1, tm_history_seq = tm_history_seq + 1 WHERE id = ?", r.from, id(r.task)); err != nil {
				t.Fatal(err)
			}
			if err := d.exec(ctx, "INSERT INTO job_history (task_id, seq, from_status, to_status, event, at, actor, message) VALUES (?, ? + 1, ?, ?, ?, ?, 'old', '')", id(r.task), back, r.to, r.from, events[r.from], t0); err != nil {
				t.Fatal(err)
			}
			// Where an earlier version left the migration: resuming at the
			// ALTER TABLE, which failed.
			if err := d.exec(ctx, "INSERT INTO taskmodel_migration_progress (name, checksum, statements, failed_at, error) VALUES (?, ?, ?, UTC_TIMESTAMP(6), 'CONSTRAINT job_status_check failed')",
				last.Name, last.Checksum(), narrow); err != nil {
				t.Fatal(err)
			}
			if err := d.migrate(ctx, all); err != nil {
				t.Fatalf("the start after: %v", err)
			}
			checkFresh(t, mysql.Engine, d, fresh)
			rows, err = d.rows(ctx, "SELECT task_id, seq, from_status, to_status FROM job_history WHERE actor = 'taskmodel migrate' ORDER BY task_id, seq")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, row := range rows {
				got = append(got, row["task_id"][len(row["task_id"])-1:]+"/"+row["seq"]+" "+row["from_status"]+">"+row["to_status"])
			}
			n, _ := strconv.Atoi(back)
			want := []string{
				fmt.Sprintf("%d/%d %s>%s", r.task, n, r.from, r.to),
				fmt.Sprintf("%d/%d %s>%s", r.task, n+2, r.from, r.to),
				fmt.Sprintf("7/2 %s>%s", r.from, r.to),
			}
			if !slices.Equal(got, want) {
				t.Errorf("the moves' history rows: %q, want %q", got, want)
			}
			rows, err = d.rows(ctx, "SELECT id, status, tm_history_seq AS n, (SELECT max(seq) FROM job_history AS h WHERE h.task_id = job.id) AS seq FROM job WHERE id IN ('"+id(r.task)+"', '"+id(7)+"') ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range rows {
				if row["status"] != r.to || row["n"] != row["seq"] {
					t.Errorf("task %s: %v, want %s with its history's number", row["id"], row, r.to)
				}
			}
		})
	}
}
