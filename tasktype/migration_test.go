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
		{1, `migration job/0009_x refused: job.note: 1 task breaks the rule "at most 10 characters" (for example task 7); the database is unchanged`},
		{3, `migration job/0009_x refused: job.note: 3 tasks break the rule "at most 10 characters" (for example task 7); the database is unchanged`},
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
	want := `migration job/0009_x refused: 2 rules are broken: job.note: 2 tasks break the rule "at most 10 characters" (for example task 7); job_history.event: 1 history row breaks the rule "event pause was removed from the spec" (for example task 9); the database is unchanged`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	var r *tasktype.MigrationRefusedError
	if !errors.As(err, &r) || r.Check != note || r.Count != 2 || r.Example != "7" || len(r.Broken) != 2 {
		t.Errorf("the first broken rule is not in Check, Count and Example, or Broken lacks one: %+v", r)
	}
	one := tasktype.RefuseMigration("job/0009_x", []tasktype.BrokenCheck{{Check: note, Count: 1, Example: "7"}})
	if want := `migration job/0009_x refused: job.note: 1 task breaks the rule "at most 10 characters" (for example task 7); the database is unchanged`; one.Error() != want {
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
