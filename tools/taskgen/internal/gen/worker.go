package gen

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// LeaseTable is the table that records which worker runs a task of a model
// with a worker section.
func LeaseTable(table string) string { return table + "_lease" }

// workerSchemaSQL renders the second migration of a model with a worker
// section: the lease table. It is a separate migration so that databases
// created before the worker section keep their first one.
func (g *generator) workerSchemaSQL(e Engine) []byte {
	m := g.m
	table, _ := Table(m)
	lease := LeaseTable(table)
	pg := e == PostgreSQL
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n-- Worker leases of model %q for %s: which worker holds a task, until when,\n", SQLHeader, m.Name, e)
	p("-- and its attempt (the number of times a worker has reserved it). A task is\n")
	p("-- held while expires_at is in the future; a worker extends it by heartbeats.\n\n")
	p("CREATE TABLE %s (\n", lease)
	p("    task_id %s PRIMARY KEY REFERENCES %s (id) ON DELETE CASCADE,\n", pick(pg, "uuid", "TEXT"), table)
	p("    owner %s NOT NULL CHECK (%s(owner) BETWEEN 1 AND 200),\n", pick(pg, "text", "TEXT"), pick(pg, "char_length", "length"))
	p("    expires_at %s NOT NULL,\n", pick(pg, "timestamptz", "DATETIME"))
	p("    attempt %s NOT NULL CHECK (attempt >= 1)\n);\n\n", pick(pg, "integer", "INTEGER"))
	p("-- Rescue: leases that expired, oldest first.\n")
	p("CREATE INDEX %s_expires_at_idx ON %s (expires_at);\n", lease, lease)
	return []byte(b.String())
}

// The lease columns of the task table (migration 0008_lease_in_row): which
// worker holds a task, until when, and how many times a worker has reserved
// it. They are not fields of the model.
const (
	LeaseOwnerColumn   = "tm_lease_owner"
	LeaseExpiresColumn = "tm_lease_expires_at"
	LeaseAttemptColumn = "tm_lease_attempt"
)

// leaseInRowSQL renders 0008_lease_in_row: the lease moves from a row of the
// lease table into three columns of its task. A claim then writes the lease
// in the update that moves the task, under the row lock that update takes
// anyway, instead of inserting or taking over a lease row (a heap tuple and
// a primary-key entry) after looking one up: about a fifth of PostgreSQL's
// CPU per worked task (sdk/worker BenchmarkWorkQueued). A heartbeat changes
// only the unindexed expiry, a HOT update on PostgreSQL.
// leaseColumnDefs are the definitions of the lease columns 0008_lease_in_row
// adds to a worker model's table: owner, expiry and attempt.
func leaseColumnDefs(e Engine) []string {
	if e == MySQL {
		return mysqlLeaseColumnDefs()
	}
	pg := e == PostgreSQL
	return []string{
		fmt.Sprintf("%s %s NOT NULL DEFAULT '' CHECK (%s(%s) <= 200)", LeaseOwnerColumn, pick(pg, "text", "TEXT"), pick(pg, "char_length", "length"), LeaseOwnerColumn),
		fmt.Sprintf("%s %s", LeaseExpiresColumn, pick(pg, "timestamptz", "DATETIME")),
		fmt.Sprintf("%s %s NOT NULL DEFAULT 0 CHECK (%s >= 0)", LeaseAttemptColumn, pick(pg, "integer", "INTEGER"), LeaseAttemptColumn),
	}
}

