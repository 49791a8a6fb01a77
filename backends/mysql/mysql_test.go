package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/tasktype"
)

// jobs are the migrations of a model "job", as a generator would write them.
func jobs() []tasktype.Migration {
	return []tasktype.Migration{
		{Name: "job/0001_schema", SQL: `-- The job table.
CREATE TABLE job (
    id CHAR(36) NOT NULL PRIMARY KEY,
    note VARCHAR(20) NOT NULL,
    CONSTRAINT job_note_check CHECK (CHAR_LENGTH(note) BETWEEN 1 AND 20)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX job_note ON job (note);
`},
		{Name: "job/0002_at", SQL: "ALTER TABLE job ADD COLUMN at DATETIME(6) NULL;\n"},
		{Name: "job/0003_short_note", SQL: `-- taskmodel:check job.note | at most 5 characters | tasks
SELECT COUNT(*), MIN(id) FROM job WHERE CHAR_LENGTH(note) > 5;
-- taskmodel:migrate
ALTER TABLE job DROP CONSTRAINT job_note_check;
ALTER TABLE job ADD CONSTRAINT job_note_check CHECK (CHAR_LENGTH(note) BETWEEN 1 AND 5);
`},
	}
}

func open(t testing.TB, url string, migrations ...[]tasktype.Migration) *sql.DB {
	t.Helper()
	db, err := mysql.Open(context.Background(), url, migrations...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConnectionSettings(t *testing.T) {
	db := open(t, mysqltest.Database(t))
	var tz, mode, coll, charset string
	if err := db.QueryRow(`SELECT @@session.time_zone, @@session.sql_mode, @@collation_connection, @@character_set_client`).Scan(&tz, &mode, &coll, &charset); err != nil {
		t.Fatal(err)
	}
	if tz != "+00:00" || coll != mysql.Collation || charset != mysql.Charset {
		t.Errorf("time zone %q, collation %q, charset %q", tz, coll, charset)
	}
	for _, m := range strings.Split(mysql.SQLMode, ",") {
		if !strings.Contains(","+mode+",", ","+m+",") {
			t.Errorf("sql_mode %s lacks %s", mode, m)
		}
	}
	// A time goes in and comes back in UTC, to the microsecond.
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	var back time.Time
	if err := db.QueryRow(`SELECT CAST(? AS DATETIME(6))`, at).Scan(&back); err != nil {
		t.Fatal(err)
	}
	if want := at.UTC().Truncate(time.Microsecond); !back.Equal(want) || back.Location() != time.UTC {
		t.Errorf("time came back %v, want %v", back, want)
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	url := mysqltest.Database(t)
	// Several processes starting at once: the named lock serialises them.
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	applied := make(chan string, 100)
	for range 6 {
		wg.Go(func() {
			db, err := mysql.Open(ctx, url)
			if err == nil {
				err = mysql.MigrateReport(ctx, db, jobs(), func(m tasktype.Migration, _ time.Duration) { applied <- m.Name })
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	close(applied)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	var names []string
	for n := range applied {
		names = append(names, n)
	}
	if len(names) != len(jobs()) {
		t.Fatalf("reported %v, want each migration once", names)
	}
	db := open(t, url, jobs())
	got, err := mysql.AppliedMigrations(ctx, db)
	if err != nil || len(got) != 3 || got[2].Name != "job/0003_short_note" || got[2].Checksum != jobs()[2].Checksum() ||
		got[0].AppliedAt.Location() != time.UTC || time.Since(got[0].AppliedAt) > time.Hour || time.Since(got[0].AppliedAt) < -time.Minute {
		t.Fatalf("AppliedMigrations = %+v, %v", got, err)
	}
	sums, err := mysql.Applied(ctx, db)
	if err != nil || len(sums) != 3 || sums["job/0002_at"] != jobs()[1].Checksum() {
		t.Fatalf("Applied = %v, %v", sums, err)
	}

	tests := []struct {
		name       string
		migrations []tasktype.Migration
		err        string
	}{
		{"changed", func() []tasktype.Migration { m := jobs(); m[1].SQL = "ALTER TABLE job ADD COLUMN other INT;"; return m }(),
			"migration job/0002_at was applied with different SQL (checksum " + jobs()[1].Checksum()[:12] + ", this program's " +
				tasktype.Migration{SQL: "ALTER TABLE job ADD COLUMN other INT;"}.Checksum()[:12] + "); applied migrations are never rewritten: run the program that applied it, or restore the migration's file"},
		{"older program", jobs()[:1],
			"the database is at migration 0003_short_note of model job, newer than this program, whose spec of job ends at 0001_schema: run a build of the newer spec"},
		{"missing from the program", []tasktype.Migration{jobs()[0], jobs()[2]},
			"the database has applied migration 0002_at of model job, which this program does not have although its migrations of job go on to 0003_short_note; nothing is applied: restore its files from version control (a migration is never deleted once others follow it), run go generate and build again"},
		{"two under one number", append(jobs(), tasktype.Migration{Name: "job/0003_add_x", SQL: "ALTER TABLE job ADD COLUMN x INT NULL;\n"}),
			"this program's migrations of model job are broken: 0003_add_x and 0003_short_note have the same number 0003 (two branches each generated one?), so none is applied; keep the one a database has applied, if any, delete the other's files in the model's generated package (0003_short_note's: migrations/sqlite/0003_short_note.sql, migrations/postgresql/0003_short_note.sql, migrations/mysql/0003_short_note.sql and migrations/spec/0003_short_note.yaml; or 0003_add_x's: migrations/sqlite/0003_add_x.sql, migrations/postgresql/0003_add_x.sql, migrations/mysql/0003_add_x.sql and migrations/spec/0003_add_x.yaml), run go generate and build again"},
		{"same", jobs(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := mysql.Open(ctx, url, tt.migrations)
			if err == nil {
				db.Close()
			}
			if errText(err) != tt.err {
				t.Fatalf("Open = %v\nwant %s", err, tt.err)
			}
		})
	}
}

func TestAppliedMigrationsNeverMigrated(t *testing.T) {
	cfg, err := mysql.ParseDSN(mysqltest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	// A database never opened by Open: no bookkeeping table, nothing applied.
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := mysql.AppliedMigrations(context.Background(), db)
	if err != nil || got != nil {
		t.Fatalf("AppliedMigrations = %v, %v", got, err)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("tables after AppliedMigrations: %d, %v", n, err)
	}
}

// TestMigrationRules: the refusals of a migration's data checks and of a
// broken numbering, as on every engine.
func TestMigrationRules(t *testing.T) {
	backendtest.RunMigrationRules(t, backendtest.Migrating{Engine: mysql.Engine, Jobs: jobs(),
		Open: func(t testing.TB, ms []tasktype.Migration) backendtest.MigratingDB {
			return backendtest.SQLMigratingDB(open(t, mysqltest.Database(t), ms), mysql.Migrate, mysql.Applied)
		}})
}

// TestMigrationFailsPartWay: a statement fails after one committed; the
// error says so, and the next start resumes at the failed statement.
func TestMigrationFailsPartWay(t *testing.T) {
	ctx := context.Background()
	db := open(t, mysqltest.Database(t), jobs()[:1])
	if _, err := db.Exec(`INSERT INTO job (id, note) VALUES ('a', 'x'), ('b', 'x')`); err != nil {
		t.Fatal(err)
	}
	unique := tasktype.Migration{Name: "job/0002_unique", SQL: `ALTER TABLE job ADD COLUMN slot INT NULL;
CREATE UNIQUE INDEX job_note_unique ON job (note);
ALTER TABLE job ADD COLUMN done BOOLEAN NULL;
`}
	m := append(jobs()[:1], unique)
	err := mysql.Migrate(ctx, db, m)
	var failed *mysql.MigrationFailedError
	if !errors.As(err, &failed) || failed.Statement != 2 || failed.Statements != 3 || !mysql.IsDuplicate(err) {
		t.Fatalf("Migrate = %v, want statement 2 of 3 failing on a duplicate", err)
	}
	want := "mysql: migration job/0002_unique: statement 2 of 3 failed (CREATE UNIQUE INDEX job_note_unique ON job (note)): " + failed.Err.Error() +
		"; statement 1 stayed applied (MySQL commits each schema change as it runs), and the next start resumes at statement 2 once the cause is fixed"
	if err.Error() != want {
		t.Fatalf("error\n%s\nwant\n%s", err, want)
	}
	// Started again unchanged: it fails the same way, at the same statement.
	if err := mysql.Migrate(ctx, db, m); !errors.As(err, &failed) || failed.Statement != 2 {
		t.Fatalf("second Migrate = %v", err)
	}
	// A changed migration over a partial one is refused.
	changed := append(jobs()[:1], tasktype.Migration{Name: unique.Name, SQL: "SELECT 1;"})
	wantChanged := "mysql: migration job/0002_unique was partly applied (its first 1 statements, from SQL with checksum " + unique.Checksum()[:12] +
		") and this program's SQL differs (checksum " + changed[1].Checksum()[:12] + "): undo those statements or finish the migration by hand, then delete its row from taskmodel_migration_progress"
	if err := mysql.Migrate(ctx, db, changed); errText(err) != wantChanged {
		t.Fatalf("changed Migrate = %v\nwant %s", err, wantChanged)
	}
	// The cause fixed, it resumes: slot is not added twice.
	if _, err := db.Exec(`UPDATE job SET note = 'y' WHERE id = 'b'`); err != nil {
		t.Fatal(err)
	}
	if err := mysql.Migrate(ctx, db, m); err != nil {
		t.Fatal(err)
	}
	var cols, progress int
	if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'job' AND column_name IN ('slot', 'done')`).Scan(&cols); err != nil || cols != 2 {
		t.Fatalf("columns: %d, %v", cols, err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM taskmodel_migration_progress`).Scan(&progress); err != nil || progress != 0 {
		t.Fatalf("progress rows left: %d, %v", progress, err)
	}
}

// TestOlderProgramAfterAPartialMigration: a newer build's migration that
// failed or was stopped part way leaves its first statements applied (a
// NOT NULL column a program of the earlier spec does not write); such a
// program, started next (a rollback), is refused as it is after a
// completed newer migration, and told to run the build that has it, which
// resumes it. One that failed at its first statement left nothing: the
// earlier program starts.
func TestOlderProgramAfterAPartialMigration(t *testing.T) {
	ctx := context.Background()
	newer := tasktype.Migration{Name: "job/0002_priority", SQL: `ALTER TABLE job ADD COLUMN priority INT NOT NULL;
CREATE INDEX job_priority ON job (priority);
ALTER TABLE job ADD COLUMN done BOOLEAN NULL;
`}
	// failAt makes the newer build's migration fail: stmt, run first,
	// collides with one of its statements; undo removes it.
	failAt := func(stmt, undo string) func(t *testing.T, db *sql.DB) (string, func()) {
		return func(t *testing.T, db *sql.DB) (string, func()) {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatal(err)
			}
			err := mysql.Migrate(ctx, db, append(jobs()[:1], newer))
			var failed *mysql.MigrationFailedError
			if !errors.As(err, &failed) {
				t.Fatalf("the newer build's start: %v, want a failed statement", err)
			}
			return failed.Err.Error(), func() {
				if _, err := db.Exec(undo); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	tests := []struct {
		name  string
		leave func(t *testing.T, db *sql.DB) (failure string, fix func())
		older []tasktype.Migration
		want  string // %s: the failed statement's error
	}{
		{"failed at its second statement", failAt("CREATE INDEX job_priority ON job (note)", "DROP INDEX job_priority ON job"), jobs()[:1],
			"the database is part way through migration 0002_priority of model job, newer than this program, whose spec of job ends at 0001_schema: " +
				"a start of a build that has it applied its statement 1, which stays applied (MySQL and MariaDB commit each schema change as it runs), and then a statement failed: %s; " +
				"this program does not know the schema they changed. Run a build that has 0002_priority, which resumes the migration at statement 2 once the cause of the failure is fixed"},
		{"stopped after its second statement", func(t *testing.T, db *sql.DB) (string, func()) {
			stopAfter(t, db, append(jobs()[:1], newer), newer.Name, 2)
			return "", func() {}
		}, jobs()[:1],
			"the database is part way through migration 0002_priority of model job, newer than this program, whose spec of job ends at 0001_schema: " +
				"a start of a build that has it applied its statements 1 to 2, which stay applied (MySQL and MariaDB commit each schema change as it runs), and then it was stopped; " +
				"this program does not know the schema they changed. Run a build that has 0002_priority, which resumes the migration at statement 3"},
		{"another model's", failAt("CREATE INDEX job_priority ON job (note)", "DROP INDEX job_priority ON job"),
			[]tasktype.Migration{{Name: "other/0001_schema", SQL: "CREATE TABLE other (id INT PRIMARY KEY);\n"}}, ""},
		{"failed at its first statement", failAt("ALTER TABLE job ADD COLUMN priority INT NULL", "ALTER TABLE job DROP COLUMN priority"), jobs()[:1], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := open(t, mysqltest.Database(t), jobs()[:1])
			failure, fix := tt.leave(t, db)
			err := mysql.Migrate(ctx, db, tt.older)
			want := tt.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, failure)
			}
			if errText(err) != want {
				t.Fatalf("the earlier program's start: %v\nwant %s", err, want)
			}
			var unknown *tasktype.UnknownMigrationError
			if want != "" && !errors.As(err, &unknown) {
				t.Errorf("%T is no *tasktype.UnknownMigrationError", err)
			}
			// The newer build resumes the migration; the earlier program
			// is then refused as after any newer migration.
			fix()
			if err := mysql.Migrate(ctx, db, append(jobs()[:1], newer)); err != nil {
				t.Fatalf("the newer build resuming: %v", err)
			}
			if want == "" {
				return
			}
			want = "the database is at migration 0002_priority of model job, newer than this program, whose spec of job ends at 0001_schema: run a build of the newer spec"
			if err := mysql.Migrate(ctx, db, tt.older); errText(err) != want {
				t.Fatalf("the earlier program after the migration: %v\nwant %s", err, want)
			}
		})
	}
}

// TestMigrationResumesAfterAStop: a process that stops in the middle of a
// migration (killed, its connection cut) leaves the statements it ran
// recorded, and the next start runs only the others: none of them could run
// twice (a column added twice is an error).
func TestMigrationResumesAfterAStop(t *testing.T) {
	ctx := context.Background()
	three := tasktype.Migration{Name: "job/0002_three", SQL: `ALTER TABLE job ADD COLUMN a INT NULL;
ALTER TABLE job ADD COLUMN b INT NULL;
ALTER TABLE job ADD COLUMN c INT NULL;
`}
	for _, after := range []int{1, 2} {
		t.Run(fmt.Sprintf("stopped after statement %d", after), func(t *testing.T) {
			db := open(t, mysqltest.Database(t), jobs()[:1])
			m := append(jobs()[:1], three)
			stopAfter(t, db, m, three.Name, after)
			var progress int
			if err := db.QueryRow(`SELECT statements FROM taskmodel_migration_progress WHERE name = ?`, three.Name).Scan(&progress); err != nil || progress != after {
				t.Fatalf("recorded progress = %d, %v; want %d", progress, err, after)
			}
			if err := mysql.Migrate(ctx, db, m); err != nil {
				t.Fatalf("Migrate after the stop: %v", err)
			}
			var cols, rows int
			if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'job' AND column_name IN ('a', 'b', 'c')`).Scan(&cols); err != nil || cols != 3 {
				t.Errorf("columns a, b, c: %d, %v; want 3", cols, err)
			}
			if err := db.QueryRow(`SELECT COUNT(*) FROM taskmodel_migration_progress`).Scan(&rows); err != nil || rows != 0 {
				t.Errorf("progress rows left: %d, %v", rows, err)
			}
		})
	}
}

// TestMigrationResumesSessionStatements: a statement built in the session
// (SET @…, PREPARE, EXECUTE, DEALLOCATE PREPARE) needs the session of the
// ones before it, so a stop or a failure within such a run resumes at its
// first statement, in a new session; the statements before the run are
// not run again.
func TestMigrationResumesSessionStatements(t *testing.T) {
	ctx := context.Background()
	built := tasktype.Migration{Name: "job/0002_built", SQL: `ALTER TABLE job ADD COLUMN a INT NULL;
-- The index, unless an earlier start made it.
SET @tm_statement = (SELECT IF(COUNT(*) > 0, 'DO 0', 'CREATE UNIQUE INDEX job_note_unique ON job (note)')
    FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'job' AND index_name = 'job_note_unique');
PREPARE tm_statement FROM @tm_statement;
EXECUTE tm_statement;
DEALLOCATE PREPARE tm_statement;
ALTER TABLE job ADD COLUMN c INT NULL;
`}
	m := append(jobs()[:1], built)
	applied := func(t *testing.T, db *sql.DB) {
		t.Helper()
		var cols, index int
		if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'job' AND column_name IN ('a', 'c')`).Scan(&cols); err != nil || cols != 2 {
			t.Errorf("columns a and c: %d, %v; want 2", cols, err)
		}
		if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'job' AND index_name = 'job_note_unique'`).Scan(&index); err != nil || index != 1 {
			t.Errorf("index job_note_unique: %d entries, %v; want 1", index, err)
		}
	}
	// Stopped after each statement, the start after resumes where the
	// progress says: after the first ALTER TABLE, not within the run, which
	// goes on to the ALTER TABLE after it.
	for _, tt := range []struct{ stopAfter, progress int }{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}} {
		t.Run(fmt.Sprintf("stopped after statement %d", tt.stopAfter), func(t *testing.T) {
			db := open(t, mysqltest.Database(t), jobs()[:1])
			stopAfter(t, db, m, built.Name, tt.stopAfter)
			var progress int
			if err := db.QueryRow(`SELECT statements FROM taskmodel_migration_progress WHERE name = ?`, built.Name).Scan(&progress); err != nil || progress != tt.progress {
				t.Fatalf("recorded progress = %d, %v; want %d", progress, err, tt.progress)
			}
			if err := mysql.Migrate(ctx, db, m); err != nil {
				t.Fatalf("Migrate after the stop: %v", err)
			}
			applied(t, db)
		})
	}
	t.Run("a statement reading the variable", func(t *testing.T) {
		db := open(t, mysqltest.Database(t), jobs()[:1])
		if _, err := db.Exec(`INSERT INTO job (id, note) VALUES ('a', 'x')`); err != nil {
			t.Fatal(err)
		}
		reads := tasktype.Migration{Name: "job/0002_reads", SQL: `ALTER TABLE job ADD COLUMN a INT NULL;
SET @tm_a = 5;
UPDATE job SET a = @tm_a;
`}
		m := append(jobs()[:1], reads)
		stopAfter(t, db, m, reads.Name, 2)
		if err := mysql.Migrate(ctx, db, m); err != nil {
			t.Fatalf("Migrate after the stop: %v", err)
		}
		var a sql.NullInt64
		if err := db.QueryRow(`SELECT a FROM job WHERE id = 'a'`).Scan(&a); err != nil || a.Int64 != 5 {
			t.Errorf("a = %v, %v; want 5, set in the session the start after the stop ran the SET in again", a, err)
		}
	})
	t.Run("failed within the run", func(t *testing.T) {
		db := open(t, mysqltest.Database(t), jobs()[:1])
		if _, err := db.Exec(`INSERT INTO job (id, note) VALUES ('a', 'x'), ('b', 'x')`); err != nil {
			t.Fatal(err)
		}
		err := mysql.Migrate(ctx, db, m)
		var failed *mysql.MigrationFailedError
		if !errors.As(err, &failed) || failed.Statement != 4 || failed.Resume != 2 || !mysql.IsDuplicate(err) {
			t.Fatalf("Migrate = %v, want statement 4 failing on a duplicate, resuming at 2", err)
		}
		want := "mysql: migration job/0002_built: statement 4 of 6 failed (EXECUTE tm_statement): " + failed.Err.Error() +
			"; statement 1 stayed applied (MySQL commits each schema change as it runs); statements 2 to 3, which it needs in the same session, ran (what they changed stays), and the next start runs them again from statement 2 once the cause is fixed"
		if err.Error() != want {
			t.Fatalf("error\n%s\nwant\n%s", err, want)
		}
		// The cause fixed, the start after runs the SET again, in its own
		// session, and a column is not added twice.
		if _, err := db.Exec(`UPDATE job SET note = 'y' WHERE id = 'b'`); err != nil {
			t.Fatal(err)
		}
		if err := mysql.Migrate(ctx, db, m); err != nil {
			t.Fatalf("Migrate after the fix: %v", err)
		}
		applied(t, db)
	})
}

// moveThenNarrow is a migration that moves rows, as one that retires a
// status moves its tasks (a log row each, written once, then the UPDATE),
// and then narrows a CHECK so that no row may be left behind.
var moveThenNarrow = tasktype.Migration{Name: "job/0002_retire_old", SQL: `CREATE TABLE job_log (
    id CHAR(36) NOT NULL PRIMARY KEY,
    note VARCHAR(20) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- Notes 'old' become 'new', each with a log row.
INSERT INTO job_log (id, note) SELECT id, 'moved' FROM job WHERE note = 'old'
    AND NOT EXISTS (SELECT 1 FROM job_log AS l WHERE l.id = job.id);
UPDATE job SET note = 'new' WHERE note = 'old';
ALTER TABLE job ADD CONSTRAINT job_note_not_old CHECK (note NOT IN ('old', 'bad'));
`}

// TestMigrationMovesAgain: a program still running the earlier version
// writes a row the moves would have moved, after them and before the
// CHECK that refuses it. The CHECK fails; the same start moves the rows
// again and adds it. A start that gave up (or an earlier version, which
// resumed at the CHECK) leaves the moves to run again at the next start.
func TestMigrationMovesAgain(t *testing.T) {
	ctx := context.Background()
	m := append(jobs()[:1], moveThenNarrow)
	// late writes a row in note 'old' after the moves, once, as a program
	// still running the earlier version would.
	late := func(t *testing.T, db *sql.DB, note string) {
		var once sync.Once
		mysql.SetAfterStatement(t, func(migration string, statements int) {
			if migration == moveThenNarrow.Name && statements == 3 {
				once.Do(func() {
					if _, err := db.Exec(`INSERT INTO job (id, note) VALUES ('late', ?)`, note); err != nil {
						t.Error(err)
					}
				})
			}
		})
	}
	moved := func(t *testing.T, db *sql.DB) {
		t.Helper()
		var left, logged, progress int
		if err := db.QueryRow(`SELECT COUNT(*) FROM job WHERE note = 'old'`).Scan(&left); err != nil || left != 0 {
			t.Errorf("rows left in 'old': %d, %v", left, err)
		}
		if err := db.QueryRow(`SELECT COUNT(*) FROM job_log WHERE id IN ('a', 'late')`).Scan(&logged); err != nil || logged != 2 {
			t.Errorf("log rows of the moved rows: %d, %v; want 2", logged, err)
		}
		if err := db.QueryRow(`SELECT COUNT(*) FROM taskmodel_migration_progress`).Scan(&progress); err != nil || progress != 0 {
			t.Errorf("progress rows left: %d, %v", progress, err)
		}
		if _, err := db.Exec(`INSERT INTO job (id, note) VALUES ('after', 'old')`); err == nil {
			t.Error("the narrowed CHECK took a row in 'old'")
		}
	}
	setup := func(t *testing.T) *sql.DB {
		db := open(t, mysqltest.Database(t), jobs()[:1])
		if _, err := db.Exec(`INSERT INTO job (id, note) VALUES ('a', 'old'), ('b', 'kept')`); err != nil {
			t.Fatal(err)
		}
		return db
	}
	t.Run("in the same start", func(t *testing.T) {
		db := setup(t)
		late(t, db, "old")
		if err := mysql.Migrate(ctx, db, m); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		moved(t, db)
	})
	stmts, err := mysql.SplitStatements(moveThenNarrow.SQL)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("at the next start", func(t *testing.T) {
		db := setup(t)
		mysql.SetHealTries(t, 0)
		late(t, db, "old")
		err := mysql.Migrate(ctx, db, m)
		var failed *mysql.MigrationFailedError
		if !errors.As(err, &failed) || failed.Statement != 4 || failed.Resume != 2 || !failed.Data {
			t.Fatalf("Migrate = %v, want statement 4 failing, resuming at 2", err)
		}
		want := "mysql: migration job/0002_retire_old: statement 4 of 4 failed (" + mysql.Excerpt(stmts[3]) + "): " + failed.Err.Error() +
			"; statement 1 stayed applied (MySQL commits each schema change as it runs); statements 2 to 3 change rows, which a program still running the earlier version may have written since they ran, and the next start runs them again before statement 4 once the cause is fixed"
		if err.Error() != want {
			t.Fatalf("error\n%s\nwant\n%s", err, want)
		}
		var progress int
		if err := db.QueryRow(`SELECT statements FROM taskmodel_migration_progress WHERE name = ?`, moveThenNarrow.Name).Scan(&progress); err != nil || progress != 1 {
			t.Fatalf("recorded progress = %d, %v; want 1", progress, err)
		}
		if err := mysql.Migrate(ctx, db, m); err != nil {
			t.Fatalf("the next start: %v", err)
		}
		moved(t, db)
	})
	t.Run("resumed at the CHECK", func(t *testing.T) {
		// What an earlier version recorded: the moves done, the start to
		// resume at the CHECK, which fails on the row written since.
		db := setup(t)
		for _, s := range stmts[:3] {
			if _, err := db.Exec(s); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Exec(`INSERT INTO job (id, note) VALUES ('late', 'old')`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO taskmodel_migration_progress (name, checksum, statements, failed_at, error)
			VALUES (?, ?, 3, UTC_TIMESTAMP(6), 'Error 4025 (23000): CONSTRAINT job_note_not_old failed')`, moveThenNarrow.Name, moveThenNarrow.Checksum()); err != nil {
			t.Fatal(err)
		}
		if err := mysql.Migrate(ctx, db, m); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		moved(t, db)
	})
	t.Run("a row the moves leave", func(t *testing.T) {
		// The moves change nothing: the CHECK fails as it did, once.
		db := setup(t)
		late(t, db, "bad")
		err := mysql.Migrate(ctx, db, m)
		var failed *mysql.MigrationFailedError
		if !errors.As(err, &failed) || failed.Statement != 4 || failed.Resume != 2 || !failed.Data {
			t.Fatalf("Migrate = %v, want statement 4 failing, resuming at 2", err)
		}
		if _, err := db.Exec(`DELETE FROM job WHERE note = 'bad'`); err != nil {
			t.Fatal(err)
		}
		if err := mysql.Migrate(ctx, db, m); err != nil {
			t.Fatalf("Migrate after the fix: %v", err)
		}
	})
}

// stopAfter starts Migrate(m) and stops it, as a killed process stops,
// right after it applied statement n of the migration named name: nothing
// after that runs, its progress record included.
func stopAfter(t *testing.T, db *sql.DB, m []tasktype.Migration, name string, n int) {
	t.Helper()
	stopped := make(chan struct{})
	mysql.SetAfterStatement(t, func(migration string, statements int) {
		if migration == name && statements == n {
			close(stopped)
			runtime.Goexit() // the process stops here: nothing after runs
		}
	})
	go mysql.Migrate(context.Background(), db, m)
	<-stopped
	mysql.SetAfterStatement(t, func(string, int) {})
}

func TestMigrationFailsFirst(t *testing.T) {
	db := open(t, mysqltest.Database(t))
	m := []tasktype.Migration{{Name: "job/0001_schema", SQL: "CREATE TABLE job (id INT PRIMARY KEY, x NOSUCHTYPE);"}}
	err := mysql.Migrate(context.Background(), db, m)
	var failed *mysql.MigrationFailedError
	if !errors.As(err, &failed) || !strings.HasSuffix(err.Error(), "; nothing of it was applied, and the next start resumes at statement 1 once the cause is fixed") {
		t.Fatalf("Migrate = %v", err)
	}
}

func TestLeases(t *testing.T) {
	backendtest.RunLeases(t, func(t testing.TB) backends.Leases {
		db, err := mysql.Open(context.Background(), mysqltest.Database(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return mysql.NewLeases(db)
	})
}

// TestClassify provokes each error on the server and classifies it.
func TestClassify(t *testing.T) {
	db := open(t, mysqltest.Database(t), jobs()[:2])
	if _, err := db.Exec(`INSERT INTO job (id, note) VALUES ('a', 'x')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE num (n TINYINT NOT NULL, doc JSON NULL)`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, sql string
		want      string // the classified error's text
		is        error
	}{
		{"duplicate", `INSERT INTO job (id, note) VALUES ('a', 'y')`, "task already exists: Duplicate entry 'a' for key 'PRIMARY'", tasktype.ErrDuplicate},
		{"check", `INSERT INTO job (id, note) VALUES ('b', '')`, "note: the value breaks the database's constraint job_note_check, which this program's spec does not have (a newer version of the spec likely migrated the database)", tasktype.ErrValidation},
		{"too long", `INSERT INTO job (id, note) VALUES ('c', REPEAT('x', 21))`, "note: is longer than the column allows", tasktype.ErrValidation},
		{"null", `INSERT INTO job (id, note) VALUES ('d', NULL)`, "note: must not be null", tasktype.ErrValidation},
		{"out of range", `INSERT INTO num (n) VALUES (300)`, "n: is out of the column's range", tasktype.ErrValidation},
		{"wrong type", `INSERT INTO num (n) VALUES ('many')`, "n: is not a value of the column's type", tasktype.ErrValidation},
		{"no row", `SELECT note FROM job WHERE id = 'none'`, "task not found", tasktype.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if strings.HasPrefix(tt.sql, "SELECT") {
				var s string
				err = db.QueryRow(tt.sql).Scan(&s)
			} else {
				_, err = db.Exec(tt.sql)
			}
			got := mysql.Classify(err)
			if errText(got) != tt.want || !errors.Is(got, tt.is) {
				t.Fatalf("Classify(%v) = %v, want %s", err, got, tt.want)
			}
		})
	}
	if err := mysql.Classify(errors.New("other")); err.Error() != "other" {
		t.Fatalf("Classify(other) = %v", err)
	}
}

// BenchmarkLeaseAcquire renews one lease: the upsert and the read of its
// row, one transaction.
// go test ./backends/mysql -run '^$' -bench LeaseAcquire
func BenchmarkLeaseAcquire(b *testing.B) {
	ctx := context.Background()
	db, err := mysql.Open(ctx, mysqltest.Database(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l := mysql.NewLeases(db)
	now := time.Now()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		if ok, err := l.Acquire(ctx, "sweep", "a", now, time.Minute); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
