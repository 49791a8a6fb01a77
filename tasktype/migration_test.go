package tasktype_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tasktype"
)

func TestMigrationParts(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want tasktype.MigrationParts
		err  string
	}{
		{"no markers", "CREATE TABLE t (x int);\n", tasktype.MigrationParts{Body: "CREATE TABLE t (x int);\n"}, ""},
		{"all parts",
			"-- header\n\n-- taskmodel:check t.x | at most 5 | tasks\nSELECT count(*), min(id) FROM t\nWHERE (x <= 5) IS FALSE;\n\n" +
				"-- taskmodel:check t_history.event | one of a | history rows\nSELECT 1, NULL;\n\n-- taskmodel:migrate\nALTER TABLE t ADD c int;\n\n" +
				"-- taskmodel:validate\nALTER TABLE t VALIDATE CONSTRAINT t_x_check;\n-- a comment\n\nALTER TABLE t VALIDATE CONSTRAINT t_y_check;\n",
			tasktype.MigrationParts{
				Checks: []tasktype.MigrationCheck{
					{Subject: "t.x", Rule: "at most 5", Rows: "tasks", Query: "SELECT count(*), min(id) FROM t\nWHERE (x <= 5) IS FALSE;"},
					{Subject: "t_history.event", Rule: "one of a", Rows: "history rows", Query: "SELECT 1, NULL;"},
				},
				Body:     "-- header\n\nALTER TABLE t ADD c int;\n\n",
				Validate: []string{"ALTER TABLE t VALIDATE CONSTRAINT t_x_check;", "ALTER TABLE t VALIDATE CONSTRAINT t_y_check;"},
			}, ""},
		{"bad check marker", "-- taskmodel:check t.x only\nSELECT 1;\n", tasktype.MigrationParts{}, `migration m: a check marker is "-- taskmodel:check " followed by SUBJECT | RULE | ROWS: "-- taskmodel:check t.x only"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tasktype.Migration{Name: "m", SQL: tt.sql}.Parts()
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parts() = %#v, %v\nwant %#v", got, err, tt.want)
			}
		})
	}
}

func TestMigrationRefusedError(t *testing.T) {
	c := tasktype.MigrationCheck{Subject: "job.note", Rule: "at most 10 characters", Rows: "tasks"}
	tests := []struct {
		count int64
		want  string
	}{
		{1, `migration job/0009_x refused: job.note: 1 task breaks the rule "at most 10 characters" (for example task 7); the database is unchanged` + refusalAdvice("0009_x")},
		{3, `migration job/0009_x refused: job.note: 3 tasks break the rule "at most 10 characters" (for example task 7); the database is unchanged` + refusalAdvice("0009_x")},
	}
	for _, tt := range tests {
		err := &tasktype.MigrationRefusedError{Migration: "job/0009_x", Check: c, Count: tt.count, Example: "7"}
		if err.Error() != tt.want {
			t.Errorf("got %s\nwant %s", err, tt.want)
		}
	}
}

// TestMigrationRefusedErrorSeveral: every broken rule is named, each with
// its count and example; the first stays in Check, Count and Example.
func TestMigrationRefusedErrorSeveral(t *testing.T) {
	note := tasktype.MigrationCheck{Subject: "job.note", Rule: "at most 10 characters", Rows: "tasks"}
	status := tasktype.MigrationCheck{Subject: "job_history.event", Rule: "event pause was removed from the spec", Rows: "history rows"}
	err := tasktype.RefuseMigration("job/0009_x", []tasktype.BrokenCheck{{Check: note, Count: 2, Example: "7"}, {Check: status, Count: 1, Example: "9"}})
	want := `migration job/0009_x refused: 2 rules are broken: job.note: 2 tasks break the rule "at most 10 characters" (for example task 7); job_history.event: 1 history row breaks the rule "event pause was removed from the spec" (for example task 9); the database is unchanged` + refusalAdvice("0009_x")
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	var r *tasktype.MigrationRefusedError
	if !errors.As(err, &r) || r.Check != note || r.Count != 2 || r.Example != "7" || len(r.Broken) != 2 {
		t.Errorf("the first broken rule is not in Check, Count and Example, or Broken lacks one: %+v", r)
	}
	one := tasktype.RefuseMigration("job/0009_x", []tasktype.BrokenCheck{{Check: note, Count: 1, Example: "7"}})
	if want := `migration job/0009_x refused: job.note: 1 task breaks the rule "at most 10 characters" (for example task 7); the database is unchanged` + refusalAdvice("0009_x"); one.Error() != want {
		t.Errorf("got %s\nwant %s", one, want)
	}
	if tasktype.RefuseMigration("job/0009_x", nil) != nil {
		t.Error("no broken rule refuses nothing")
	}
}

func TestCheckApplied(t *testing.T) {
	known := []tasktype.Migration{{Name: "job/0001_schema", SQL: "a"}, {Name: "job/0002_worker", SQL: "b"}, {Name: "other/0001_schema", SQL: "c"}}
	sums := map[string]string{}
	for _, m := range known {
		sums[m.Name] = m.Checksum()
	}
	tests := []struct {
		name    string
		applied []string
		want    string
	}{
		{"none", nil, ""},
		{"same", []string{"job/0001_schema", "job/0002_worker"}, ""},
		{"behind", []string{"job/0001_schema"}, ""},
		{"another model's", []string{"third/0009_x"}, ""},
		{"newer", []string{"job/0001_schema", "job/0002_worker", "job/0003_add_x", "job/0004_drop_y"},
			"the database is at migration 0004_drop_y of model job, newer than this program, whose spec of job ends at 0002_worker: run a build of the newer spec"},
		{"missing", []string{"job/0001_schema", "job/0001_add_x", "job/0002_worker"},
			"the database has applied migration 0001_add_x of model job, which this program does not have: it has 0001_schema under that number instead (two merged branches each generated a migration under it, or the migration was generated again after this database applied it); nothing is applied. A database that applied 0001_add_x cannot follow this program's migrations: recreate it if it holds nothing to keep (a developer's or a test database), or run a build that has 0001_add_x"},
		{"missing, not newer", []string{"job/0001_schema", "job/0002_add_x", "job/0003_add_y"},
			"the database has applied migration 0002_add_x of model job, which this program does not have: it has 0002_worker under that number instead (two merged branches each generated a migration under it, or the migration was generated again after this database applied it); nothing is applied. A database that applied 0002_add_x cannot follow this program's migrations: recreate it if it holds nothing to keep (a developer's or a test database), or run a build that has 0002_add_x"},
		{"changed", []string{"job/0001_schema", "job/0002_worker=other"},
			"migration job/0002_worker was applied with different SQL (checksum other, this program's 3e23e8160039); applied migrations are never rewritten: run the program that applied it, or restore the migration's file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			applied := map[string]string{}
			for _, a := range tt.applied {
				name, sum, ok := strings.Cut(a, "=")
				if !ok {
					sum = sums[name]
				}
				applied[name] = sum
			}
			err := tasktype.CheckApplied(known, applied)
			if got := ""; err != nil {
				got = err.Error()
				if got != tt.want {
					t.Fatalf("got %s\nwant %s", got, tt.want)
				}
			} else if tt.want != "" {
				t.Fatalf("no error, want %s", tt.want)
			}
		})
	}
}

// TestUnknownMigrationErrorPartly: a migration a newer build applied part
// way (MySQL, MariaDB) is named with the statements that stay applied, how
// that start ended, and where the build that has it resumes.
func TestUnknownMigrationErrorPartly(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  tasktype.UnknownMigrationError
		want string
	}{
		{"failed", tasktype.UnknownMigrationError{Model: "job", Database: "0003_add_x", Program: "0002_worker", Statements: 3, Failure: "Error 1061 (42000): Duplicate key name 'x'"},
			"the database is part way through migration 0003_add_x of model job, newer than this program, whose spec of job ends at 0002_worker: a start of a build that has it applied its statements 1 to 3, which stay applied (MySQL and MariaDB commit each schema change as it runs), and then a statement failed: Error 1061 (42000): Duplicate key name 'x'; this program does not know the schema they changed. Run a build that has 0003_add_x, which resumes the migration at statement 4 once the cause of the failure is fixed"},
		{"stopped", tasktype.UnknownMigrationError{Model: "job", Database: "0003_add_x", Program: "0002_worker", Statements: 1},
			"the database is part way through migration 0003_add_x of model job, newer than this program, whose spec of job ends at 0002_worker: a start of a build that has it applied its statement 1, which stays applied (MySQL and MariaDB commit each schema change as it runs), and then it was stopped; this program does not know the schema they changed. Run a build that has 0003_add_x, which resumes the migration at statement 2"},
		{"not newer", tasktype.UnknownMigrationError{Model: "job", Database: "0002_add_x", Program: "0003_add_y", Statements: 1},
			"the database is part way through migration 0002_add_x of model job, which this program does not have (its migrations of job go on to 0003_add_y): a start of a build that has it applied its statement 1, which stays applied (MySQL and MariaDB commit each schema change as it runs), and then it was stopped; this program does not know the schema they changed. Run a build that has 0002_add_x, which resumes the migration at statement 2"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

// TestCheckNumbering: a program whose migrations of a model have two
// under one number, or lack one that a later one was generated from, is
// refused whatever the database applied.
func TestCheckNumbering(t *testing.T) {
	header := func(from, name string) string {
		return "-- Code generated by taskgen. DO NOT EDIT.\n-- Migration " + name + " of model \"job\" for sqlite,\n-- from the spec of " + from + " to migrations/spec/" + name + ".yaml:\nALTER TABLE job ADD x;\n"
	}
	tests := []struct {
		name  string
		names []string // name or name<from
		want  string
	}{
		{"contiguous", []string{"job/0001_schema", "job/0002_add_a<0001_schema", "job/0003_add_b<0002_add_a"}, ""},
		{"skipped numbers of other engines", []string{"job/0001_schema", "job/0007_history_at", "job/0009_add_a<0001_schema"}, ""},
		{"engine starting later", []string{"job/0012_schema", "job/0016_add_a<0009_change_b"}, ""},
		{"two models", []string{"job/0001_schema", "other/0001_schema", "job/0002_add_a<0001_schema"}, ""},
		{"duplicate", []string{"job/0001_schema", "job/0013_add_note_a<0001_schema", "job/0013_add_note_b<0001_schema", "job/0014_add_note_a<0013_add_note_b"},
			"this program's migrations of model job are broken: 0013_add_note_a and 0013_add_note_b have the same number 0013 (two branches each generated one?), so none is applied; keep the one a database has applied, if any, delete the other's files in the model's generated package (0013_add_note_b's: migrations/sqlite/0013_add_note_b.sql, migrations/postgresql/0013_add_note_b.sql, migrations/mysql/0013_add_note_b.sql and migrations/spec/0013_add_note_b.yaml; or 0013_add_note_a's: migrations/sqlite/0013_add_note_a.sql, migrations/postgresql/0013_add_note_a.sql, migrations/mysql/0013_add_note_a.sql and migrations/spec/0013_add_note_a.yaml), run go generate and build again"},
		{"deleted", []string{"job/0001_schema", "job/0010_add_a<0001_schema", "job/0012_add_b<0011_add_held_at"},
			"this program's migrations of model job are broken: they lack migration 0011_add_held_at, from whose spec 0012_add_b was generated, so none is applied: restore its files from version control (a migration is never deleted once others follow it), run go generate and build again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ms []tasktype.Migration
			for _, n := range tt.names {
				name, from, ok := strings.Cut(n, "<")
				m := tasktype.Migration{Name: name, SQL: "CREATE TABLE x (a int);\n"}
				if ok {
					m.SQL = header(from, strings.TrimPrefix(name, "job/"))
				}
				ms = append(ms, m)
			}
			for _, err := range []error{tasktype.CheckNumbering(ms), tasktype.CheckApplied(ms, nil)} {
				got := ""
				if err != nil {
					got = err.Error()
				}
				if got != tt.want {
					t.Errorf("got %s\nwant %s", got, tt.want)
				}
			}
		})
	}
}

// refusalAdvice is what a refusal of migration name says to do.
func refusalAdvice(name string) string {
	return ". Fix the rows and start again, or fix the spec: a migration generated after this one would never run, so first delete this one's files (migrations/sqlite/" + name + ".sql, migrations/postgresql/" + name + ".sql, migrations/mysql/" + name + ".sql and migrations/spec/" + name + ".yaml, in the model's generated package) if it is the model's newest and no database applied it, then run go generate"
}

// TestRefusedAfter: a refusal after migrations the same run applied says
// that the database stays at the last of them, not that it is unchanged.
func TestRefusedAfter(t *testing.T) {
	note := tasktype.MigrationCheck{Subject: "job.note", Rule: "at most 10 characters", Rows: "tasks"}
	advice := refusalAdvice("0014_x")
	rule := `migration job/0014_x refused: job.note: 1 task breaks the rule "at most 10 characters" (for example task 7); `
	tests := []struct {
		name   string
		before []string
		want   string
	}{
		{"first", nil, rule + "the database is unchanged" + advice},
		{"after one", []string{"job/0013_y"}, rule + "it changed nothing, and the database stays at migration job/0013_y, which this start applied before it" + advice},
		{"after two", []string{"job/0012_z", "job/0013_y"}, rule + "it changed nothing, and the database stays at migration job/0013_y: this start applied job/0012_z, job/0013_y before it" + advice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tasktype.RefusedAfter(tasktype.RefuseMigration("job/0014_x", []tasktype.BrokenCheck{{Check: note, Count: 1, Example: "7"}}), tt.before)
			if err.Error() != tt.want {
				t.Errorf("got %s\nwant %s", err, tt.want)
			}
		})
	}
	other := errors.New("disk full")
	if tasktype.RefusedAfter(other, []string{"job/0013_y"}) != other {
		t.Error("another error is not returned as it is")
	}
}

// FuzzMigrationParts: Parts never panics, and every line of the SQL that is
// not a marker lands in exactly one part.
//
//	go test ./tasktype -run '^$' -fuzz FuzzMigrationParts -fuzztime 60s
func FuzzMigrationParts(f *testing.F) {
	f.Add("-- taskmodel:check a | b | tasks\nSELECT 1;\n-- taskmodel:migrate\nX;\n-- taskmodel:validate\nV;\n")
	f.Add("CREATE TABLE t (x int);")
	f.Add("-- taskmodel:check broken\n")
	f.Fuzz(func(t *testing.T, sql string) {
		p, err := tasktype.Migration{Name: "m", SQL: sql}.Parts()
		if err != nil {
			return
		}
		var all strings.Builder
		all.WriteString(p.Body)
		for _, c := range p.Checks {
			all.WriteString(c.Query)
		}
		for _, v := range p.Validate {
			all.WriteString(v)
		}
		for _, line := range strings.Split(sql, "\n") {
			l := strings.TrimSpace(line)
			if l == "" || strings.HasPrefix(l, "--") {
				continue
			}
			if !strings.Contains(all.String(), l) {
				t.Fatalf("line %q is in no part of %#v", l, p)
			}
		}
	})
}