func (g *generator) leaseInRowSQL(e Engine) []byte {
	table, _ := Table(g.m)
	lease := LeaseTable(table)
	pg := e == PostgreSQL
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- Leases in the task row of model %q for %s: which worker holds a task\n", SQLHeader, g.m.Name, e)
	p("-- (%s), until when (%s; held while it is in the future)\n", LeaseOwnerColumn, LeaseExpiresColumn)
	p("-- and how many times a worker has reserved it (%s). A claim writes\n", LeaseAttemptColumn)
	p("-- them in the update that moves the task, with no lease row to look up,\n")
	p("-- insert and index; %s goes.\n\n", lease)
	defs := leaseColumnDefs(e)
	owner, expires, attempt := defs[0], defs[1], defs[2]
	// Only a task that can still be reserved or lost needs its lease: a
	// finished task's would cost a new row version each and serve nothing.
	var terminal []string
	for _, st := range g.m.Statuses {
		if st.Terminal {
			terminal = append(terminal, st.Name)
		}
	}
	live := ""
	if len(terminal) > 0 {
		live = " AND " + inList(table+".status", terminal)
		live = strings.Replace(live, " IN (", " NOT IN (", 1)
	}
	if pg {
		p("ALTER TABLE %s\n    ADD COLUMN %s,\n    ADD COLUMN %s,\n    ADD COLUMN %s;\n\n", table, owner, expires, attempt)
		p("-- Reservations and heartbeats write only the lease columns: the change\n")
		p("-- trigger now fires on a write of the status or the version (every Fire and\n")
		p("-- Update writes the version), not on those, nor on the copy below.\n")
		p("DROP TRIGGER %s_notify ON %s;\n", table, table)
		p("CREATE TRIGGER %s_notify AFTER INSERT OR UPDATE OF status, version ON %s\n    FOR EACH ROW WHEN (pg_sequence_last_value(%s::regclass) > 0)\n    EXECUTE FUNCTION %s_notify();\n\n",
			table, table, quoteSQL(ListeningSequence(table)), table)
		p("-- The leases of the tasks that are not finished move into their rows (a\n")
		p("-- finished task's lease serves nothing; its columns keep their defaults).\n")
		p("UPDATE %s SET %s = l.owner, %s = l.expires_at, %s = l.attempt\n", table, LeaseOwnerColumn, LeaseExpiresColumn, LeaseAttemptColumn)
		p("FROM %s AS l WHERE l.task_id = %s.id%s;\n\n", lease, table, live)
		p("-- The trigger that deleted a deleted task's lease goes with its function\n")
		p("-- (in a DO block because 0007_worker_lean_writes, which made them, is not in\n")
		p("-- the schema sqlc compiles the queries against).\n")
		p("DO $$ BEGIN DROP FUNCTION %s_cascade() CASCADE; END $$;\n\n", lease)
	} else {
		// One column per ALTER TABLE in SQLite.
		for _, c := range []string{owner, expires, attempt} {
			p("ALTER TABLE %s ADD COLUMN %s;\n", table, c)
		}
		p("\n-- The leases of the tasks that are not finished move into their rows (a\n")
		p("-- finished task's lease serves nothing; its columns keep their defaults).\n")
		p("UPDATE %s SET\n", table)
		for i, c := range [][2]string{{LeaseOwnerColumn, "owner"}, {LeaseExpiresColumn, "expires_at"}, {LeaseAttemptColumn, "attempt"}} {
			p("    %s = (SELECT l.%s FROM %s AS l WHERE l.task_id = %s.id)%s\n", c[0], c[1], lease, table, pick(i < 2, ",", ""))
		}
		p("WHERE id IN (SELECT task_id FROM %s)%s;\n", lease, live)
	}
	p("DROP TABLE %s;\n", lease)
	return []byte(b.String())
}

