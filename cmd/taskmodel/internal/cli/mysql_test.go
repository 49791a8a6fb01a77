package cli

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/tasktype"
)

// TestMySQLUnreachable: serve, the migrate commands and pipeline tracking
// on MySQL connect, and a server that does not answer is an error naming
// the database, not a refusal of the engine.
func TestMySQLUnreachable(t *testing.T) {
	const url = "mysql://u@127.0.0.1:1/none"
	for _, args := range [][]string{
		{"serve", "--database-url", url},
		{"migrate", "status", "--database-url", url},
		{"migrate", "plan", "--database-url", url},
		{"migrate", "up", "--database-url", url},
		{"status", "--db-url", url},
		{"history", "--db-driver", "mariadb", "--db-name", "none", "--db-port", "1", "--db-user", "u"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != ExitFailure || !strings.HasPrefix(errb.String(), "taskmodel: database mysql mysql://u@") || !strings.Contains(errb.String(), ":1/none: mysql: ") || strings.Contains(errb.String(), "cannot use MySQL") {
				t.Fatalf("exit %d, stderr %q; want exit %d naming the database", code, errb.String(), ExitFailure)
			}
		})
	}
}

// TestMySQLNoSuchDatabase: a database the server does not have is
// explained (taskmodel does not create it), by the commands that read and
// by those that migrate, as a missing SQLite file or PostgreSQL schema is.
func TestMySQLNoSuchDatabase(t *testing.T) {
	u, err := url.Parse(mysqltest.Database(t)) // skips without a server
	if err != nil || u.Scheme != "mysql" {
		t.Skipf("TASKMODEL_TEST_MYSQL_URL is not a mysql:// URL: %v", err)
	}
	name := strings.TrimPrefix(u.Path, "/") + "_missing"
	u.Path = "/" + name
	want := "\nThe database " + name + " does not exist on the server; taskmodel creates its tables, not the database: create it (CREATE DATABASE `" + name + "`), or name an existing one.\n"
	for _, args := range [][]string{
		{"migrate", "status", "--database-url", u.String()},
		{"migrate", "up", "--database-url", u.String()},
		{"status", "--db-url", u.String()},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != ExitFailure || !strings.HasSuffix(errb.String(), want) || !strings.Contains(errb.String(), "Unknown database") {
				t.Fatalf("exit %d, stderr %q; want exit %d ending %q", code, errb.String(), ExitFailure, want)
			}
		})
	}
}

// partWayMigrations are the migrations of the builds the part-way tests
// run: the earlier build's (job/0001_schema), and the newer one's, which
// adds job/0002_priority, a migration of three statements (the third on
// another table, so that a test can hold it up there).
func partWayMigrations(newer bool) func(string) []tasktype.Migration {
	return partWayWith(newer, "CREATE INDEX job_priority ON job (priority);")
}

// partWayWith is partWayMigrations with the second statement of
// job/0002_priority replaced: the SQL of a build that changed it.
func partWayWith(newer bool, second string) func(string) []tasktype.Migration {
	return func(string) []tasktype.Migration {
		ms := []tasktype.Migration{{Name: "job/0001_schema", SQL: `CREATE TABLE job (id INT NOT NULL PRIMARY KEY, note VARCHAR(20) NOT NULL);
CREATE TABLE job_log (id INT NOT NULL PRIMARY KEY);
`}}
		if newer {
			ms = append(ms, tasktype.Migration{Name: "job/0002_priority", SQL: "ALTER TABLE job ADD COLUMN priority INT NOT NULL;\n" + second + "\nALTER TABLE job_log ADD COLUMN done BOOLEAN NULL;\n"})
		}
		return ms
	}
}

