package evolutiontest_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/sqlite"
)

// orChain is a condition as oneOf writes it for SQLite: col = 'A' OR col = 'B' OR …
var orChain = regexp.MustCompile(`(\w+) = '[^']*'(?: OR \w+ = '[^']*')+`)

// asInList writes every OR chain of one column back as the IN list taskgen
// wrote before 0012_sqlite_lean_writes.
func asInList(sql string) string {
	return orChain.ReplaceAllStringFunc(sql, func(chain string) string {
		var col string
		var values []string
		for _, term := range strings.Split(chain, " OR ") {
			c, v, _ := strings.Cut(term, " = ")
			col, values = c, append(values, v)
		}
		return col + " IN (" + strings.Join(values, ", ") + ")"
	})
}

// TestSQLiteLeanWritesRebuild: a model whose SQLite tables were created
// with IN lists in their CHECKs and retention index and a listing index of
// every task on its optional tag, as taskgen wrote them before
// 0012_sqlite_lean_writes, gets that migration as a rebuild of both tables
// when it is generated again. The rows are kept, the schema is a new
// model's (the tag's index partial), the CHECKs still refuse what they
// refused, and the statements of a transition no longer build a temporary
// index.
func TestSQLiteLeanWritesRebuild(t *testing.T) {
	ctx := context.Background()
	// The evolution cases' spec, with an enumeration of three values (its
	// CHECK an OR chain too).
	base, err := os.ReadFile(filepath.Join(casesDir, "base.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const large = "      large: A large job.\n"
	if !strings.Contains(string(base), large) {
		t.Fatalf("base.yaml lacks %q", large)
	}
	spec := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(spec, []byte(strings.Replace(string(base), large, large+"      medium: A medium job.\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	mod := newModule(t)
	if out, err := mod.generate(t, spec); err != nil {
		t.Fatalf("taskgen: %v\n%s", err, out)
	}
	// The model as an earlier taskgen left it: IN lists, a listing index of
	// every task, no 0012_sqlite_lean_writes.
	dir := filepath.Join(mod.dir, "gen", "job", "migrations", sqlite.Engine)
	schema := filepath.Join(dir, "0001_schema.sql")
	data, err := os.ReadFile(schema)
	if err != nil {
		t.Fatal(err)
	}
	if !orChain.Match(data) {
		t.Fatalf("0001_schema has no OR chain:\n%s", data)
	}
	earlier := asInList(string(data))
	for _, col := range []string{"tag", "user_id"} {
		partial := " (" + col + ", status, created_at DESC, id DESC) WHERE " + col + " IS NOT NULL;"
		if !strings.Contains(earlier, partial) {
			t.Fatalf("0001_schema has no partial listing index on %s:\n%s", col, data)
		}
		earlier = strings.Replace(earlier, partial, " ("+col+", status, created_at DESC, id DESC);", 1)
	}
	if !strings.Contains(earlier, "size IN ('small', 'large', 'medium')") {
		t.Fatalf("the earlier 0001_schema lacks the enumeration's IN list:\n%s", earlier)
	}
	if err := os.WriteFile(schema, []byte(earlier), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "0012_sqlite_lean_writes.sql")); err != nil {
		t.Fatal(err)
	}
	// Nor did it keep the checksums of its files.
	if err := os.Remove(filepath.Join(dir, "..", "taskmodel.sum")); err != nil {
		t.Fatal(err)
	}
	old := mod.migrations(t, sqlite.Engine)
	if out, err := mod.generate(t, spec); err != nil {
		t.Fatalf("taskgen again: %v\n%s", err, out)
	}
	all := mod.migrations(t, sqlite.Engine)
	if len(all) != len(old)+1 || !reflect.DeepEqual(all[:len(old)], old) {
		t.Fatalf("generating again did not append one migration: %d then %d", len(old), len(all))
	}
	last := all[len(all)-1]
	if last.Name != "job/0012_sqlite_lean_writes" || !strings.Contains(last.SQL, "CREATE TABLE tm_new_job (") || !strings.Contains(last.SQL, "CREATE TABLE tm_new_job_history (") {
		t.Fatalf("appended %s, want job/0012_sqlite_lean_writes rebuilding both tables:\n%s", last.Name, last.SQL)
	}

	d := openDB(t, sqlite.Engine)
	if err := d.migrate(ctx, old); err != nil {
		t.Fatalf("the earlier migrations: %v", err)
	}
	seed(t, sqlite.Engine, d, hasWorker(old))
	if n := ephemeral(t, d); n == 0 {
		t.Fatal("before the migration, the transition's statements open no temporary index: the test cannot tell")
	}
	before := snapshot(t, d)
	if err := d.migrate(ctx, all); err != nil {
		t.Fatalf("0012_sqlite_lean_writes: %v", err)
	}
	after := snapshot(t, d)
	if !reflect.DeepEqual(before.tasks, after.tasks) || !reflect.DeepEqual(before.history, after.history) {
		t.Errorf("rows changed:\nbefore %v\n%v\nafter %v\n%v", before.tasks, before.history, after.tasks, after.history)
	}
	if len(after.tasks) == 0 || len(after.history) == 0 {
		t.Fatalf("seeded nothing: %d tasks, %d history rows", len(after.tasks), len(after.history))
	}
	fresh := newModule(t)
	if out, err := fresh.generate(t, spec); err != nil {
		t.Fatalf("taskgen as a new model: %v\n%s", err, out)
	}
	checkFresh(t, sqlite.Engine, d, fresh.migrations(t, sqlite.Engine))
	if n := ephemeral(t, d); n != 0 {
		t.Errorf("after the migration, the transition's statements open %d temporary indexes, want 0", n)
	}
	tests := []struct {
		name, stmt string
		refused    bool
	}{
		{"a status the spec lacks", "UPDATE job SET status = 'BOGUS' WHERE id = '" + id(1) + "'", true},
		{"a declared status", "UPDATE job SET status = 'CANCELLED', version = version + 1 WHERE id = '" + id(1) + "'", false},
		{"an event the spec lacks", "INSERT INTO job_history (task_id, seq, from_status, to_status, event, at) VALUES ('" + id(2) + "', 90, 'QUEUED', 'RUNNING', 'bogus', '2026-01-01 00:00:00')", true},
		{"a from_status the spec lacks", "INSERT INTO job_history (task_id, seq, from_status, to_status, event, at) VALUES ('" + id(2) + "', 91, 'NOPE', 'RUNNING', 'start', '2026-01-01 00:00:00')", true},
		{"no from_status (a creation)", "INSERT INTO job_history (task_id, seq, to_status, at) VALUES ('" + id(2) + "', 92, 'QUEUED', '2026-01-01 00:00:00')", false},
		{"an enumeration's undeclared value", "UPDATE job SET size = 'huge' WHERE id = '" + id(2) + "'", true},
		{"an enumeration's declared value", "UPDATE job SET size = 'medium' WHERE id = '" + id(2) + "'", false},
	}
	for _, tt := range tests {
		err := d.exec(ctx, tt.stmt)
		if got := refusedByConstraint(sqlite.Engine, err); got != tt.refused {
			t.Errorf("%s: refused %v (%v), want %v", tt.name, got, err, tt.refused)
		}
	}
}

// ephemeral counts the temporary indexes (OpenEphemeral) that the writes
// of a claim or a completion open: a task's change of status and its
// history row, and a new task.
func ephemeral(t *testing.T, d db) int {
	t.Helper()
	n := 0
	for _, q := range []string{
		"UPDATE job SET status = 'RUNNING', version = version + 1, updated_at = '2026-01-01 00:00:00' WHERE id = 'a' AND status = 'QUEUED'",
		"INSERT INTO job_history (task_id, seq, from_status, to_status, event, at) VALUES ('a', 2, 'QUEUED', 'RUNNING', 'start', '2026-01-01 00:00:00')",
		"INSERT INTO job (id, status, version, created_at, updated_at) VALUES ('a', 'QUEUED', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
	} {
		ops, err := d.rows(context.Background(), "EXPLAIN "+q)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", q, err)
		}
		for _, op := range ops {
			if op["opcode"] == "OpenEphemeral" {
				n++
			}
		}
	}
	return n
}

// TestLackingMigrationsBeforeAChange: framework migrations a model lacks
// are rendered from its newest spec snapshot, the spec its tables were
// made from, even when the same generation appends a change of the spec
// after them. Here a model whose MySQL migrations end at 0001_schema (as
// when MySQL's later framework migrations came after it) changes its api
// owner: 0002_ascending_indexes rebuilds the listing indexes the tables
// have (the old owner's), and the change then replaces the owner's index.
// Rendered from the new spec, it dropped an index that did not exist yet,
// and MariaDB refused the migration.
func TestLackingMigrationsBeforeAChange(t *testing.T) {
	ctx := context.Background()
	mod := newModule(t)
	if out, err := mod.generate(t, filepath.Join(casesDir, "base.yaml")); err != nil {
		t.Fatalf("taskgen v1: %v\n%s", err, out)
	}
	dir := filepath.Join(mod.dir, "gen", "job", "migrations", mysql.Engine)
	for _, name := range []string{"0002_ascending_indexes", "0003_history_defaults", "0004_retention_index"} {
		if err := os.Remove(filepath.Join(dir, name+".sql")); err != nil {
			t.Fatal(err)
		}
	}
	// An earlier taskgen kept no checksums of its files.
	if err := os.Remove(filepath.Join(dir, "..", "taskmodel.sum")); err != nil {
		t.Fatal(err)
	}
	v1 := mod.migrations(t, mysql.Engine)
	v2 := filepath.Join(casesDir, "api_owner_changed", "v2.yaml")
	if out, err := mod.generate(t, v2); err != nil {
		t.Fatalf("taskgen v2: %v\n%s", err, out)
	}
	all := mod.migrations(t, mysql.Engine)
	var names []string
	for _, m := range all[len(v1):] {
		names = append(names, m.Name)
	}
	if len(names) != 4 || !strings.HasSuffix(names[0], "_ascending_indexes") || !strings.HasSuffix(names[3], "_add_requested_by") {
		t.Fatalf("appended %v, want the three MySQL framework migrations and the change", names)
	}
	d := openDB(t, mysql.Engine)
	if err := d.migrate(ctx, v1); err != nil {
		t.Fatalf("v1: %v", err)
	}
	seed(t, mysql.Engine, d, hasWorker(v1))
	before := snapshot(t, d)
	if err := d.migrate(ctx, all); err != nil {
		t.Fatalf("v2: %v", err)
	}
	after := snapshot(t, d)
	if len(after.tasks) != len(before.tasks) || len(after.history) != len(before.history) {
		t.Errorf("rows: %d tasks and %d history rows, then %d and %d", len(before.tasks), len(before.history), len(after.tasks), len(after.history))
	}
	fresh := newModule(t)
	if out, err := fresh.generate(t, v2); err != nil {
		t.Fatalf("taskgen v2 as a new model: %v\n%s", err, out)
	}
	checkFresh(t, mysql.Engine, d, fresh.migrations(t, mysql.Engine))
}