// workerQuerySQL renders the worker queries, appended to the model's query
// file: Reserve, Heartbeat, Lost and, on PostgreSQL, Claim. Each returns the
// model's columns and the lease's attempt (Lost its owner too), which the
// driver turns into the task row.
func (g *generator) workerQuerySQL(e Engine) string {
	m := g.m
	table, _ := Table(m)
	pg := e == PostgreSQL
	typ := func(pgType, sqliteType string) string { return pick(pg, pgType, sqliteType) }
	now := g.arg(e, "tm_now", typ("timestamptz", "DATETIME"))
	maxRows := g.arg(e, "tm_max_rows", typ("integer", "INTEGER"))
	cols := g.tableColumns(e)
	// take writes the lease of a reserving worker into the task row (aliased
	// w on PostgreSQL).
	take := fmt.Sprintf("%s = %s, %s = %s, %s = %s%s + 1", LeaseOwnerColumn, g.arg(e, "tm_owner", typ("text", "TEXT")),
		LeaseExpiresColumn, g.arg(e, "tm_expires_at", typ("timestamptz", "DATETIME")), LeaseAttemptColumn, typ("w.", ""), LeaseAttemptColumn)
	free := fmt.Sprintf("(r.%s IS NULL OR r.%s <= %s)", LeaseExpiresColumn, LeaseExpiresColumn, now)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("-- name: Reserve :many\n")
	p("-- Leases up to tm_max_rows tasks in tm_status that no live lease holds (none,\n")
	p("-- or one expired by tm_now), oldest first, and counts an attempt on each. The\n")
	p("-- lease is written into the task row under its row lock, so a task goes to\n")
	p("-- one worker. Status and version are unchanged: the worker then fires the\n")
	p("-- claim event.\n")
	if pg {
		p("%s", asyncCommitComment)
		p("WITH c AS (\n    SELECT r.id FROM %s AS r\n    WHERE r.status = %s AND %s\n", table, g.arg(e, "tm_status", "text"), free)
		p("      AND %s\n", asyncCommit)
		p("    ORDER BY r.created_at, r.id\n    LIMIT %s\n    FOR UPDATE OF r SKIP LOCKED\n), t AS (\n", maxRows)
		// The ANY makes the update find its rows by primary key: joined on
		// c, the plan hashed a sequential scan of the whole table.
		p("    UPDATE %s AS w SET %s\n    WHERE w.id = ANY (ARRAY(SELECT c.id FROM c))\n", table, take)
		p("    RETURNING w.%s\n)\n", strings.Join(cols, ", w."))
		p("SELECT %s FROM t\nORDER BY created_at, id;\n\n", strings.Join(cols, ", "))
		if g.sqlClaim() {
			b.WriteString(g.claimQuerySQL(take, free))
		}
	} else {
		// SQLite runs one writer at a time: the rows the subquery finds hold
		// no live lease when the update takes them. RETURNING has no order;
		// the driver sorts the rows.
		p("UPDATE %s SET %s\n", table, take)
		p("WHERE id IN (SELECT r.id FROM %s AS r WHERE r.status = %s AND %s\n", table, g.arg(e, "tm_status", "TEXT"), free)
		p("    ORDER BY r.created_at, r.id LIMIT %s)\n", maxRows)
		p("RETURNING %s;\n\n", strings.Join(cols, ", "))
		if g.sqlClaim() {
			w := m.Worker
			p("-- name: Claim :many\n")
			p("-- Reserve and the claim event %q in one update: every reserved task\n", w.Claim.Name)
			p("-- moves from %s to %s as Fire moves it (version + 1, updated_at\n", w.Queue.Name, w.Running.Name)
			p("-- and the entry timestamp at tm_now, the progress the status maps) and takes\n")
			p("-- its lease; the driver appends the history rows in the same transaction.\n")
			p("-- Only tasks after the position (tm_after_created_at, tm_after_id) are claimed.\n")
			p("UPDATE %s SET %s,\n    %s\n", table, strings.Join(g.claimSets(e, now), ",\n    "), take)
			p("WHERE id IN (SELECT r.id FROM %s AS r WHERE r.status = %s AND %s\n", table, quoteSQL(w.Queue.Name), free)
			p("      AND (r.created_at > %s OR (r.created_at = %s AND r.id > %s))\n",
				g.arg(e, "tm_after_created_at", "DATETIME"), g.arg(e, "tm_after_created_at_eq", "DATETIME"), g.arg(e, "tm_after_id", "TEXT"))
			p("    ORDER BY r.created_at, r.id LIMIT %s)\n", maxRows)
			p("RETURNING %s;\n\n", strings.Join(cols, ", "))
		}
		p("-- name: Claimable :one\n")
		p("-- Whether a task in tm_status is claimable (no live lease holds it): what\n")
		p("-- backends/sqlite.Wake reads, after another connection committed, before it\n")
		p("-- wakes a waiting pool.\n")
		p("SELECT EXISTS (SELECT 1 FROM %s AS r WHERE r.status = %s AND %s) AS claimable;\n\n", table, g.arg(e, "tm_status", "TEXT"), free)
	}
	p("-- name: Heartbeat :execrows\n")
	p("-- Extends a lease while its holder (owner and attempt) still has it and the\n")
	p("-- task is still in tm_status (a task never leased, attempt 0, has no holder);\n")
	p("-- 0 rows tell the worker to stop.\n")
	p("UPDATE %s SET %s = %s\n", table, LeaseExpiresColumn, g.arg(e, "tm_expires_at", typ("timestamptz", "DATETIME")))
	p("WHERE id = %s AND %s = %s AND %s = %s\n", g.arg(e, "tm_task_id", typ("uuid", "TEXT")), LeaseOwnerColumn, g.arg(e, "tm_owner", typ("text", "TEXT")),
		LeaseAttemptColumn, g.arg(e, "tm_attempt", typ("integer", "INTEGER")))
	p("  AND %s > 0 AND status = %s;\n\n", LeaseAttemptColumn, g.arg(e, "tm_status", typ("text", "TEXT")))
	p("-- name: Lost :many\n")
	status := g.arg(e, "tm_status", "TEXT")
	if pg {
		// A parameter for the status would leave PostgreSQL's generic plan
		// guessing a fifth of the table per status, and scanning it; with the
		// running status written out, the status index finds the few running
		// tasks.
		status = quoteSQL(m.Worker.Running.Name)
		p("-- Tasks in the running status %s whose lease expired: their worker is\n", m.Worker.Running.Name)
		p("-- gone. The status is written out, not a parameter, so that the plan reads\n")
		p("-- the running tasks through the status index.\n")
	} else {
		p("-- Tasks in tm_status whose lease expired: their worker is gone.\n")
	}
	p("SELECT %s FROM %s\n", strings.Join(cols, ", "), table)
	p("WHERE status = %s AND %s <= %s\n", status, LeaseExpiresColumn, now)
	p("ORDER BY %s, id\nLIMIT %s;\n\n", LeaseExpiresColumn, maxRows)
	return b.String()
}

