package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/tasktype"
)

// runApp runs a command line with migrations in place of serve's.
func runApp(t *testing.T, migrations func(string) []tasktype.Migration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &App{IO: IO{In: strings.NewReader(""), Out: &out, Err: &errb}, migrations: migrations}
	code = app.main(context.Background(), args)
	return code, out.String(), errb.String()
}

// job is a model of three migrations: a table, a row, and a narrower
// limit the row breaks, which a data check refuses.
func job(engine string) []tasktype.Migration {
	ms := []tasktype.Migration{
		{Name: "job/0001_schema", SQL: "CREATE TABLE job (id TEXT PRIMARY KEY, note TEXT);\n"},
		{Name: "job/0002_rows", SQL: "INSERT INTO job VALUES ('00000000-0000-0000-0000-000000000001', 'a note of 21 letters'), ('00000000-0000-0000-0000-000000000002', 'short');\n"},
		{Name: "job/0003_short_notes", SQL: `-- taskmodel:check job.note | at most 10 characters | tasks
SELECT count(*), min(id) FROM job WHERE (length(note) <= 10) IS FALSE;

-- taskmodel:migrate
CREATE TABLE job_note_limit (n INTEGER);
`},
	}
	if engine == "postgresql" {
		ms[2].SQL = strings.Replace(ms[2].SQL, "length(note)", "char_length(note)", 1) + `
-- taskmodel:validate
SELECT 1;
`
	}
	return ms
}

// TestMigrateUpRefused: a migration whose data check finds rows breaking
// its rule is refused with its message and exit 1; the migrations before it
// stay applied, it does not, and status shows it pending.
func TestMigrateUpRefused(t *testing.T) {
	for _, tt := range []struct {
		engine string
		flags  func(t *testing.T) []string
	}{
		{"sqlite", func(t *testing.T) []string {
			return []string{"--db-url", "sqlite:" + filepath.Join(t.TempDir(), "tasks.db")}
		}},
		{"postgresql", func(t *testing.T) []string {
			cfg := pgtest.Schema(t)
			return []string{"--db-url", pgtest.URL(), "--db-schema", cfg.ConnConfig.RuntimeParams["search_path"]}
		}},
	} {
		t.Run(tt.engine, func(t *testing.T) {
			flags := tt.flags(t)
			code, stdout, stderr := runApp(t, job, append([]string{"migrate", "up"}, flags...)...)
			refused := &tasktype.MigrationRefusedError{Migration: "job/0003_short_notes",
				Check: tasktype.MigrationCheck{Subject: "job.note", Rule: "at most 10 characters", Rows: "tasks"},
				Count: 1, Example: "00000000-0000-0000-0000-000000000001",
				// The same start applied the two before it.
				Before: []string{"job/0001_schema", "job/0002_rows"}}
			if code != ExitFailure || stderr != "taskmodel: "+refused.Error()+"\n" {
				t.Errorf("up: exit %d, stderr %q\nwant exit 1 and %q", code, stderr, "taskmodel: "+refused.Error()+"\n")
			}
			for _, name := range []string{"job/0001_schema", "job/0002_rows"} {
				if !strings.Contains(stdout, "applied  "+name+" ") {
					t.Errorf("up does not print %s:\n%s", name, stdout)
				}
			}
			if strings.Contains(stdout, "applied  job/0003") || strings.Contains(stdout, "up to date") {
				t.Errorf("up:\n%s", stdout)
			}
			code, stdout, stderr = runApp(t, job, append([]string{"migrate", "status"}, flags...)...)
			if code != 0 || !strings.Contains(stdout, "3 migrations: 2 applied, 1 pending\n") {
				t.Errorf("status after the refusal: exit %d\n%s%s", code, stdout, stderr)
			}
		})
	}
}

// TestPlanParts: plan shows a migration's data checks as what they check,
// then the query, the body and the validation statements.
func TestPlanParts(t *testing.T) {
	code, stdout, stderr := runApp(t, job, "migrate", "plan", "--engine", "postgresql")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"-- taskmodel migrate plan --engine postgresql: every migration, as applied to a new, empty database.\n-- No database was opened.\n-- 3 migrations pending, in the order taskmodel migrate up applies them.\n",
		"-- Migration 3 of 3: job/0003_short_notes (postgresql)\n",
		"-- Check: job.note, rule \"at most 10 characters\": counts the tasks that break it\nSELECT count(*), min(id) FROM job WHERE (char_length(note) <= 10) IS FALSE;\n",
		"-- Body, run in one transaction:\nCREATE TABLE job_note_limit (n INTEGER);\n",
		"-- Validation, run after the body committed, each statement in its own transaction:\nSELECT 1;\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan does not print\n%s\n---- it printed:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stdout, "-- Check:"); n != 1 {
		t.Errorf("%d checks printed, want 1", n)
	}
	if strings.Contains(stdout, "taskmodel:check") || strings.Contains(stdout, "taskmodel:validate") {
		t.Errorf("plan prints the markers:\n%s", stdout)
	}
}

