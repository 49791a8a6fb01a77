package gen

import (
	"fmt"
	"strings"
)

// Change streams: how other processes learn that a task changed.
//
// PostgreSQL: a row trigger on the model's table sends pg_notify on the
// channel "<schema>.taskmodel_<model>" with "id version status from" (from
// empty on insert) for every insert and update, whichever statement made it
// (the group-committed batches and the worker's claim included), while a
// listener of the model is registered in taskmodel_listeners. NOTIFY is
// transactional: only committed changes are sent, in commit order.
// backends/postgres.Notifier listens.
//
// SQLite: an index on (updated_at, id) and the ChangedSince query, which
// backends.Poller polls.

// changesSQL renders the migration that lets other processes follow the
// model's changes.
func (g *generator) changesSQL(e Engine) []byte {
	table, _ := Table(g.m)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- Change stream of model %q for %s: how other processes see its tasks change.\n\n", SQLHeader, g.m.Name, e)
	if e == PostgreSQL {
		p("-- Every committed insert or update of a task notifies the channel\n")
		p("-- \"<schema>.taskmodel_%s\" with \"id version status from\" (from empty on insert),\n", g.m.Name)
		p("-- while a listener is registered (taskmodel_listeners, backends/postgres):\n")
		p("-- NOTIFY serializes commits, which costs writers when nobody listens.\n")
		p("CREATE FUNCTION %s_notify() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n", table)
		p("    IF EXISTS (SELECT 1 FROM taskmodel_listeners WHERE channel = %s) THEN\n", quoteSQL(table))
		p("        PERFORM pg_notify(TG_TABLE_SCHEMA || '.taskmodel_' || TG_TABLE_NAME,\n")
		p("            NEW.id::text || ' ' || NEW.version::text || ' ' || NEW.status || ' ' ||\n")
		p("            CASE WHEN TG_OP = 'UPDATE' THEN OLD.status ELSE '' END);\n")
		p("    END IF;\n    RETURN NULL;\nEND\n$$;\n\n")
		p("CREATE TRIGGER %s_notify AFTER INSERT OR UPDATE ON %s\n    FOR EACH ROW EXECUTE FUNCTION %s_notify();\n", table, table, table)
	} else {
		p("-- Tasks by their last change: what a polling change stream reads.\n")
		p("CREATE INDEX %s_updated_at_idx ON %s (updated_at, id);\n", table, table)
	}
	return []byte(b.String())
}

// ListeningSequence names the sequence whose value counts a model's
// registered listeners (0: nobody listens): the gate of its change trigger.
func ListeningSequence(table string) string { return table + "_listening" }

// listenGateSQL renders the PostgreSQL migration 0004_listen_gate, which
// makes the change trigger of 0003 cheap while nobody listens. 0003's
// trigger ran a PL/pgSQL function on every written row, which looked up
// taskmodel_listeners: about 6 % of the server's CPU in the end-to-end
// worker benchmark, listeners or not. Now the trigger's WHEN clause reads a
// sequence (pg_sequence_last_value, no query, no queued trigger event) that
// the Notifier sets to the number of registered listeners; the function runs
// only when it is above zero.
func (g *generator) listenGateSQL(Engine) []byte {
	table, _ := Table(g.m)
	seq := ListeningSequence(table)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- Change stream of model %q for postgresql, second step: the trigger of\n", SQLHeader, g.m.Name)
	p("-- 0003_changes fires only while a listener is registered, read from a sequence\n")
	p("-- instead of a lookup of taskmodel_listeners in every written row.\n\n")
	p("-- The number of registered listeners of the model, kept by\n-- backends/postgres.Notifier (setval, under an advisory lock); postgres.Migrate\n-- creates taskmodel_listeners before any model's migrations.\n")
	p("CREATE SEQUENCE %s MINVALUE 0 START 0;\n", seq)
	p("SELECT setval(%s, (SELECT count(*) FROM taskmodel_listeners WHERE channel = %s), true);\n\n", quoteSQL(seq), quoteSQL(table))
	p("CREATE OR REPLACE FUNCTION %s_notify() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n", table)
	p("    PERFORM pg_notify(TG_TABLE_SCHEMA || '.taskmodel_' || TG_TABLE_NAME,\n")
	p("        NEW.id::text || ' ' || NEW.version::text || ' ' || NEW.status || ' ' ||\n")
	p("        CASE WHEN TG_OP = 'UPDATE' THEN OLD.status ELSE '' END);\n")
	p("    RETURN NULL;\nEND\n$$;\n\n")
	p("DROP TRIGGER %s_notify ON %s;\n", table, table)
	p("CREATE TRIGGER %s_notify AFTER INSERT OR UPDATE ON %s\n    FOR EACH ROW WHEN (pg_sequence_last_value(%s::regclass) > 0)\n    EXECUTE FUNCTION %s_notify();\n", table, table, quoteSQL(seq), table)
	return []byte(b.String())
}

// HistorySeqColumn is the PostgreSQL task table's count of its history rows
// (migration 0005_history_seq): each generated write that appends a history
// row increments it in the same statement and gives the row that seq. It
// replaced a correlated max(seq) + 1 lookup of the history table per row,
// about 13 % of the server's CPU in the guarded-transition benchmark. It is
// not a field of the model.
const HistorySeqColumn = "tm_history_seq"

// historySeqSQL renders the PostgreSQL migration 0005_history_seq.
func (g *generator) historySeqSQL(Engine) []byte {
	table, history := Table(g.m)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- History sequence of model %q for postgresql: every task counts its history\n", SQLHeader, g.m.Name)
	p("-- rows, and a new history row takes the next number from its task's row in the\n")
	p("-- statement that writes both (no lookup of the history table).\n\n")
	p("ALTER TABLE %s ADD COLUMN %s bigint NOT NULL DEFAULT 1 CHECK (%s >= 1);\n\n", table, HistorySeqColumn, HistorySeqColumn)
	p("-- Tasks written before this migration take their count from their history.\n")
	p("UPDATE %s SET %s = h.seq\nFROM (SELECT task_id, max(seq) AS seq FROM %s GROUP BY task_id) AS h\nWHERE %s.id = h.task_id AND h.seq > 1;\n", table, HistorySeqColumn, history, table)
	return []byte(b.String())
}

// changesQuerySQL renders the SQLite query a change poller runs: tasks
// changed at or after a time, after a task id at that time, in order.
func (g *generator) changesQuerySQL() string {
	table, _ := Table(g.m)
	return fmt.Sprintf("-- name: ChangedSince :many\n-- Tasks changed since (tm_since, tm_after_id), in (updated_at, id) order: what\n-- backends.Poller reads.\n"+
		"SELECT id, version, status, updated_at FROM %s\nWHERE updated_at >= sqlc.arg(tm_since) AND (updated_at > sqlc.arg(tm_since_strict) OR id > sqlc.arg(tm_after_id))\n"+
		"ORDER BY updated_at, id\nLIMIT sqlc.arg(tm_max_rows);\n", table)
}