// tableColumns are the names of every column of the task table: the
// model's, then the history counter on PostgreSQL and the lease columns of
// a model with a worker section.
func (g *generator) tableColumns(e Engine) []string {
	names := g.columnNames(e)
	names = names[:len(names)-1] // TraceparentColumn, the table's last
	if e == PostgreSQL {
		names = append(names, HistorySeqColumn)
	}
	if g.m.Worker != nil {
		names = append(names, LeaseOwnerColumn, LeaseExpiresColumn, LeaseAttemptColumn)
	}
	return append(names, TraceparentColumn)
}

// columnNames are the model's column names for an engine.
func (g *generator) columnNames(e Engine) []string {
	var names []string
	for _, c := range g.columns(e) {
		names = append(names, c.Name)
	}
	return names
}

// sqlClaim reports whether the PostgreSQL driver fires the claim event in
// SQL, in the statement that reserves (backends.Claimer): the event must need
// no fields, so that what Fire does to the row is fixed by the spec.
func (g *generator) sqlClaim() bool {
	w := g.m.Worker
	return w != nil && w.Claim != nil && len(w.Claim.Requires) == 0
}

// claimQuerySQL renders Claim: Reserve with the claim event fired on every
// reserved task in the same update, exactly as the model's Fire does it
// (status, version + 1, updated_at, the entry timestamp, the progress the
// status maps at 0 done), with its history row. take sets the lease columns
// and free is the condition of a task no live lease holds.
func (g *generator) claimQuerySQL(take, free string) string {
	m := g.m
	w := m.Worker
	table, history := Table(m)
	now := "sqlc.arg(tm_now)::timestamptz"
	sets := append(g.claimSets(PostgreSQL, now), fmt.Sprintf("%s = w.%s + 1", HistorySeqColumn, HistorySeqColumn), take)
	names := g.tableColumns(PostgreSQL)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("-- name: Claim :many\n")
	p("-- Reserve and the claim event %q in one update and one commit: every\n", w.Claim.Name)
	p("-- reserved task moves from %s to %s\n", w.Queue.Name, w.Running.Name)
	p("-- as Fire moves it (version + 1, updated_at and the entry timestamp at tm_now,\n")
	p("-- the progress the status maps), takes its lease, and gets its history row\n")
	p("-- (actor tm_owner, the lease's attempt). Returns the claimed tasks.\n")
	p("-- Only tasks after the position (tm_after_created_at, tm_after_id) are\n")
	p("-- claimed: the row comparison bounds the status index scan, which then\n")
	p("-- starts past the dead entries of the tasks claimed before it.\n")
	p("%s", asyncCommitComment)
	p("WITH c AS (\n    SELECT r.id FROM %s AS r\n    WHERE r.status = %s AND %s\n", table, quoteSQL(w.Queue.Name), free)
	p("      AND (r.created_at, r.id) > (sqlc.arg(tm_after_created_at)::timestamptz, sqlc.arg(tm_after_id)::uuid)\n")
	p("      AND %s\n", asyncCommit)
	p("    ORDER BY r.created_at, r.id\n    LIMIT sqlc.arg(tm_max_rows)::integer\n    FOR UPDATE OF r SKIP LOCKED\n), t AS (\n")
	p("    UPDATE %s AS w SET %s\n    WHERE w.id = ANY (ARRAY(SELECT c.id FROM c))\n", table, strings.Join(sets, ",\n        "))
	p("    RETURNING w.%s\n), h AS (\n", strings.Join(names, ", w."))
	p("    INSERT INTO %s (task_id, seq, from_status, to_status, event, at, attempt, actor, message)\n", history)
	p("    SELECT t.id, t.%s, %s, %s, %s, %s,\n", HistorySeqColumn, quoteSQL(w.Queue.Name), quoteSQL(w.Running.Name), quoteSQL(w.Claim.Name), now)
	p("        t.%s, sqlc.arg(tm_owner)::text, 'claimed by ' || sqlc.arg(tm_owner)::text || ' (attempt ' || t.%s || ')' FROM t\n)\n", LeaseAttemptColumn, LeaseAttemptColumn)
	p("SELECT %s FROM t\nORDER BY created_at, id;\n\n", strings.Join(names, ", "))
	return b.String()
}