// TestNewerTaskmodel: a database a newer taskmodel migrated, whole or part
// way (MySQL, MariaDB), is told in taskmodel's words.
func TestNewerTaskmodel(t *testing.T) {
	for _, tt := range []struct {
		err  tasktype.UnknownMigrationError
		want string
	}{
		{tasktype.UnknownMigrationError{Model: "a", Database: "0004_w", Program: "0002_y"},
			"the database is at migration 0004_w of model a, which this taskmodel does not have (its a ends at 0002_y): a newer version of taskmodel migrated it; run that version or a newer one"},
		{tasktype.UnknownMigrationError{Model: "a", Database: "0004_w", Program: "0002_y", Statements: 2, Failure: "Error 1061 (42000): Duplicate key name 'a_w'"},
			"the database is part way through migration 0004_w of model a, which this taskmodel does not have (its a ends at 0002_y): a start of a newer version of taskmodel applied its statements 1 to 2, which stay applied (MySQL and MariaDB commit each schema change as it runs), and then a statement failed: Error 1061 (42000): Duplicate key name 'a_w'; run that version or a newer one, which resumes the migration at statement 3 once the cause of the failure is fixed"},
		{tasktype.UnknownMigrationError{Model: "a", Database: "0004_w", Program: "0002_y", Statements: 1},
			"the database is part way through migration 0004_w of model a, which this taskmodel does not have (its a ends at 0002_y): a start of a newer version of taskmodel applied its statement 1, which stays applied (MySQL and MariaDB commit each schema change as it runs), and then it was stopped; run that version or a newer one, which resumes the migration at statement 2"},
	} {
		err := newerTaskmodel(fmt.Errorf("mysql: %w", &tt.err))
		if err.Error() != tt.want {
			t.Errorf("got  %s\nwant %s", err, tt.want)
		}
		var unknown *tasktype.UnknownMigrationError
		if !errors.As(err, &unknown) {
			t.Errorf("%v: no *tasktype.UnknownMigrationError", err)
		}
	}
}

func TestMigrationStates(t *testing.T) {
	m := func(name string) tasktype.Migration { return tasktype.Migration{Name: name, SQL: name} }
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	applied := func(name, sql string) tasktype.AppliedMigration {
		return tasktype.AppliedMigration{Name: name, Checksum: m(sql).Checksum(), AppliedAt: at}
	}
	known := []tasktype.Migration{m("a/0001_x"), m("a/0002_y"), m("b/0001_x"), m("b/0002_y")}
	for _, tt := range []struct {
		name    string
		applied []tasktype.AppliedMigration
		want    []string // name state
		refusal string
	}{
		{"new database", nil, []string{"a/0001_x pending", "a/0002_y pending", "b/0001_x pending", "b/0002_y pending"}, ""},
		{"partly migrated", []tasktype.AppliedMigration{applied("a/0001_x", "a/0001_x"), applied("b/0001_x", "b/0001_x")},
			[]string{"a/0001_x applied", "a/0002_y pending", "b/0001_x applied", "b/0002_y pending"}, ""},
		{"newer migrations after their model's, other models at the end",
			[]tasktype.AppliedMigration{applied("a/0001_x", "a/0001_x"), applied("a/0003_z", "z"), applied("a/0004_w", "w"), applied("c/0001_x", "c"), applied("b/0001_x", "b/0001_x")},
			[]string{"a/0001_x applied", "a/0002_y pending", "a/0003_z unknown", "a/0004_w unknown", "b/0001_x applied", "b/0002_y pending", "c/0001_x other"},
			"the database is at migration 0004_w of model a, which this taskmodel does not have (its a ends at 0002_y): a newer version of taskmodel migrated it; run that version or a newer one"},
		{"changed SQL", []tasktype.AppliedMigration{applied("a/0001_x", "other SQL")},
			[]string{"a/0001_x changed", "a/0002_y pending", "b/0001_x pending", "b/0002_y pending"},
			(&tasktype.ChangedMigrationError{Migration: "a/0001_x", Applied: m("other SQL").Checksum(), Program: m("a/0001_x").Checksum()}).Error()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			states := migrationStates(known, tt.applied, nil, false)
			var got []string
			for _, st := range states {
				got = append(got, st.Name+" "+st.State)
				if (st.State == statePending) != (st.AppliedAt == nil) {
					t.Errorf("%s %s applied at %v", st.Name, st.State, st.AppliedAt)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("states %v\nwant %v", got, tt.want)
			}
			err := refusal(known, tt.applied, nil)
			if tt.refusal == "" && err != nil || tt.refusal != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.refusal)) {
				t.Errorf("refusal: %v\nwant %q", err, tt.refusal)
			}
			var pend []string
			for _, p := range tasktype.PendingMigrations(known, tt.applied) {
				pend = append(pend, p.Name)
			}
			var wantPend []string
			for _, w := range tt.want {
				if name, ok := strings.CutSuffix(w, " pending"); ok {
					wantPend = append(wantPend, name)
				}
			}
			if !slices.Equal(pend, wantPend) {
				t.Errorf("pending %v, want %v", pend, wantPend)
			}
		})
	}
}

