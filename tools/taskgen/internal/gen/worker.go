package gen

import (
	"fmt"
	"strconv"
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

// workerQuerySQL renders the worker queries, appended to the model's query
// file: Reserve, Heartbeat and Lost.
func (g *generator) workerQuerySQL(e Engine) string {
	m := g.m
	table, _ := Table(m)
	lease := LeaseTable(table)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	upsert := fmt.Sprintf("ON CONFLICT (task_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at, attempt = %s.attempt + 1\n", lease)
	if e == PostgreSQL {
		p("-- name: Reserve :many\n")
		p("-- Leases up to tm_max_rows tasks in tm_status that no live lease holds, oldest\n")
		p("-- first, skipping rows other workers are reserving (SKIP LOCKED); the upsert\n")
		p("-- takes a lease row over only once it has expired, so a task goes to one\n")
		p("-- worker. The task row is unchanged: the worker then fires the claim event.\n")
		p("WITH c AS (\n    SELECT r.id FROM %s AS r\n    WHERE r.status = sqlc.arg(tm_status)::text\n", table)
		p("      AND NOT EXISTS (SELECT 1 FROM %s AS h WHERE h.task_id = r.id AND h.expires_at > sqlc.arg(tm_now)::timestamptz)\n", lease)
		p("    ORDER BY r.created_at, r.id\n    LIMIT sqlc.arg(tm_max_rows)::integer\n    FOR UPDATE OF r SKIP LOCKED\n), l AS (\n")
		p("    INSERT INTO %s (task_id, owner, expires_at, attempt)\n", lease)
		p("    SELECT c.id, sqlc.arg(tm_owner)::text, sqlc.arg(tm_expires_at)::timestamptz, 1 FROM c\n")
		p("    %s    WHERE %s.expires_at <= sqlc.arg(tm_now)::timestamptz\n    RETURNING task_id, attempt\n)\n", upsert, lease)
		p("SELECT sqlc.embed(t), l.attempt FROM %s AS t JOIN l ON l.task_id = t.id\nWHERE t.id = ANY (ARRAY(SELECT l.task_id FROM l))\nORDER BY t.created_at, t.id;\n\n", table)
		if g.sqlClaim() {
			b.WriteString(g.claimQuerySQL(upsert))
		}
	} else {
		p("-- name: Reserve :many\n")
		p("-- Leases up to tm_max_rows tasks in tm_status that no live lease holds, oldest\n")
		p("-- first. SQLite runs one writer at a time, so the rows NOT EXISTS lets through\n")
		p("-- hold no live lease when the upsert takes them: a task goes to one worker.\n")
		p("-- The task row is unchanged: the worker then fires the claim event.\n")
		p("INSERT INTO %s (task_id, owner, expires_at, attempt)\n", lease)
		p("SELECT r.id, sqlc.arg(tm_owner), sqlc.arg(tm_expires_at), 1 FROM %s AS r\nWHERE r.status = sqlc.arg(tm_status)\n", table)
		p("  AND NOT EXISTS (SELECT 1 FROM %s AS h WHERE h.task_id = r.id AND h.expires_at > sqlc.arg(tm_now))\n", lease)
		p("ORDER BY r.created_at, r.id\nLIMIT sqlc.arg(tm_max_rows)\n")
		p("%sRETURNING task_id, attempt;\n\n", upsert)
	}
	p("-- name: Heartbeat :execrows\n")
	p("-- Extends a lease while its holder (owner and attempt) still has it and the\n")
	p("-- task is still in tm_status; 0 rows tell the worker to stop.\n")
	p("UPDATE %s SET expires_at = %s\n", lease, g.arg(e, "tm_expires_at", pick(e == PostgreSQL, "timestamptz", "DATETIME")))
	p("WHERE task_id = %s AND owner = %s AND attempt = %s\n", g.arg(e, "tm_task_id", pick(e == PostgreSQL, "uuid", "TEXT")), g.arg(e, "tm_owner", pick(e == PostgreSQL, "text", "TEXT")), g.arg(e, "tm_attempt", pick(e == PostgreSQL, "integer", "INTEGER")))
	p("  AND EXISTS (SELECT 1 FROM %s AS r WHERE r.id = %s.task_id AND r.status = %s);\n\n", table, lease, g.arg(e, "tm_status", pick(e == PostgreSQL, "text", "TEXT")))
	p("-- name: Lost :many\n")
	if e == PostgreSQL {
		// A parameter for the status would leave PostgreSQL's generic plan
		// guessing a fifth of the table per status: it read every lease
		// (finished tasks keep theirs) and every task. With the running
		// status written out, the plan starts from the few running tasks.
		running := quoteSQL(m.Worker.Running.Name)
		p("-- Tasks in the running status %s whose lease expired: their worker is\n", m.Worker.Running.Name)
		p("-- gone. The plan starts from the running tasks (the status is written out,\n")
		p("-- not a parameter, and the status index finds them) and reads their leases\n")
		p("-- by key: finished tasks keep their leases, which a scan would read too.\n")
		p("SELECT sqlc.embed(t), l.owner, l.attempt FROM %s AS t JOIN %s AS l ON l.task_id = t.id\n", table, lease)
		p("WHERE l.task_id = ANY (ARRAY(SELECT r.id FROM %s AS r WHERE r.status = %s))\n", table, running)
		p("  AND t.status = %s AND l.expires_at <= %s\n", running, g.arg(e, "tm_now", "timestamptz"))
	} else {
		// CROSS JOIN makes SQLite loop over the tasks first; with a JOIN it
		// walked the expires_at index over every expired lease (finished
		// tasks keep theirs) and looked each task up.
		p("-- Tasks in tm_status whose lease expired: their worker is gone. CROSS JOIN\n")
		p("-- keeps SQLite's join order: the tasks in tm_status first (the status index),\n")
		p("-- then their leases by key (+ keeps the expires_at index out), not every\n")
		p("-- expired lease (finished tasks keep theirs).\n")
		p("SELECT sqlc.embed(t), l.owner, l.attempt FROM %s AS t CROSS JOIN %s AS l ON l.task_id = t.id\n", table, lease)
		// +l.expires_at: no index on expires_at for this term, so the lease
		// is found by its key.
		p("WHERE t.status = %s AND +l.expires_at <= %s\n", g.arg(e, "tm_status", "TEXT"), g.arg(e, "tm_now", "DATETIME"))
	}
	p("ORDER BY l.expires_at, t.id\nLIMIT %s;\n\n", g.arg(e, "tm_max_rows", pick(e == PostgreSQL, "integer", "INTEGER")))
	return b.String()
}

// sqlClaim reports whether the PostgreSQL driver fires the claim event in
// SQL, in the statement that reserves (backends.Claimer): the event must need
// no fields, so that what Fire does to the row is fixed by the spec.
func (g *generator) sqlClaim() bool {
	w := g.m.Worker
	return w != nil && w.Claim != nil && len(w.Claim.Requires) == 0
}

// claimQuerySQL renders Claim: Reserve with the claim event fired on every
// reserved task in the same statement, exactly as the model's Fire does it
// (status, version + 1, updated_at, the entry timestamp, the progress the
// status maps at 0 done), with its history row.
func (g *generator) claimQuerySQL(upsert string) string {
	m := g.m
	w := m.Worker
	table, history := Table(m)
	lease := LeaseTable(table)
	now := "sqlc.arg(tm_now)::timestamptz"
	sets := []string{"status = " + quoteSQL(w.Running.Name), "version = w.version + 1", "updated_at = " + now}
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
	var names []string
	for _, c := range g.columns(PostgreSQL) {
		names = append(names, c.Name)
	}
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("-- name: Claim :many\n")
	p("-- Reserve and the claim event %q in one statement and one commit: every\n", w.Claim.Name)
	p("-- reserved task moves from %s to %s\n", w.Queue.Name, w.Running.Name)
	p("-- as Fire moves it (version + 1, updated_at and the entry timestamp at tm_now,\n")
	p("-- the progress the status maps), with its history row (actor tm_owner, the\n")
	p("-- lease's attempt). Returns the claimed tasks.\n")
	p("WITH c AS (\n    SELECT r.id FROM %s AS r\n    WHERE r.status = %s\n", table, quoteSQL(w.Queue.Name))
	p("      AND NOT EXISTS (SELECT 1 FROM %s AS h WHERE h.task_id = r.id AND h.expires_at > %s)\n", lease, now)
	p("    ORDER BY r.created_at, r.id\n    LIMIT sqlc.arg(tm_max_rows)::integer\n    FOR UPDATE OF r SKIP LOCKED\n), l AS (\n")
	p("    INSERT INTO %s (task_id, owner, expires_at, attempt)\n", lease)
	p("    SELECT c.id, sqlc.arg(tm_owner)::text, sqlc.arg(tm_expires_at)::timestamptz, 1 FROM c\n")
	p("    %s    WHERE %s.expires_at <= %s\n    RETURNING task_id, attempt\n), t AS (\n", upsert, lease, now)
	// The ANY makes the update find its rows by primary key, as in
	// TransitionMany: joined on l alone, the plan hashed a sequential scan
	// of the whole table.
	sets = append(sets, fmt.Sprintf("%s = w.%s + 1", HistorySeqColumn, HistorySeqColumn))
	p("    UPDATE %s AS w SET %s\n    FROM l WHERE w.id = ANY (ARRAY(SELECT l.task_id FROM l)) AND w.id = l.task_id\n", table, strings.Join(sets, ", "))
	p("    RETURNING w.%s, w.%s, l.attempt\n), h AS (\n", strings.Join(names, ", w."), HistorySeqColumn)
	p("    INSERT INTO %s (task_id, seq, from_status, to_status, event, at, attempt, actor, message)\n", history)
	p("    SELECT t.id, t.%s, %s, %s, %s, %s,\n", HistorySeqColumn, quoteSQL(w.Queue.Name), quoteSQL(w.Running.Name), quoteSQL(w.Claim.Name), now)
	p("        t.attempt, sqlc.arg(tm_owner)::text, 'claimed by ' || sqlc.arg(tm_owner)::text || ' (attempt ' || t.attempt || ')' FROM t\n)\n")
	p("SELECT %s, attempt FROM t\nORDER BY created_at, id;\n\n", strings.Join(names, ", "))
	return b.String()
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
	f.Comment(fmt.Sprintf("event %q, run them in %s under a lease of %s, and end them with", w.Claim.Name, w.Running.Name, w.Lease))
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
			msg := []jen.Code{jen.Id("msg").Op(":=").Id("message")}
			if fd.MinLen != nil && *fd.MinLen > 0 || fd.Required {
				msg = append(msg, jen.If(jen.Id("msg").Op("==").Lit("")).Block(jen.Id("msg").Op("=").Lit("failed")))
			}
			if fd.MaxLen != nil {
				msg = append(msg, jen.Id("msg").Op("=").Qual(pkgTasktype, "Truncate").Call(jen.Id("msg"), jen.Lit(*fd.MaxLen)))
			}
			body = append(body, msg...)
			set(jen.Id("msg"))
		}
	}
	body = append(body, jen.Return(jen.Id(w.Fail.GoName)))
	f.Comment(fmt.Sprintf("PrepareFailure fills the fields event %q requires from a failure's code", w.Fail.Name))
	f.Comment("and message and returns the event. A code the spec does not declare becomes")
	f.Comment("the worker's error code; a message longer than its field allows is cut.")
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