// asyncCommit, a condition of a PostgreSQL reservation's or claim's scan,
// turns synchronous_commit off for the statement's transaction: evaluated
// once (an uncorrelated subquery), before the scan.
const asyncCommit = "(SELECT set_config('synchronous_commit', 'off', true)) = 'off'"

// asyncCommitComment explains asyncCommit in the query file.
const asyncCommitComment = `-- It commits without waiting for the write-ahead log's flush (synchronous_commit
-- off for its own transaction), so the worker starts the task a flush sooner.
-- A server crash within the next moments may undo the lease: the task is then
-- claimable again and runs again, as when a worker dies. The task's end waits
-- for its flush, which makes the lease before it durable too.
`

// claimSets are the assignments of the claim event as Fire makes it, at now:
// the running status, version + 1, updated_at and the entry timestamp, and
// the progress the status maps at 0 done. PostgreSQL's update aliases the
// table w.
func (g *generator) claimSets(e Engine, now string) []string {
	m, w := g.m, g.m.Worker
	sets := []string{"status = " + quoteSQL(w.Running.Name), "version = " + pick(e == PostgreSQL, "w.", "") + "version + 1", "updated_at = " + now}
	if ea := w.Running.EnteredAt; ea != "" && ea != "updated_at" {
		sets = append(sets, ea+" = "+now)
	}
	if p, pf := w.Running.Progress, m.ProgressField; p != nil && pf != nil {
		pct := p.From
		if p.Fixed {
			pct = p.Percent
		}
		sets = append(sets, fmt.Sprintf("%s = %d", pf.Name, pct))
	}
	return sets
}