// TestMigrateStatusPartWay (MySQL, MariaDB): a migration whose start
// failed at a statement, or was stopped, leaves the statements before it
// applied; migrate status shows how far it went, how the start ended and
// what to do. With the build that has the migration it is "partial" and
// status exits 0 (migrate up resumes it, as serve does), unless the
// build's SQL of it changed since (exit 1, as up refuses); with the build
// before, which lacks it, it is "unknown" and status, plan and up exit 1
// with the refusal serve gives. A start that failed at its first
// statement left nothing: the migration is pending, and the build before
// runs. Then the newer build resumes the migration, and the build before is
// refused as after any newer migration.
func TestMigrateStatusPartWay(t *testing.T) {
	const stay = " (MySQL and MariaDB commit each schema change as it runs)"
	older, newer := partWayMigrations(false), partWayMigrations(true)
	changed := partWayWith(true, "CREATE INDEX job_priority ON job (priority, id);")
	for _, tt := range []struct {
		name string
		// leave makes the newer build's migration fail at a statement, or
		// stops it, and returns what undoes the cause.
		leave func(t *testing.T, url string, db *sql.DB) (fix string)
		// status is the newer build's line of job/0002_priority (its state
		// and note), older the earlier build's refusal ("" when it runs).
		// %[1]s is when the start last recorded its progress.
		status, older string
		// changed, when set, is the refusal of a build whose SQL of
		// job/0002_priority changed since (status, plan and up).
		changed string
		// resume is the statement up resumes at (0: it starts again).
		resume int
	}{
		{
			name: "failed at statement 2",
			leave: func(t *testing.T, url string, db *sql.DB) string {
				failingUp(t, url, db, "CREATE INDEX job_priority ON job (note)")
				return "DROP INDEX job_priority ON job"
			},
			status: "partial statement 1 of 3 applied, which stays" + stay + "; then the start applying it failed (%[1]s): Error 1061 (42000): Duplicate key name 'job_priority'; fix the cause, then run migrate up: it resumes at statement 2",
			older: "the database is part way through migration 0002_priority of model job, which this taskmodel does not have (its job ends at 0001_schema): " +
				"a start of a newer version of taskmodel applied its statement 1, which stays applied" + stay + ", and then a statement failed: Error 1061 (42000): Duplicate key name 'job_priority'; " +
				"run that version or a newer one, which resumes the migration at statement 2 once the cause of the failure is fixed",
			resume:  2,
			changed: "mysql: migration job/0002_priority was partly applied (its first 1 statements, from SQL with checksum " + newer("")[1].Checksum()[:12] + ") and this program's SQL differs (checksum " + changed("")[1].Checksum()[:12] + "): undo those statements or finish the migration by hand, then delete its row from taskmodel_migration_progress",
		},
		{
			name: "stopped after statement 2",
			leave: func(t *testing.T, url string, db *sql.DB) string {
				stoppedUp(t, url, db)
				return ""
			},
			status: "partial statements 1 to 2 of 3 applied, which stay" + stay + "; then the start applying it was stopped (%[1]s), killed or its connection cut; migrate up resumes it at statement 3",
			older: "the database is part way through migration 0002_priority of model job, which this taskmodel does not have (its job ends at 0001_schema): " +
				"a start of a newer version of taskmodel applied its statements 1 to 2, which stay applied" + stay + ", and then it was stopped; " +
				"run that version or a newer one, which resumes the migration at statement 3",
			resume: 3,
		},
		{
			name: "failed at statement 1",
			leave: func(t *testing.T, url string, db *sql.DB) string {
				failingUp(t, url, db, "ALTER TABLE job ADD COLUMN priority INT NULL")
				return "ALTER TABLE job DROP COLUMN priority"
			},
			status: "pending a start failed on it at %[1]s, leaving nothing applied: Error 1060 (42S21): Duplicate column name 'priority'; migrate up starts it again once the cause is fixed",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := mysqltest.Database(t) // skips without a server
			db := rawMySQL(t, url)
			flags := []string{"--database-url", url}
			if code, stdout, stderr := runApp(t, older, append([]string{"migrate", "up"}, flags...)...); code != 0 {
				t.Fatalf("the earlier build's up: exit %d\n%s%s", code, stdout, stderr)
			}
			fix := tt.leave(t, url, db)
			var at time.Time
			if err := db.QueryRow(`SELECT failed_at FROM taskmodel_migration_progress WHERE name = 'job/0002_priority'`).Scan(&at); err != nil {
				t.Fatalf("the progress of job/0002_priority: %v", err)
			}
			wantLine := "job/0002_priority " + fmt.Sprintf(tt.status, at.Local().Format("2006-01-02 15:04:05 MST"))

			// The newer build: partial (or pending), exit 0 unless its SQL changed.
			code, stdout, stderr := runApp(t, newer, append([]string{"migrate", "status"}, flags...)...)
			if got := statusLine(stdout, "job/0002_priority"); code != 0 || stderr != "" || got != wantLine {
				t.Errorf("the newer build's status: exit %d, stderr %q, line\n%s\nwant exit 0 and\n%s\n---- it printed:\n%s", code, stderr, got, wantLine, stdout)
			}
			state := strings.Fields(tt.status)[0]
			want := "\n2 migrations: 1 applied, 0 pending, 1 partial\n"
			if state == statePending {
				want = "\n2 migrations: 1 applied, 1 pending\n"
			}
			if !strings.Contains(stdout, want) {
				t.Errorf("the newer build's status does not end %q:\n%s", want, stdout)
			}
			if tt.name == "failed at statement 2" {
				serverDocPartWay(t, wantLine, tt.older)
			}
			code, stdout, _ = runApp(t, newer, append([]string{"migrate", "status", "--json"}, flags...)...)
			if want := `"state": "` + state + `"`; code != 0 || !strings.Contains(stdout, want) || !strings.Contains(stdout, `"part_way": {`) || !strings.Contains(stdout, `"resume_at": `) {
				t.Errorf("the newer build's status --json: exit %d, want 0, %s and part_way:\n%s", code, want, stdout)
			}

			// The build before: refused, or running.
			for _, cmd := range []string{"status", "plan", "up"} {
				code, stdout, stderr = runApp(t, older, append([]string{"migrate", cmd}, flags...)...)
				if tt.older == "" {
					if code != 0 || cmd == "status" && (strings.Contains(stdout, "job/0002") || !strings.Contains(stdout, "\n1 migration: 1 applied, 0 pending\n")) {
						t.Errorf("the earlier build's %s: exit %d, want 0\n%s%s", cmd, code, stdout, stderr)
					}
					continue
				}
				if code != ExitFailure || stderr != "taskmodel: "+tt.older+"\n" {
					t.Errorf("the earlier build's %s: exit %d, stderr\n%s\nwant exit 1 and\ntaskmodel: %s", cmd, code, stderr, tt.older)
				}
				if cmd == "status" && !strings.HasPrefix(statusLine(stdout, "job/0002_priority"), "job/0002_priority unknown part way (") {
					t.Errorf("the earlier build's status does not list job/0002_priority as unknown, part way:\n%s", stdout)
				}
				if cmd == "up" && stdout != "" {
					t.Errorf("the earlier build's up printed, before the refusal:\n%s", stdout)
				}
			}
			// Another program, whose models are not job: job's migrations
			// are another program's, and do not stop it.
			code, stdout, stderr = runApp(t, func(string) []tasktype.Migration {
				return []tasktype.Migration{{Name: "run/0001_schema", SQL: "CREATE TABLE run (id INT PRIMARY KEY);\n"}}
			}, append([]string{"migrate", "status"}, flags...)...)
			if got := statusLine(stdout, "job/0001_schema"); code != 0 || !strings.HasPrefix(got, "job/0001_schema other model job is not one of this taskmodel's") {
				t.Errorf("another program's status: exit %d, job/0001_schema: %q\n%s%s", code, got, stdout, stderr)
			}
			if tt.older != "" && !strings.HasPrefix(statusLine(stdout, "job/0002_priority"), "job/0002_priority other part way (") {
				t.Errorf("another program's status does not list job/0002_priority as part way:\n%s", stdout)
			}

			// A build whose SQL of the migration changed since: refused.
			if tt.changed != "" {
				for _, cmd := range []string{"status", "plan", "up"} {
					code, stdout, stderr = runApp(t, changed, append([]string{"migrate", cmd}, flags...)...)
					if code != ExitFailure || stderr != "taskmodel: "+tt.changed+"\n" {
						t.Errorf("the changed build's %s: exit %d, stderr\n%s\nwant exit 1 and\ntaskmodel: %s", cmd, code, stderr, tt.changed)
					}
					if got := statusLine(stdout, "job/0002_priority"); cmd == "status" && !strings.HasPrefix(got, "job/0002_priority partial statement 1 of 3 applied from different SQL (") {
						t.Errorf("the changed build's status: %q\n%s", got, stdout)
					}
				}
			}

			// The newer build's plan shows the statements applied already
			// and those up runs.
			code, stdout, stderr = runApp(t, newer, append([]string{"migrate", "plan"}, flags...)...)
			stmts := strings.SplitAfter(strings.TrimSpace(newer("")[1].SQL), "\n")
			want = "-- Body, run statement by statement: "
			if tt.resume > 0 {
				want = fmt.Sprintf("\n-- Applied already (%s), not run again:\n%s\n\n-- Run by up, statement by statement, from statement %d:\n%s\n",
					statementsText(tt.resume-1), strings.TrimSpace(strings.Join(stmts[:tt.resume-1], "")), tt.resume, strings.TrimSpace(strings.Join(stmts[tt.resume-1:], "")))
			}
			if code != 0 || !strings.Contains(stdout, want) {
				t.Errorf("the newer build's plan: exit %d, want\n%s\n---- it printed:\n%s%s", code, want, stdout, stderr)
			}

			// The cause fixed, the newer build resumes the migration; the
			// build before is refused as after any newer migration.
			if fix != "" {
				if _, err := db.Exec(fix); err != nil {
					t.Fatal(err)
				}
			}
			if code, stdout, stderr := runApp(t, newer, append([]string{"migrate", "up"}, flags...)...); code != 0 || !strings.Contains(stdout, "applied  job/0002_priority ") {
				t.Fatalf("the newer build's up after the fix: exit %d\n%s%s", code, stdout, stderr)
			}
			if code, stdout, stderr := runApp(t, newer, append([]string{"migrate", "status"}, flags...)...); code != 0 || !strings.Contains(stdout, "\n2 migrations: 2 applied, 0 pending\n") {
				t.Errorf("the newer build's status after up: exit %d\n%s%s", code, stdout, stderr)
			}
			want = "taskmodel: the database is at migration 0002_priority of model job, which this taskmodel does not have (its job ends at 0001_schema): a newer version of taskmodel migrated it; run that version or a newer one\n"
			if code, stdout, stderr := runApp(t, older, append([]string{"migrate", "status"}, flags...)...); code != ExitFailure || stderr != want || statusLine(stdout, "job/0002_priority") != "job/0002_priority unknown applied by a newer version of taskmodel; unknown to this one" {
				t.Errorf("the earlier build's status after up: exit %d, stderr %q\n%s", code, stderr, stdout)
			}
		})
	}
}