func TestRoundTook(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{850 * time.Nanosecond, "850ns"},
		{850300 * time.Nanosecond, "850.3µs"},
		{4213700 * time.Nanosecond, "4.21ms"},
		{1523400 * time.Microsecond, "1.52s"},
	} {
		if got := roundTook(tt.d); got != tt.want {
			t.Errorf("roundTook(%s) = %s, want %s", tt.d, got, tt.want)
		}
	}
}

// TestServerDocMigrations: the migrate samples of docs/server.md ›
// Migrations (SQLite) hold for this taskmodel: the migrations they name
// exist, in the order status lists them; the counts add up to the number
// SQLite has; the SQL quoted is the named migration's; the newest training
// migration is the one the newer-version message names.
func TestServerDocMigrations(t *testing.T) {
	doc, err := os.ReadFile("../../../../docs/server.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	if i := strings.Index(section, "\n### Migrations\n"); i >= 0 {
		section = section[i:]
	} else {
		t.Fatal("docs/server.md has no section Migrations")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	ms := serveMigrations(sqlite.Engine)
	sqlOf := map[string]string{}
	var names []string
	lastTraining := ""
	for _, m := range ms {
		names = append(names, m.Name)
		sqlOf[m.Name] = m.SQL
		if rest, ok := strings.CutPrefix(m.Name, "training/"); ok {
			lastTraining = rest
		}
	}
	// Every migration named, but for the made-up model job of the data
	// check's example, is one SQLite has; the rows of status are in order.
	at := -1
	for _, m := range regexp.MustCompile(`(?m)\b([a-z_]+/[0-9]{4}_[a-z0-9_]+)\b(\s+(applied|pending))?`).FindAllStringSubmatch(section, -1) {
		if strings.HasPrefix(m[1], "job/") {
			continue
		}
		i := slices.Index(names, m[1])
		if i < 0 {
			t.Errorf("docs/server.md names the migration %s, which SQLite does not have", m[1])
			continue
		}
		if m[3] != "" {
			if i <= at {
				t.Errorf("docs/server.md lists %s out of the order status lists it in", m[1])
			}
			at = i
		}
	}
	find := func(expr string) []string {
		t.Helper()
		m := regexp.MustCompile(expr).FindStringSubmatch(section)
		if m == nil {
			t.Fatalf("docs/server.md › Migrations has no %s", expr)
		}
		return m
	}
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	status := find(`\n([0-9]+) migrations: ([0-9]+) applied, ([0-9]+) pending\n`)
	total, pending := num(status[1]), num(status[3])
	if total != len(ms) || num(status[2])+pending != total {
		t.Errorf("docs/server.md: %q; SQLite has %d migrations", strings.TrimSpace(status[0]), len(ms))
	}
	if m := find(`-- ([0-9]+) migrations pending, in the order`); num(m[1]) != pending {
		t.Errorf("docs/server.md: plan says %s pending, status %d", m[1], pending)
	}
	first := find(`-- Migration 1 of ([0-9]+): (\S+) \(sqlite\)\n`)
	if num(first[1]) != pending {
		t.Errorf("docs/server.md: plan's first migration is 1 of %s, status has %d pending", first[1], pending)
	}
	// The SQL quoted under "Body" is the migration's.
	body := find(`(?s)-- Body, run in one transaction:\n(.*?)\n\n\$ `)[1]
	for _, line := range strings.Split(body, "\n") {
		if line != "…" && !strings.Contains(sqlOf[first[2]], line) {
			t.Errorf("docs/server.md quotes %q, which is not in the SQL of %s", line, first[2])
		}
	}
	if m := find(`: ([0-9]+) of ([0-9]+) migrations pending\.\n`); num(m[1]) != pending || num(m[2]) != total {
		t.Errorf("docs/server.md: up says %s of %s pending, status %d of %d", m[1], m[2], pending, total)
	}
	if m := find(`\nApplied ([0-9]+) migrations in`); num(m[1]) != pending {
		t.Errorf("docs/server.md: up applied %s, status has %d pending", m[1], pending)
	}
	if m := find(`\(its training ends at ([0-9a-z_]+)\)`); m[1] != lastTraining {
		t.Errorf("docs/server.md: training ends at %s; on SQLite, at %s", m[1], lastTraining)
	}
}
