package gen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// MySQL and MariaDB change the task table in one ALTER TABLE (mysqlPlan),
// every CHECK that changes dropped and added by name in it; the history's
// CHECKs in another, each index dropped or created in a statement of its
// own. They commit each schema change as it runs, so the migration is no
// transaction: the data checks run before any statement (a refused
// migration changes nothing), and backends/mysql records how far a failed
// migration went and resumes it at the failed statement.

// sqlIdent is a column's name as an engine's SQL writes it.
func sqlIdent(e Engine, name string) string {
	if e == MySQL {
		return mysqlIdent(name)
	}
	return name
}

// engineIndexes are the indexes of the model's tables on an engine once
// every migration has run.
func (g *generator) engineIndexes(e Engine) []index {
	if e == MySQL {
		return g.mysqlIndexes()
	}
	return g.tableIndexes(e)
}

// mysqlText reports whether a MySQL type holds text: a string field's
// VARCHAR(n) or TEXT, which follow its max_len, or the VARCHAR(255) of an
// enumeration. A change between them converts the stored values.
func mysqlText(typ string) bool { return typ == "TEXT" || strings.HasPrefix(typ, "VARCHAR(") }

// mysqlNarrowCheck is the CHECK of a changed column, with the length of
// its VARCHAR(n) type when the old type took longer values: what a stored
// value must meet to stay in the column.
func mysqlNarrowCheck(old, new column) string {
	ck := new.check()
	var n, m int
	if _, err := fmt.Sscanf(new.Type, "VARCHAR(%d)", &n); err != nil {
		return ck
	}
	if _, err := fmt.Sscanf(old.Type, "VARCHAR(%d)", &m); err == nil && m <= n {
		return ck
	}
	limit := fmt.Sprintf("char_length(%s) <= %d", new.Ident, n)
	if ck == "" {
		return limit
	}
	return ck + " AND " + limit
}

// mysqlAlter writes one ALTER TABLE of clauses.
func mysqlAlter(p func(string, ...any), table string, clauses []string) {
	switch len(clauses) {
	case 0:
	case 1:
		p("ALTER TABLE %s %s;\n", table, clauses[0])
	default:
		p("ALTER TABLE %s\n    %s;\n", table, strings.Join(clauses, ",\n    "))
	}
}

// mysqlPlan is what a migration does on MySQL, in the order it runs.
type mysqlPlan struct {
	// fills set a value in the stored tasks where a field no longer
	// optional has none, before the task table changes.
	fills []string
	// task are the clauses of the one ALTER TABLE of the task table:
	// columns dropped, changed and added, CHECKs replaced, the lease
	// columns; copy tells whether it copies the table (it adds a CHECK,
	// which the server checks every row against, or changes a column's
	// type but for a VARCHAR widened in place).
	task []string
	copy bool
	// defaults are the clauses that drop the defaults new NOT NULL columns
	// took for the stored tasks.
	defaults []string
	// history are the clauses of the ALTER TABLE of the history table.
	history []string
	// narrow are the clauses of the ALTER TABLE that gives the task table
	// its new status CHECK once the retired statuses' tasks moved: a CHECK
	// added, so it copies the table too.
	narrow []string
}

