package gen

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"
)

// Change streams (issue 4): how other processes learn that a task changed.
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
// backends/sqlite.Poller polls.

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

// changesQuerySQL renders the SQLite query a change poller runs: tasks
// changed at or after a time, after a task id at that time, in order.
func (g *generator) changesQuerySQL() string {
	table, _ := Table(g.m)
	return fmt.Sprintf("-- name: ChangedSince :many\n-- Tasks changed since (tm_since, tm_after_id), in (updated_at, id) order: what\n-- backends/sqlite.Poller reads.\n"+
		"SELECT id, version, status, updated_at FROM %s\nWHERE updated_at >= sqlc.arg(tm_since) AND (updated_at > sqlc.arg(tm_since_strict) OR id > sqlc.arg(tm_after_id))\n"+
		"ORDER BY updated_at, id\nLIMIT sqlc.arg(tm_max_rows);\n", table)
}

// changesDriver emits the SQLite driver's ChangedSince (backends.ChangeLister).
func (g *generator) changesDriver(f *jen.File) {
	f.Var().Id("_").Qual(pkgBackends, "ChangeLister").Op("=").Parens(jen.Op("*").Id("Driver")).Parens(jen.Nil())
	f.Comment("ChangedSince returns up to limit tasks changed since (since, afterID), in")
	f.Comment("(updated_at, id) order, as notices.")
	f.Func().Params(jen.Id("d").Op("*").Id("Driver")).Id("ChangedSince").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("since").Qual("time", "Time"),
		jen.Id("afterID").Qual(pkgUUID, "UUID"), jen.Id("limit").Int()).Params(jen.Index().Qual(pkgBackends, "Notice"), jen.Error()).Block(
		jen.Id("since").Op("=").Id("since").Dot("UTC").Call(),
		jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("d").Dot("q").Dot("ChangedSince").Call(jen.Id("ctx"), jen.Id("ChangedSinceParams").Values(jen.Dict{
			jen.Id("TmSince"): jen.Id("since"), jen.Id("TmSinceStrict"): jen.Id("since"), jen.Id("TmAfterID"): jen.Id("afterID"), jen.Id("TmMaxRows"): jen.Int64().Parens(jen.Id("limit")),
		})),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Id("classify").Call(jen.Err()))),
		jen.Id("out").Op(":=").Make(jen.Index().Qual(pkgBackends, "Notice"), jen.Len(jen.Id("rows"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("r")).Op(":=").Range().Id("rows")).Block(
			jen.Id("out").Index(jen.Id("i")).Op("=").Qual(pkgBackends, "Notice").Values(jen.Dict{
				jen.Id("ID"): jen.Id("r").Dot("ID"), jen.Id("Version"): jen.Id("r").Dot("Version"), jen.Id("Status"): jen.Id("r").Dot("Status"), jen.Id("At"): jen.Id("r").Dot("UpdatedAt").Dot("UTC").Call(),
			})),
		jen.Return(jen.Id("out"), jen.Nil()),
	)
}