// statusLine returns the line of migration name in migrate status's
// output, without its time and with single spaces: "name state note".
func statusLine(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != name {
			continue
		}
		if f[2] == "-" {
			f = slices.Delete(f, 2, 3)
		} else if len(f) >= 5 && f[2] != "-" {
			f = slices.Delete(f, 2, 5) // date, clock, zone
		}
		return strings.Join(f, " ")
	}
	return ""
}

// rawMySQL connects to the database at url as the tests' own client
// (not mysql.Open, which creates tables).
func rawMySQL(t *testing.T, url string) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := mysqldriver.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return db
}

// failingUp runs the newer build's migrate up after stmt, which collides
// with a statement of job/0002_priority: up fails there and exits 1.
func failingUp(t *testing.T, url string, db *sql.DB, stmt string) {
	t.Helper()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runApp(t, partWayMigrations(true), "migrate", "up", "--database-url", url)
	if code != ExitFailure || !strings.Contains(stderr, "taskmodel: mysql: migration job/0002_priority: statement ") {
		t.Fatalf("the newer build's up: exit %d, want 1 and a failed statement\n%s%s", code, stdout, stderr)
	}
}

// stoppedUp stops the newer build's migrate up as a process killed part
// way: its third statement waits for a table a transaction of the test
// holds, and the test kills its connection. While it waits, status says a
// process is migrating the database.
func stoppedUp(t *testing.T, url string, db *sql.DB) {
	t.Helper()
	ctx := context.Background()
	hold, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	if _, err := hold.Exec(`SELECT COUNT(*) FROM job_log`); err != nil { // its metadata lock until the rollback
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() {
		code, stdout, stderr := runApp(t, partWayMigrations(true), "migrate", "up", "--database-url", url)
		done <- fmt.Sprintf("exit %d\n%s%s", code, stdout, stderr)
	}()
	var id int64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := db.QueryRow(`SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND info LIKE 'ALTER TABLE job_log%'`).Scan(&id)
		if err == nil {
			break
		}
		if !errors.Is(err, sql.ErrNoRows) || time.Now().After(deadline) {
			t.Fatalf("up's third statement is not waiting: %v", err)
		}
	}
	code, stdout, stderr := runApp(t, partWayMigrations(true), "migrate", "status", "--database-url", url)
	wantNote := "Note: a process holds the migration lock: it is migrating the database now, and what follows may change as it goes.\n"
	if got := statusLine(stdout, "job/0002_priority"); code != 0 || !strings.Contains(stdout, wantNote) ||
		!strings.HasPrefix(got, "job/0002_priority partial statements 1 to 2 of 3 applied, which stay (MySQL and MariaDB commit each schema change as it runs), the last at ") ||
		!strings.HasSuffix(got, ": a process holds the migration lock, and is applying it now or resumes it at statement 3") {
		t.Errorf("status while up runs: exit %d, line %q\n%s%s", code, got, stdout, stderr)
	}
	if _, err := db.Exec(fmt.Sprintf("KILL %d", id)); err != nil {
		t.Fatal(err)
	}
	if r := <-done; !strings.HasPrefix(r, "exit 1\n") {
		t.Fatalf("the newer build's up, killed: %s", r)
	}
}

// serverDocPartWay: docs/server.md's sample of status part way through a
// migration (MySQL) shows the line status prints, and the earlier
// build's refusal (times aside, spaces folded).
func serverDocPartWay(t *testing.T, line, refusal string) {
	t.Helper()
	doc, err := os.ReadFile("../../../../docs/server.md")
	if err != nil {
		t.Fatal(err)
	}
	clock := regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [A-Z+0-9-]+`)
	fold := func(s string) string { return strings.Join(strings.Fields(clock.ReplaceAllString(s, "TIME")), " ") }
	var got []string
	for _, l := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(l, "job/0002_priority ") {
			got = append(got, statusLine(l, "job/0002_priority"))
		}
	}
	if !slices.ContainsFunc(got, func(s string) bool { return fold(s) == fold(line) }) {
		t.Errorf("docs/server.md has no status line\n%s\n(it has %q)", line, got)
	}
	if !strings.Contains(strings.Join(strings.Fields(string(doc)), " "), "taskmodel: "+fold(refusal)) {
		t.Errorf("docs/server.md does not quote the earlier build's refusal:\ntaskmodel: %s", refusal)
	}
}