// mysqlPlan works out the changes of the tables on MySQL. The task table
// changes in one ALTER TABLE, and in a second one (narrow) when retired
// statuses' tasks move in between; each copies the table at most once, and
// each change is atomic (MariaDB 10.6 and MySQL 8 roll back a schema change a
// crash interrupted).
func (ev *evolution) mysqlPlan() mysqlPlan {
	table, history := Table(ev.new.m)
	var pl mysqlPlan
	addCheck := func(ck mysqlCheck) {
		pl.task = append(pl.task, ck.addClause())
		pl.copy = true
	}
	for _, c := range ev.fields {
		if c.new != nil {
			continue
		}
		if ev.old.column(MySQL, c.old).check() != "" {
			pl.task = append(pl.task, "DROP CONSTRAINT "+mysqlCheckName(table, c.old.Name))
		}
		pl.task = append(pl.task, "DROP COLUMN "+mysqlIdent(c.old.Name))
	}
	for _, c := range ev.fields {
		if c.old == nil || c.new == nil {
			continue
		}
		oc, nc := ev.old.renamedColumn(MySQL, c), ev.new.column(MySQL, c.new)
		renamed := c.renamed()
		swap := oc.check() != nc.check() || renamed
		modify := oc.Type != nc.Type || oc.NotNull != nc.NotNull
		old := mysqlIdent(c.old.Name)
		if !oc.NotNull && nc.NotNull {
			if v := ev.fill(c.new); v != nil {
				pl.fills = append(pl.fills, fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s IS NULL;", table, old, sqlLiteral(MySQL, c.new, v), old))
			}
		}
		if swap && oc.check() != "" {
			pl.task = append(pl.task, "DROP CONSTRAINT "+mysqlCheckName(table, c.old.Name))
		}
		switch {
		case renamed && (modify || nc.JSON):
			// MariaDB's JSON is LONGTEXT with a CHECK of its own named
			// after the column, which RENAME COLUMN leaves under the old
			// name and CHANGE COLUMN re-creates.
			pl.task = append(pl.task, "CHANGE COLUMN "+old+" "+nc.mysqlDef())
		case renamed:
			pl.task = append(pl.task, "RENAME COLUMN "+old+" TO "+nc.Ident)
		case modify:
			pl.task = append(pl.task, "MODIFY COLUMN "+nc.mysqlDef())
		}
		if oc.Type != nc.Type && !mysqlWidensInPlace(oc.Type, nc.Type) {
			pl.copy = true
		}
		if swap && nc.check() != "" {
			addCheck(mysqlCheck{mysqlCheckName(table, nc.Name), nc.check()})
		}
	}
	for _, c := range ev.fields {
		if c.old != nil {
			continue
		}
		col := ev.new.column(MySQL, c.new)
		def := col.mysqlDef()
		if col.NotNull {
			// The stored tasks get the value as the column's default,
			// dropped once they have it; TEXT and JSON take a default in
			// parentheses only.
			def += " DEFAULT (" + sqlLiteral(MySQL, c.new, ev.fill(c.new)) + ")"
			pl.defaults = append(pl.defaults, "ALTER COLUMN "+col.Ident+" DROP DEFAULT")
		}
		pl.task = append(pl.task, "ADD COLUMN "+def)
		if ck := col.check(); ck != "" {
			addCheck(mysqlCheck{mysqlCheckName(table, col.Name), ck})
		}
	}
	if ev.statusChanged {
		ck := mysqlCheck{mysqlCheckName(table, "status"), ev.new.column(MySQL, ev.new.builtinFields()[1]).check()}
		if len(ev.moves) == 0 {
			pl.task = append(pl.task, "DROP CONSTRAINT "+ck.name)
			addCheck(ck)
		} else {
			// The retired statuses' tasks move after the table's change,
			// under a CHECK that takes the retired statuses and the new
			// ones (the old one, when it takes all of them), and the new
			// CHECK replaces it once they moved.
			interim := append(ev.new.statusNames(), listRemoved(ev.old.statusNames(), ev.new.statusNames())...)
			if len(listRemoved(interim, ev.old.statusNames())) > 0 {
				pl.task = append(pl.task, "DROP CONSTRAINT "+ck.name)
				addCheck(mysqlCheck{ck.name, inList(mysqlIdent("status"), interim)})
			}
			pl.narrow = []string{"DROP CONSTRAINT " + ck.name, ck.addClause()}
		}
	}
	if ev.workerChanged {
		cols := mysqlLeaseColumns()
		checks := mysqlChecks(table, cols)
		if ev.new.m.Worker != nil {
			for _, c := range cols {
				pl.task = append(pl.task, "ADD COLUMN "+c.mysqlDef())
			}
			for _, ck := range checks {
				addCheck(ck)
			}
		} else {
			for _, ck := range checks {
				pl.task = append(pl.task, "DROP CONSTRAINT "+ck.name)
			}
			for _, c := range cols {
				pl.task = append(pl.task, "DROP COLUMN "+c.Name)
			}
		}
	}
	if ev.historyChanged {
		for _, col := range []string{"from_status", "to_status", "event"} {
			if slices.Equal(ev.old.historyValues(col), ev.new.historyValues(col)) {
				continue
			}
			ck := mysqlCheck{mysqlCheckName(history, col), ev.new.historyCheck(MySQL, col)}
			pl.history = append(pl.history, "DROP CONSTRAINT "+ck.name, ck.addClause())
		}
	}
	return pl
}

// mysqlWidensInPlace reports whether InnoDB changes a column from type a
// to type b in place: a VARCHAR made longer whose length still takes as
// many bytes (one up to 255 bytes, two beyond; utf8mb4 takes up to 4 bytes
// a character).
func mysqlWidensInPlace(a, b string) bool {
	var n, m int
	if _, err := fmt.Sscanf(a, "VARCHAR(%d)", &n); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(b, "VARCHAR(%d)", &m); err != nil {
		return false
	}
	return m >= n && (4*n > 255 || 4*m <= 255)
}

// renderMySQL writes the body of the migration for MySQL: the indexes
// that go, the backfills, the task table's change, the history's CHECKs,
// the moves of retired statuses' tasks and the status CHECK that follows
// them, the new indexes.
func (ev *evolution) renderMySQL(p func(string, ...any)) {
	table, history := Table(ev.new.m)
	oldIdx, newIdx := ev.old.mysqlIndexes(), ev.new.mysqlIndexes()
	has := func(ixs []index, ix index) bool {
		return slices.ContainsFunc(ixs, func(x index) bool { return x.sql == ix.sql })
	}
	// First, so that no index holds a column dropped or changed to TEXT
	// (an index holds a prefix of a TEXT column).
	for _, ix := range oldIdx {
		if !has(newIdx, ix) {
			p("DROP INDEX %s ON %s;\n", ix.name, ix.table)
		}
	}
	pl := ev.mysqlPlan()
	for _, f := range pl.fills {
		p("%s\n", f)
	}
	mysqlAlter(p, table, pl.task)
	mysqlAlter(p, table, pl.defaults)
	mysqlAlter(p, history, pl.history)
	for _, r := range ev.moves {
		ev.renderMove(p, MySQL, r)
	}
	mysqlAlter(p, table, pl.narrow)
	ev.renderEntryFills(p, MySQL)
	for _, ix := range newIdx {
		if !has(oldIdx, ix) {
			p("%s;\n", ix.sql)
		}
	}
}

// mysqlStatements counts the statements of the migration's body on MySQL.
func (ev *evolution) mysqlStatements() int {
	var b strings.Builder
	ev.renderMySQL(func(format string, a ...any) { fmt.Fprintf(&b, format, a...) })
	n := 0
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasSuffix(l, ";") {
			n++
		}
	}
	return n
}