// workerDecl emits the Worker variable and PrepareFailure for a model with a
// worker section.
func (g *generator) workerDecl(f *jen.File) {
	w := g.m.Worker
	if w == nil {
		return
	}
	name := func(e *spec.Event) jen.Code {
		if e == nil {
			return jen.Lit("")
		}
		return jen.String().Call(jen.Id(e.GoName))
	}
	d := jen.Dict{
		jen.Id("Claim"): name(w.Claim), jen.Id("Complete"): name(w.Complete), jen.Id("Fail"): name(w.Fail),
		jen.Id("Cancel"): name(w.Cancel), jen.Id("Requeue"): name(w.Requeue),
		jen.Id("Queue"): jen.String().Call(jen.Id(w.Queue.GoName)), jen.Id("Running"): jen.String().Call(jen.Id(w.Running.GoName)),
		jen.Id("MaxAttempts"): jen.Lit(w.MaxAttempts), jen.Id("Lease"): durationLit(w.Lease),
	}
	if w.ErrorCode != nil {
		d[jen.Id("ErrorCode")] = jen.String().Call(jen.Id(w.ErrorCode.GoName))
	}
	f.Comment("Worker is the spec's worker section: workers claim tasks in " + w.Queue.Name + " with")
	f.Comment(fmt.Sprintf("event %q, run them in %s under a lease of %s, and end them with", w.Claim.Name, w.Running.Name, durationText(w.Lease)))
	f.Comment(fmt.Sprintf("%q or %q.", w.Complete.Name, w.Fail.Name))
	f.Var().Id("Worker").Op("=").Qual(pkgTasktype, "Worker").Values(d)

	var body []jen.Code
	for _, r := range w.Fail.Requires {
		fd := g.m.FieldByName(r.Name)
		set := func(v jen.Code) {
			if fd.Optional {
				body = append(body, jen.Id("x").Dot(fd.GoName).Op("=").Op("&").Add(v))
			} else {
				body = append(body, jen.Id("x").Dot(fd.GoName).Op("=").Add(v))
			}
		}
		switch fd.Type.Kind {
		case spec.KindErrorCode:
			body = append(body,
				jen.List(jen.Id("c"), jen.Err()).Op(":=").Id("ParseErrorCode").Call(jen.Id("code")),
				jen.If(jen.Err().Op("!=").Nil()).Block(jen.Id("c").Op("=").Id(w.ErrorCode.GoName)),
			)
			set(jen.Id("c"))
		case spec.KindString:
			msg := []jen.Code{jen.Id("msg").Op(":=").Qual(pkgValidation, "StorableText").Call(jen.Id("message"), jen.Lit(fd.Multiline))}
			if fd.MinLen != nil && *fd.MinLen > 0 || fd.Required {
				msg = append(msg, jen.If(jen.Id("msg").Op("==").Lit("")).Block(jen.Id("msg").Op("=").Lit("failed")))
			}
			if fd.MaxLen != nil {
				msg = append(msg, jen.Id("msg").Op("=").Qual(pkgTasktype, "CutMiddle").Call(jen.Id("msg"), jen.Lit(*fd.MaxLen)))
			}
			body = append(body, msg...)
			set(jen.Id("msg"))
		}
	}
	body = append(body, jen.Return(jen.Id(w.Fail.GoName)))
	f.Comment(fmt.Sprintf("PrepareFailure fills the fields event %q requires from a failure's code", w.Fail.Name))
	f.Comment("and message and returns the event. A code the spec does not declare becomes")
	f.Comment("the worker's error code; a message is made text its field takes")
	f.Comment("(validation.StorableText: a single-line field's line breaks become \"; \"),")
	f.Comment("and one longer than the field allows is cut in the middle, keeping its")
	f.Comment("start and its end (tasktype.CutMiddle).")
	f.Func().Params(jen.Id("x").Op("*").Id(g.m.Struct)).Id("PrepareFailure").Params(jen.List(jen.Id("code"), jen.Id("message")).String()).Id("Event").Block(body...)
}

// progressMethod emits ReportProgress: the model's progress field set from
// its status's progress mapping.
func (g *generator) progressMethod(f *jen.File) {
	m := g.m
	body := []jen.Code{jen.Return(jen.False())}
	if pf := m.ProgressField; pf != nil {
		body = []jen.Code{
			jen.List(jen.Id("p"), jen.Id("ok")).Op(":=").Id("x").Dot("Status").Dot("Progress").Call(jen.Id("done")),
			jen.If(jen.Op("!").Id("ok")).Block(jen.Return(jen.False())),
			jen.Id("x").Dot(pf.GoName).Op("=").Int64().Call(jen.Id("p")),
			jen.Return(jen.True()),
		}
	}
	f.Comment("ReportProgress sets the task's progress from its status's progress mapping,")
	f.Comment("given the fraction of the work done (0 to 1); false, and nothing set, when")
	f.Comment("the status maps no progress or the model has no progress field.")
	f.Func().Params(jen.Id("x").Op("*").Id(m.Struct)).Id("ReportProgress").Params(jen.Id("done").Float64()).Bool().Block(body...)
}