// workerDriver emits the backends.WorkDriver methods of a driver: Reserve,
// Heartbeat and Lost over the worker queries.
func (g *generator) workerDriver(f *jen.File, e Engine) {
	m := g.m
	if m.Worker == nil {
		return
	}
	pg := e == PostgreSQL
	T := jen.Qual(g.importPath, m.Struct)
	table, _ := Table(m)
	rowType := SQLCName(table)
	claims := jen.Index().Qual(pkgBackends, "Claim").Types(T)
	limit := func() *jen.Statement {
		if pg {
			return jen.Int32().Call(jen.Id("limit"))
		}
		return jen.Int64().Call(jen.Id("limit"))
	}
	attempt := func(v jen.Code) *jen.Statement {
		if pg {
			return jen.Int32().Call(v)
		}
		return jen.Int64().Call(v)
	}
	ctx := jen.Id("ctx").Qual("context", "Context")
	recv := jen.Id("d").Op("*").Id("Driver")
	lease := func(owner jen.Code) jen.Code {
		return jen.Qual(pkgBackends, "Lease").Values(jen.Dict{jen.Id("Owner"): owner, jen.Id("Attempt"): jen.Int().Call(jen.Id("r").Dot("Attempt"))})
	}
	convert := func(rowName string, row, owner jen.Code) jen.Code {
		return jen.Func().Params(jen.Id("r").Id(rowName)).Params(jen.Op("*").Add(T), jen.Qual(pkgBackends, "Lease"), jen.Error()).Block(
			jen.List(jen.Id("x"), jen.Err()).Op(":=").Id("fromRow").Call(row),
			jen.Return(jen.Id("x"), lease(owner), jen.Err()),
		)
	}
	params := jen.Id("ReserveParams").Values(jen.Dict{
		jen.Id("TmStatus"): jen.Id("queue"), jen.Id("TmNow"): jen.Id("now").Dot("UTC").Call(), jen.Id("TmMaxRows"): limit(),
		jen.Id("TmOwner"): jen.Id("owner"), jen.Id("TmExpiresAt"): jen.Id("expires").Dot("UTC").Call(),
	})
	var reserve []jen.Code
	if pg {
		reserve = []jen.Code{
			jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("d").Dot("q").Dot("Reserve").Call(jen.Id("ctx"), params),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id("classify").Call(jen.Err()))),
			jen.Return(jen.Qual(pkgBackends, "Claims").Call(jen.Id("rows"), convert("ReserveRow", jen.Id("r").Dot(rowType), jen.Id("owner")))),
		}
	} else {
		// SQLite: reserve, then read the reserved tasks, in one transaction.
		reserve = []jen.Code{
			jen.Var().Id("out").Add(claims),
			jen.Err().Op(":=").Id("d").Dot("inTx").Call(jen.Id("ctx"), jen.Func().Params(jen.Id("q").Op("*").Id("Queries")).Error().Block(
				jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("q").Dot("Reserve").Call(jen.Id("ctx"), params),
				jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
				jen.List(jen.Id("out"), jen.Err()).Op("=").Qual(pkgBackends, "Claims").Call(jen.Id("rows"),
					jen.Func().Params(jen.Id("r").Id("ReserveRow")).Params(jen.Op("*").Add(T), jen.Qual(pkgBackends, "Lease"), jen.Error()).Block(
						jen.List(jen.Id("row"), jen.Err()).Op(":=").Id("q").Dot("Get").Call(jen.Id("ctx"), jen.Id("r").Dot("TaskID")),
						jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Qual(pkgBackends, "Lease").Values(), jen.Err())),
						jen.List(jen.Id("x"), jen.Err()).Op(":=").Id("fromRow").Call(jen.Id("row")),
						jen.Return(jen.Id("x"), lease(jen.Id("owner")), jen.Err()),
					)),
				jen.Return(jen.Err()),
			)),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id("classify").Call(jen.Err()))),
			jen.Return(jen.Id("out"), jen.Nil()),
		}
	}
	f.Comment("Reserve leases up to limit tasks in status queue that no live lease holds")
	f.Comment("to owner until expires; it implements backends.WorkDriver.")
	f.Func().Params(recv).Id("Reserve").Params(ctx, jen.List(jen.Id("queue"), jen.Id("owner")).String(), jen.List(jen.Id("now"), jen.Id("expires")).Qual("time", "Time"), jen.Id("limit").Int()).Params(claims, jen.Error()).Block(reserve...)

	f.Comment("Heartbeat extends a lease its holder still has on a task still in status")
	f.Comment("running; it implements backends.WorkDriver.")
	f.Func().Params(recv).Id("Heartbeat").Params(ctx, jen.Id("id").Qual(pkgUUID, "UUID"), jen.Id("lease").Qual(pkgBackends, "Lease"), jen.Id("running").String(), jen.Id("expires").Qual("time", "Time")).Params(jen.Bool(), jen.Error()).Block(append(writeLock(e == PostgreSQL),
		jen.List(jen.Id("n"), jen.Err()).Op(":=").Id("d").Dot("q").Dot("Heartbeat").Call(jen.Id("ctx"), jen.Id("HeartbeatParams").Values(jen.Dict{
			jen.Id("TmExpiresAt"): jen.Id("expires").Dot("UTC").Call(), jen.Id("TmTaskID"): jen.Id("id"), jen.Id("TmOwner"): jen.Id("lease").Dot("Owner"),
			jen.Id("TmAttempt"): attempt(jen.Id("lease").Dot("Attempt")), jen.Id("TmStatus"): jen.Id("running"),
		})),
		jen.Return(jen.Id("n").Op("==").Lit(1), jen.Id("classify").Call(jen.Err())),
	)...,
	)

	f.Comment("Lost returns up to limit tasks in status running whose lease expired by")
	f.Comment("now; it implements backends.WorkDriver.")
	lostParams := jen.Dict{jen.Id("TmNow"): jen.Id("now").Dot("UTC").Call(), jen.Id("TmMaxRows"): limit()}
	var lostCheck []jen.Code
	if pg {
		// The query has the running status written out.
		running := m.Worker.Running.Name
		lostCheck = append(lostCheck, jen.If(jen.Id("running").Op("!=").Lit(running)).Block(
			jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(jen.Lit("lost tasks: status %q is not the worker section's running status "+strconv.Quote(running)+": %w"), jen.Id("running"), jen.Qual(pkgTasktype, "ErrValidation"))),
		))
	} else {
		lostParams[jen.Id("TmStatus")] = jen.Id("running")
	}
	f.Func().Params(recv).Id("Lost").Params(ctx, jen.Id("running").String(), jen.Id("now").Qual("time", "Time"), jen.Id("limit").Int()).Params(claims, jen.Error()).Block(append(lostCheck,
		jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("d").Dot("q").Dot("Lost").Call(jen.Id("ctx"), jen.Id("LostParams").Values(lostParams)),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id("classify").Call(jen.Err()))),
		jen.Return(jen.Qual(pkgBackends, "Claims").Call(jen.Id("rows"), convert("LostRow", jen.Id("r").Dot(rowType), jen.Id("r").Dot("Owner")))))...,
	)
	f.Var().Id("_").Qual(pkgBackends, "WorkDriver").Types(T).Op("=").Parens(jen.Op("*").Id("Driver")).Parens(jen.Nil())

	if !pg || !g.sqlClaim() {
		return
	}
	row := jen.Dict{}
	for _, c := range g.columns(e) {
		n := c.Field.GoName
		row[jen.Id(n)] = jen.Id("r").Dot(n)
	}
	f.Comment(fmt.Sprintf("Claim reserves like Reserve and fires the claim event %q on every reserved", m.Worker.Claim.Name))
	f.Comment("task in the same statement, with its history row; it implements")
	f.Comment("backends.Claimer.")
	f.Func().Params(recv).Id("Claim").Params(ctx, jen.Id("owner").String(), jen.List(jen.Id("now"), jen.Id("expires")).Qual("time", "Time"), jen.Id("limit").Int()).Params(claims, jen.Error()).Block(
		jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("d").Dot("q").Dot("Claim").Call(jen.Id("ctx"), jen.Id("ClaimParams").Values(jen.Dict{
			jen.Id("TmNow"): jen.Id("now").Dot("UTC").Call(), jen.Id("TmMaxRows"): limit(),
			jen.Id("TmOwner"): jen.Id("owner"), jen.Id("TmExpiresAt"): jen.Id("expires").Dot("UTC").Call(),
		})),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id("classify").Call(jen.Err()))),
		jen.Return(jen.Qual(pkgBackends, "Claims").Call(jen.Id("rows"), convert("ClaimRow", jen.Id(rowType).Values(row), jen.Id("owner")))),
	)
	f.Var().Id("_").Qual(pkgBackends, "Claimer").Types(T).Op("=").Parens(jen.Op("*").Id("Driver")).Parens(jen.Nil())
}