func (c mysqlCheck) addClause() string { return "ADD " + c.def() }

// renderMySQLMove moves the tasks of a retired status on MySQL, which has
// no UPDATE … RETURNING: their history rows first (numbered after the
// task's count of them, which the update then increments), then the
// tasks. A start that resumes the migration after the history rows were
// written (a process killed in between records no progress) writes none
// again: a task whose next history row exists already has it. The moves
// run again when a later statement fails (backends/mysql): a task that a
// program still running the earlier spec put in the retired status since
// (a new one, or one moved back into it) gets its history row then, under
// its next number.
func (ev *evolution) renderMySQLMove(p func(string, ...any), r *spec.RetiredStatus, msg, set string) {
	table, history := Table(ev.new.m)
	from, to := quoteSQL(r.Name), quoteSQL(r.ReplacedBy.Name)
	p("INSERT INTO %s (task_id, seq, from_status, to_status, at, actor, message)\n", history)
	p("SELECT id, %s + 1, %s, %s, %s, 'taskmodel migrate', %s\n", HistorySeqColumn, from, to, nowSQL(MySQL), msg)
	p("FROM %s WHERE status = %s\n", table, from)
	p("    AND NOT EXISTS (SELECT 1 FROM %s AS h WHERE h.task_id = %s.id AND h.seq = %s.%s + 1);\n", history, table, table, HistorySeqColumn)
	p("UPDATE %s SET %s, %s = %s + 1 WHERE status = %s;\n", table, set, HistorySeqColumn, HistorySeqColumn, from)
}