// sqliteClaim emits a SQLite driver's Claim (backends.Claimer): the Claim
// update, then the claim's history row of every claimed task, in one
// transaction of the database's sqlite.Writer, so that the claims of a
// batch share it with the process's other writes.
func (g *generator) sqliteClaim(f *jen.File, claims jen.Code, rowType string, convert jen.Code) {
	w := g.m.Worker
	pos := jen.Qual(pkgBackends, "QueuePosition")
	f.Comment(fmt.Sprintf("Claim reserves like Reserve, after a position in the queue, and fires the claim event %q", w.Claim.Name))
	f.Comment("on every reserved task in the same transaction, with its history row; it")
	f.Comment("implements backends.Claimer.")
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("Claim").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("owner").String(), jen.List(jen.Id("now"), jen.Id("expires")).Qual("time", "Time"), jen.Id("limit").Int(), jen.Id("after").Add(pos)).Params(claims, pos, jen.Error()).Block(
		jen.Id("now").Op("=").Id("now").Dot("UTC").Call(),
		jen.List(jen.Id("rows"), jen.Err()).Op(":=").Qual(pkgSQLiteBackend, "Write").Call(jen.Id("ctx"), jen.Id("d").Dot("w"),
			jen.Func().Params(jen.Id("tx").Qual(pkgSQLiteBackend, "DBTX")).Params(jen.Index().Id(rowType), jen.Error()).Block(
				jen.Id("q").Op(":=").Id("New").Call(jen.Id("tx")),
				jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("q").Dot("Claim").Call(jen.Id("ctx"), jen.Id("ClaimParams").Values(jen.Dict{
					jen.Id("TmNow"): jen.Id("now"), jen.Id("TmMaxRows"): jen.Int64().Call(jen.Id("limit")),
					jen.Id("TmOwner"): jen.Id("owner"), jen.Id("TmExpiresAt"): jen.New(jen.Id("expires").Dot("UTC").Call()),
					jen.Id("TmAfterCreatedAt"): jen.Id("after").Dot("CreatedAt").Dot("UTC").Call(), jen.Id("TmAfterCreatedAtEq"): jen.Id("after").Dot("CreatedAt").Dot("UTC").Call(),
					jen.Id("TmAfterID"): jen.Id("after").Dot("ID"),
				})),
				jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
				jen.List(jen.Id("from"), jen.Id("ev")).Op(":=").List(jen.Lit(w.Queue.Name), jen.Lit(w.Claim.Name)),
				jen.For(jen.List(jen.Id("_"), jen.Id("r")).Op(":=").Range().Id("rows")).Block(
					jen.If(jen.Err().Op(":=").Id("q").Dot("InsertHistory").Call(jen.Id("ctx"), jen.Id("InsertHistoryParams").Values(jen.Dict{
						jen.Id("TmTaskID"): jen.Id("r").Dot("ID"), jen.Id("TmFromStatus"): jen.Op("&").Id("from"), jen.Id("TmToStatus"): jen.Lit(w.Running.Name),
						jen.Id("TmEvent"): jen.Op("&").Id("ev"), jen.Id("TmAt"): jen.Id("now"), jen.Id("TmAttempt"): jen.Id("r").Dot(SQLCName(LeaseAttemptColumn)),
						jen.Id("TmActor"):   jen.Id("owner"),
						jen.Id("TmMessage"): jen.Qual("fmt", "Sprintf").Call(jen.Lit("claimed by %s (attempt %d)"), jen.Id("owner"), jen.Id("r").Dot(SQLCName(LeaseAttemptColumn))),
					})), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
				),
				jen.Return(jen.Id("rows"), jen.Nil()),
			)),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), pos.Clone().Values(), jen.Id("classify").Call(jen.Err()))),
		jen.Comment("RETURNING has no order: oldest first, as the update chose them."),
		jen.Qual("slices", "SortFunc").Call(jen.Id("rows"), jen.Func().Params(jen.List(jen.Id("a"), jen.Id("b")).Id(rowType)).Int().Block(
			jen.If(jen.Id("c").Op(":=").Id("a").Dot("CreatedAt").Dot("Compare").Call(jen.Id("b").Dot("CreatedAt")), jen.Id("c").Op("!=").Lit(0)).Block(jen.Return(jen.Id("c"))),
			jen.Return(jen.Qual("bytes", "Compare").Call(jen.Id("a").Dot("ID").Index(jen.Op(":")), jen.Id("b").Dot("ID").Index(jen.Op(":")))),
		)),
		jen.List(jen.Id("out"), jen.Err()).Op(":=").Qual(pkgBackends, "Claims").Call(jen.Id("rows"), convert),
		jen.If(jen.Err().Op("!=").Nil().Op("||").Len(jen.Id("rows")).Op("==").Lit(0)).Block(jen.Return(jen.Id("out"), pos.Clone().Values(), jen.Err())),
		jen.Id("last").Op(":=").Id("rows").Index(jen.Len(jen.Id("rows")).Op("-").Lit(1)),
		jen.Return(jen.Id("out"), pos.Clone().Values(jen.Dict{jen.Id("CreatedAt"): jen.Id("last").Dot("CreatedAt").Dot("UTC").Call(), jen.Id("ID"): jen.Id("last").Dot("ID")}), jen.Nil()),
	)
	f.Var().Id("_").Qual(pkgBackends, "Claimer").Types(jen.Qual(g.importPath, g.m.Struct)).Op("=").Parens(jen.Op("*").Id("Driver")).Parens(jen.Nil())
}

