package gen

import (
	"fmt"
	"strings"
)

// Leaner writes: two PostgreSQL migrations that take per-row work
// out of every write of a task, measured with the worker benchmark
// (sdk/worker BenchmarkWorkQueued, 50,000 tasks at concurrency 1000, where
// the server's CPU per worked task fell from about 105 µs to 85 µs).
//
// 0006_lean_writes: the listing indexes on the tag and on the api owner
// become partial (WHERE <field> IS NOT NULL) when the field is optional. The
// listing filters them with "<field> = <value>", which implies IS NOT NULL,
// so the planner still uses them; a task without a tag or owner then costs
// no entry in them on each of its writes (a status change writes a new entry
// in every index of the table). And the history table's foreign key goes:
// see leanChildSQL.
//
// 0007_worker_lean_writes, for a model with a worker section: the lease
// table's foreign key goes the same way, and so does its index on
// expires_at, which only Lost read: Lost now starts from the running tasks
// (its status is written out in the query) and finds their leases by key.
// It is a migration of its own so
// that a model that gains a worker section later applies it after
// 0002_worker, which creates the lease table.

// leanWritesSQL renders 0006_lean_writes.
func (g *generator) leanWritesSQL(Engine) []byte {
	table, history := Table(g.m)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- Leaner writes of model %q for postgresql: less work per written task row.\n", SQLHeader, g.m.Name)
	partial := func(f string, why string) {
		idx := fmt.Sprintf("%s_%s_status_created_at_idx", table, f)
		p("\n-- %s\n", why)
		p("DROP INDEX %s;\n", idx)
		p("CREATE INDEX %s ON %s (%s, status, created_at DESC, id DESC) WHERE %s IS NOT NULL;\n", idx, table, f, f)
	}
	if f := tagField(g.m); f != nil && f.Optional {
		partial(f.Name, "A task without a tag needs no entry in the index of the listing by tag\n-- (its filter tag = x implies tag IS NOT NULL, so the planner still uses\n-- the index): every write of such a task inserts one index entry fewer.")
	}
	if f := ownerField(g.m); f != nil && f.Optional {
		partial(f.Name, fmt.Sprintf("Likewise a task without an owner (%s) and the listing by owner.", f.Name))
	}
	p("\n")
	g.leanChildSQL(p, table, history)
	return []byte(b.String())
}

// leanWorkerWritesSQL renders 0007_worker_lean_writes. On SQLite it only
// drops the lease index on expires_at, which Lost no longer reads there
// either; SQLite keeps its foreign keys.
func (g *generator) leanWorkerWritesSQL(e Engine) []byte {
	table, _ := Table(g.m)
	lease := LeaseTable(table)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	if e != PostgreSQL {
		p("%s\n-- Leaner writes of model %q for %s, worker leases.\n\n", SQLHeader, g.m.Name, e)
		p("-- Lost reads the tasks in the running status first and their leases by key,\n")
		p("-- so the index on expires_at serves no query: without it a claim and a\n")
		p("-- heartbeat write one index entry fewer.\n")
		p("DROP INDEX %s_expires_at_idx;\n", lease)
		return []byte(b.String())
	}
	p("%s\n-- Leaner writes of model %q for postgresql, worker leases: as 0006_lean_writes\n-- does for the history table.\n\n", SQLHeader, g.m.Name)
	g.leanChildSQL(p, table, lease)
	p("\n-- Lost reads the running tasks through the status index and their leases by\n")
	p("-- key, so the index on expires_at serves no query. Without it a claim\n")
	p("-- writes one index entry fewer, and a heartbeat, which changes only\n")
	p("-- expires_at, can be a HOT update that writes none.\n")
	p("DROP INDEX %s_expires_at_idx;\n", lease)
	return []byte(b.String())
}

// leanChildSQL replaces the foreign key of a child table of the task table
// (history or leases) by a statement trigger that deletes a deleted task's
// rows. Generated statements write a child row only together with its task
// (in the statement that updates or locks the task row, from its RETURNING),
// so the foreign key's check of every new child row — a query per row, about
// 15 % of the server's CPU per worked task with both child tables — proved
// nothing; what the key still did, ON DELETE CASCADE, the trigger does for
// any DELETE of tasks. Lost with the key: a child row written by hand for a
// task that does not exist is not refused, and TRUNCATE of the task table
// leaves the child rows.
func (g *generator) leanChildSQL(p func(string, ...any), table, child string) {
	p("-- %s rows are written only by generated statements that write or lock\n", child)
	p("-- their task in the same statement, so the foreign key's check of each new\n")
	p("-- row (a query per row) is dropped; a statement trigger keeps ON DELETE\n")
	p("-- CASCADE's effect for any DELETE of tasks.\n")
	p("DO $$\nDECLARE\n    fk name;\nBEGIN\n")
	p("    FOR fk IN SELECT conname FROM pg_constraint\n")
	p("        WHERE conrelid = %s::regclass AND confrelid = %s::regclass AND contype = 'f'\n", quoteSQL(child), quoteSQL(table))
	p("    LOOP\n        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %%I', fk);\n    END LOOP;\nEND\n$$;\n\n", child)
	p("-- The function names the table in the deleted tasks' schema (as the key did,\n")
	p("-- not the deleting session's search_path).\n")
	p("CREATE FUNCTION %s_cascade() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n", child)
	p("    EXECUTE format('DELETE FROM %%I.%%I WHERE task_id IN (SELECT id FROM tm_deleted)', TG_TABLE_SCHEMA, %s);\n", quoteSQL(child))
	p("    RETURN NULL;\nEND\n$$;\n\n")
	p("CREATE TRIGGER %s_cascade AFTER DELETE ON %s\n", child, table)
	p("    REFERENCING OLD TABLE AS tm_deleted\n    FOR EACH STATEMENT EXECUTE FUNCTION %s_cascade();\n", child)
}
