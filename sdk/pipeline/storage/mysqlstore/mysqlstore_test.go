package mysqlstore

import (
	"reflect"
	"strings"
	"testing"
)

func TestIn(t *testing.T) {
	cases := []struct {
		name   string
		values []string
		query  string
		args   []any
	}{
		{"one status", []string{"RUNNING"}, "WHERE a IN (?) AND b IN (?)", []any{"RUNNING"}},
		{"three statuses", []string{"STARTED", "RUNNING", "FAILED"}, "WHERE a IN (?, ?, ?) AND b IN (?)", []any{"STARTED", "RUNNING", "FAILED"}},
		{"none matches nothing", nil, "WHERE a IN (?) AND b IN (?)", []any{""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, args := in("WHERE a IN (?) AND b IN (?)", c.values)
			if q != c.query || !reflect.DeepEqual(args, c.args) {
				t.Fatalf("in = %q, %v; want %q, %v", q, args, c.query, c.args)
			}
		})
	}
}

// TestStatements: the statements with a status list have one "IN (?)",
// which in expands, and no other text reads as one (a comment would be
// expanded instead).
func TestStatements(t *testing.T) {
	for name, want := range map[string]int{"active_runs": 1, "increment": 1, "history": 0, "subtask": 0} {
		if got := strings.Count(stmts.Statement(name), "IN (?)"); got != want {
			t.Errorf("%s has %d IN (?), want %d", name, got, want)
		}
	}
	m := Migrations()
	if last := m[len(m)-1].Name; last != "pipeline/0001_registry" {
		t.Errorf("the last migration is %s, want pipeline/0001_registry", last)
	}
	if first := m[0].Name; !strings.HasPrefix(first, "pipeline_run/") || !strings.Contains(m[0].SQL, "ENGINE = InnoDB") {
		t.Errorf("the first migration is %s, want the run model's MySQL schema", first)
	}
}