// WakingSequence names the sequence that arms a model's wake trigger (1:
// a worker pool waits for tasks; the first task queued notifies and sets it
// back to 0).
func WakingSequence(table string) string { return table + "_waking" }

// workerWakeSQL renders the PostgreSQL migration 0011_worker_wake: a task
// queued by any process wakes the worker pools that wait for one
// (backends/postgres.WakeListener), instead of their next poll.
func (g *generator) workerWakeSQL(Engine) []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- Wake-up of the worker pools of model %q for postgresql: a task queued by\n", SQLHeader, g.m.Name)
	p("-- any process notifies the pools that wait for one, instead of their next poll.\n\n")
	g.wakeObjects(p)
	return []byte(b.String())
}

// wakeObjects writes the wake trigger of a model with a worker section, its
// function and its arming sequence (workerWakeSQL, and a model that gains a
// worker section).
func (g *generator) wakeObjects(p func(string, ...any)) {
	table, _ := Table(g.m)
	seq := WakingSequence(table)
	p("-- The trigger's arm: set to 1 by a pool that waits (backends/postgres.WakeListener),\n")
	p("-- to 0 by the first task queued after, and when the last pool stops listening.\n")
	p("-- NOTIFY serializes commits, so a pool kept busy, which arms nothing, costs\n")
	p("-- writers nothing. Unlogged from PostgreSQL 15 on: arming writes no WAL.\n")
	p("DO $$\nBEGIN\n    IF current_setting('server_version_num')::integer >= 150000 THEN\n")
	p("        EXECUTE 'CREATE UNLOGGED SEQUENCE %s MINVALUE 0 MAXVALUE 1 START 0';\n", seq)
	p("    ELSE\n        EXECUTE 'CREATE SEQUENCE %s MINVALUE 0 MAXVALUE 1 START 0';\n    END IF;\nEND\n$$;\n\n", seq)
	p("-- Notifies \"<schema>.taskmodel_wake_%s\" (empty: a transaction that queues many\n", g.m.Name)
	p("-- tasks notifies once) and disarms. It runs as its owner, so that a role that\n")
	p("-- may write tasks need not update the sequence.\n")
	p("CREATE FUNCTION %s_wake() RETURNS trigger LANGUAGE plpgsql\n    SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$\nBEGIN\n", table)
	p("    PERFORM pg_notify(TG_TABLE_SCHEMA || '.taskmodel_wake_' || TG_TABLE_NAME, '');\n")
	p("    PERFORM setval(format('%%I.%%I', TG_TABLE_SCHEMA, TG_TABLE_NAME || '_waking')::regclass, 0, true);\n")
	p("    RETURN NULL;\nEND\n$$;\n\n")
	p("CREATE TRIGGER %s_wake AFTER INSERT OR UPDATE OF status ON %s\n", table, table)
	p("    FOR EACH ROW WHEN (NEW.status = %s AND pg_sequence_last_value(%s::regclass) > 0)\n", quoteSQL(g.m.Worker.Queue.Name), quoteSQL(seq))
	p("    EXECUTE FUNCTION %s_wake();\n", table)
}
