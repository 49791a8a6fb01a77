package gen

import (
	"fmt"
	"strings"
)

// sqliteLeanWritesSQL renders 0012_sqlite_lean_writes, on SQLite only,
// which takes work out of every write of a task and its history:
//   - the CHECKs and the retention index's condition test a status, an
//     event or an enumeration's value with comparisons joined by OR rather
//     than an IN list (oneOf): SQLite evaluated those lists through a
//     temporary index built at each insert of a history row and each
//     status change;
//   - the listing indexes on an optional tag or owner hold only the tasks
//     that have one (leanListing), as PostgreSQL's do since
//     0006_lean_writes: a task without one changes status without an entry
//     to move there.
//
// For a model generated before it (g.upgrade), the tables are rebuilt as
// the spec of the newest snapshot defines them, the state every earlier
// migration leaves; a new model's tables are created with these conditions,
// so its migration changes nothing.
func (g *generator) sqliteLeanWritesSQL(e Engine) []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n-- Leaner writes of model %q for %s:\n", SQLHeader, g.m.Name, e)
	p("-- - a CHECK of a status, an event or an enumeration's value, and the\n")
	p("--   retention index's condition, are comparisons joined by OR rather than an\n")
	p("--   IN list, which SQLite evaluated through a temporary index built at every\n")
	p("--   insert of a history row and every change of status;\n")
	p("-- - the listing indexes on an optional tag or owner hold only the tasks that\n")
	p("--   have one, so that the others change status without moving an entry there.\n")
	if !g.upgrade {
		p("-- This model's tables were created so: nothing to change.\n")
		return []byte(b.String())
	}
	p("-- SQLite cannot change a CHECK in place: both tables are rebuilt, every row\n")
	p("-- copied as it is, and their indexes re-created. One transaction, run with\n")
	p("-- foreign keys off and checked before it commits.\n\n")

	g.renderHistoryRebuild(p)
	p("\n")
	names := g.tableColumnNames(e)
	g.renderTableRebuild(p, names, names)
	for _, ix := range g.tableIndexes(e) {
		p("%s;\n", ix.sql)
	}
	return []byte(b.String())
}
