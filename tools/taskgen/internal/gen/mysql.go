package gen

import (
	"fmt"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// MySQL and MariaDB store a model in one migration: its table with every
// column the other engines' framework migrations added one by one (the
// leases in the row, the trace context), its history table and its
// indexes. A model that had migrations before MySQL was an engine gets it
// under the number of its newest migration, rendered from that
// migration's spec snapshot: the next change of the spec migrates MySQL
// from there, as the other engines.
//
// Types: strings of at most mysqlVarcharMax characters are VARCHAR, longer
// or unbounded ones TEXT (a row's VARCHARs share 65,535 bytes); statuses,
// events, error codes and enumerations VARCHAR(255), so that a longer value
// added later needs no change of type (ASCII but for enumerations); ids CHAR(36) in ASCII; times
// DATETIME(6) in UTC; JSON the JSON type (LONGTEXT checked by json_valid on
// MariaDB). Lengths count characters (char_length) in utf8mb4. Names are
// quoted (mysqlIdent): MySQL and MariaDB reserve words that the other
// engines do not, such as rows.

// mysqlIdent quotes a name for MySQL.
func mysqlIdent(name string) string { return "`" + name + "`" }

// mysqlVarcharMax is the longest max_len stored as VARCHAR.
const mysqlVarcharMax = 255

// mysqlIndexPrefix is how many characters of a TEXT column an index holds.
const mysqlIndexPrefix = 255

// mysqlTableOptions end every CREATE TABLE: the character set and the
// collation backends/mysql's connections use, whatever the database's
// defaults.
const mysqlTableOptions = "ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"

// mysqlID is the type of an id column.
const mysqlID = "CHAR(36) CHARACTER SET ascii COLLATE ascii_bin"

// mysqlName is the type of a status, event or error code column: their
// names are ASCII, and a byte a character leaves room in the indexes that
// hold them (at most 3,072 bytes a key).
const mysqlName = "VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin"

// mysqlColumn is a field's column on MySQL.
func (g *generator) mysqlColumn(f *spec.Field) column {
	n := mysqlIdent(f.Name)
	c := column{Name: f.Name, Ident: n, Field: f, NotNull: !f.Optional}
	switch k := f.Type.Kind; k {
	case spec.KindString:
		c.Type = "TEXT"
		if f.MaxLen != nil && *f.MaxLen <= mysqlVarcharMax {
			c.Type = fmt.Sprintf("VARCHAR(%d)", *f.MaxLen)
		}
		if f.MinLen != nil && *f.MinLen > 0 {
			c.Checks = append(c.Checks, fmt.Sprintf("char_length(%s) >= %d", n, *f.MinLen))
		}
		if f.MaxLen != nil && *f.MaxLen > mysqlVarcharMax {
			c.Checks = append(c.Checks, fmt.Sprintf("char_length(%s) <= %d", n, *f.MaxLen))
		}
	case spec.KindInt, spec.KindDuration:
		c.Type = "BIGINT"
	case spec.KindFloat:
		c.Type = "DOUBLE"
	case spec.KindBool:
		c.Type = "BOOLEAN"
		c.Checks = append(c.Checks, n+" IN (0, 1)")
	case spec.KindTime:
		c.Type = "DATETIME(6)"
	case spec.KindUUID:
		c.Type = mysqlID
		c.Checks = append(c.Checks, "char_length("+n+") = 36")
	case spec.KindStatus, spec.KindErrorCode:
		c.Type = mysqlName
		c.Checks = append(c.Checks, inList(n, g.enumValues(f.Type)))
	case spec.KindEnum:
		c.Type = "VARCHAR(255)"
		c.Checks = append(c.Checks, inList(n, g.enumValues(f.Type)))
	case spec.KindJSON, spec.KindList, spec.KindType:
		c.JSON = true
		c.Type = "JSON"
		c.Checks = append(c.Checks, "json_valid("+n+")")
		if k == spec.KindList {
			c.Checks = append(c.Checks, "json_type("+n+") = 'ARRAY'")
			if f.MinItems != nil && *f.MinItems > 0 {
				c.Checks = append(c.Checks, fmt.Sprintf("json_length(%s) >= %d", n, *f.MinItems))
			}
			if f.MaxItems != nil {
				c.Checks = append(c.Checks, fmt.Sprintf("json_length(%s) <= %d", n, *f.MaxItems))
			}
		}
	}
	c.Checks = append(c.Checks, boundChecksOn(n, f)...)
	return c
}

// MySQL and MariaDB name a CHECK written in a column's definition
// differently (MariaDB after the column, MySQL <table>_chk_<n>), and
// MySQL does not drop or rename it with its column: every CHECK is a table
// constraint named <table>_<column>_check (mysqlCheckName), which a
// migration drops and adds by name on both servers.

// mysqlCheck is a named CHECK constraint of a table.
type mysqlCheck struct{ name, expr string }

func (c mysqlCheck) def() string { return "CONSTRAINT " + c.name + " CHECK (" + c.expr + ")" }

// mysqlCheckName is the name of a column's CHECK constraint:
// <table>_<column>_check, the longer of the two names shortened until it
// fits in MySQL's 64 characters.
func mysqlCheckName(table, col string) string { return checkName(64, table, col) }

// mysqlDef is a column's definition without its CHECK (mysqlChecks).
func (c column) mysqlDef() string {
	c.Checks = nil
	return c.def()
}

// mysqlChecks are the CHECK constraints of a table's columns.
func mysqlChecks(table string, cols []column) []mysqlCheck {
	var out []mysqlCheck
	for _, c := range cols {
		if ck := c.check(); ck != "" {
			out = append(out, mysqlCheck{mysqlCheckName(table, c.Name), ck})
		}
	}
	return out
}

// mysqlTableColumns are the columns of the model's table on MySQL: the
// spec's, the trace context's and a worker model's lease.
func (g *generator) mysqlTableColumns() []column {
	cols := g.columns(MySQL)
	if g.m.Worker != nil {
		cols = append(cols, mysqlLeaseColumns()...)
	}
	return append(cols, mysqlHistorySeqColumn)
}

// mysqlHistorySeqColumn is the task table's count of its history rows, as
// on PostgreSQL: a transition increments it in its guarded update and
// numbers its history row with it, reading the task's row, which it holds,
// rather than the history's highest number (a locking read of the history
// index that made concurrent writers deadlock).
var mysqlHistorySeqColumn = column{Name: HistorySeqColumn, Type: "BIGINT", NotNull: true, Default: "1", Checks: []string{HistorySeqColumn + " >= 1"}}

// mysqlHistoryFK is the history's foreign key, a table constraint: MySQL 8
// ignores REFERENCES in a column's definition.
func mysqlHistoryFK(table, history string) string {
	return fmt.Sprintf("CONSTRAINT %s_task_id_fkey FOREIGN KEY (task_id) REFERENCES %s (id) ON DELETE CASCADE", history, table)
}

// mysqlHistoryColumns are the history table's columns on MySQL (its key
// and foreign key aside).
func (g *generator) mysqlHistoryColumns() []column {
	inList := func(col string) []string { return []string{g.historyCheck(MySQL, col)} }
	return []column{
		{Name: "task_id", Type: mysqlID, NotNull: true},
		{Name: "seq", Type: "BIGINT", NotNull: true, Checks: []string{"seq >= 1"}},
		{Name: "from_status", Type: mysqlName, Checks: inList("from_status")},
		{Name: "to_status", Type: mysqlName, NotNull: true, Checks: inList("to_status")},
		{Name: "event", Type: mysqlName, Checks: inList("event")},
		{Name: "at", Type: "DATETIME(6)", NotNull: true},
		{Name: "attempt", Type: "INT", NotNull: true, Default: "0", Checks: []string{"attempt >= 0"}},
		mysqlHistoryText("actor"),
		mysqlHistoryText("message"),
	}
}

// mysqlHistoryText is a text column of the history, empty unless a writer
// sets it.
func mysqlHistoryText(name string) column {
	return column{Name: name, Type: "TEXT", NotNull: true, Default: "('')"}
}

// mysqlLeaseColumns are the lease columns of a worker model's table.
func mysqlLeaseColumns() []column {
	return []column{
		{Name: LeaseOwnerColumn, Type: "VARCHAR(200)", NotNull: true, Default: "''"},
		{Name: LeaseExpiresColumn, Type: "DATETIME(6)"},
		{Name: LeaseAttemptColumn, Type: "INT", NotNull: true, Default: "0", Checks: []string{LeaseAttemptColumn + " >= 0"}},
	}
}

// mysqlLeaseColumnDefs are the definitions of the lease columns, their
// CHECKs included.
func mysqlLeaseColumnDefs() []string {
	var out []string
	for _, c := range mysqlLeaseColumns() {
		out = append(out, c.def())
	}
	return out
}

// mysqlIndexes are the indexes of the model's tables on MySQL: the other
// engines' (tableIndexes), with a status column first where they are
// partial (MySQL has no partial indexes), a prefix of a TEXT column, the
// change poller's, and the history's by time. Retention has no index of
// its own: it reads the change poller's (mysqlRetentionIndexSQL).
func (g *generator) mysqlIndexes() []index {
	m := g.m
	table, history := Table(m)
	var out []index
	add := func(comment, name, on, cols string) {
		out = append(out, index{name: name, sql: fmt.Sprintf("CREATE INDEX %s ON %s (%s)", name, on, cols), comment: comment, table: on})
	}
	for _, ix := range g.mysqlCreatedAtIndexes() {
		add(ix.comment, ix.name, table, ix.cols)
	}
	for _, s := range m.Statuses {
		if s.Timeout != nil {
			add(fmt.Sprintf("-- Timeout of %s: tasks that entered it before a deadline.", s.Name),
				fmt.Sprintf("%s_%s_timeout_idx", table, strings.ToLower(strings.ReplaceAll(s.Name, "-", "_"))), table, "status, "+mysqlIdent(s.EnteredAt))
		}
	}
	add("-- Tasks by their last change: what a polling change stream reads, and\n-- retention (finished tasks, oldest first).", table+"_updated_at_idx", table, "updated_at, id")
	add("-- History by time: the moves of a time window (transitions per edge, tasks\n-- finished per interval) read from this index alone.",
		history+"_at_idx", history, "at, from_status, to_status, event, task_id")
	return out
}

// createdAtIndex is an index of the model's table ending in (created_at,
// id): one the listing reads newest first and workers oldest first.
type createdAtIndex struct{ comment, name, cols string }

// mysqlCreatedAtIndexes are the model's indexes ending in (created_at, id),
// in ascending order: within a range of such an index's leading columns,
// MariaDB (10.11) reads an ascending key backwards, newest first, but not a
// descending one in either direction beyond its first column — a claim
// after a queue position, oldest first, read the status's whole range.
func (g *generator) mysqlCreatedAtIndexes() []createdAtIndex {
	m := g.m
	table, _ := Table(m)
	key := func(f *spec.Field) string {
		if g.mysqlColumn(f).Type == "TEXT" {
			return fmt.Sprintf("%s(%d)", mysqlIdent(f.Name), mysqlIndexPrefix)
		}
		return mysqlIdent(f.Name)
	}
	out := []createdAtIndex{{"-- Listing, newest first: the unified listing reads one status at a time\n-- (and one tag, when it filters by tag); workers read the oldest first.",
		table + "_status_created_at_idx", "status, created_at, id"}}
	if f := tagField(m); f != nil {
		out = append(out, createdAtIndex{"", table + "_tag_status_created_at_idx", key(f) + ", status, created_at, id"})
	}
	if o := ownerField(m); o != nil {
		out = append(out, createdAtIndex{"-- A user's listing (the api owner), with or without a tag.", table + "_" + o.Name + "_status_created_at_idx", key(o) + ", status, created_at, id"})
	}
	return out
}

// mysqlAscendingIndexesSQL renders 0002_ascending_indexes: the indexes
// ending in (created_at, id), which the schema of earlier versions made
// descending, built again ascending in one ALTER TABLE. On a schema that
// has them ascending it builds them again as they are.
func (g *generator) mysqlAscendingIndexesSQL(Engine) []byte {
	table, _ := Table(g.m)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n-- Indexes of model %q for MySQL and MariaDB: those ending in (created_at, id),\n", SQLHeader, g.m.Name)
	p("-- ascending. MariaDB reads an ascending index backwards for the listing's\n")
	p("-- newest first, and a worker's claim starts at its queue position; in a\n")
	p("-- descending index the claim read the status's whole range, oldest first.\n")
	p("-- InnoDB builds them in place while writes go on; on a large table, this\n")
	p("-- takes a while at the first start after the upgrade.\n\n")
	var clauses []string
	for _, ix := range g.mysqlCreatedAtIndexes() {
		clauses = append(clauses, fmt.Sprintf("DROP INDEX %s", ix.name), fmt.Sprintf("ADD INDEX %s (%s)", ix.name, ix.cols))
	}
	p("ALTER TABLE %s\n    %s;\n", table, strings.Join(clauses, ",\n    "))
	return []byte(b.String())
}

// mysqlRetentionIndexSQL renders 0004_retention_index: the index of
// finished tasks by their last change (<table>_finished_idx, on status and
// updated_at) goes. Without a partial index it held every task, and every
// transition changed its entry; retention reads the index of tasks by
// their last change (<table>_updated_at_idx) instead, as MariaDB already
// chose to, in the same order. A schema that never had the index (a model
// without finished statuses, or one whose MySQL schema came after this
// migration) is left as it is: MySQL 8 has no DROP INDEX IF EXISTS, so the
// statement is built from information_schema. The migration can run again
// from its start: backends/mysql resumes a stopped one at its SET.
func (g *generator) mysqlRetentionIndexSQL(Engine) []byte {
	table, _ := Table(g.m)
	index := table + "_finished_idx"
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n-- Model %q on MySQL and MariaDB: drops the index of finished tasks,\n--   %s,\n", SQLHeader, g.m.Name, index)
	p("-- where the schema has it. Every transition rewrote its entry; retention\n")
	p("-- reads the index of tasks by their last change instead,\n--   %s_updated_at_idx.\n\n", table)
	p("SET @tm_statement = (SELECT IF(COUNT(*) > 0, 'DROP INDEX %s ON %s', 'DO 0')\n", index, table)
	p("    FROM information_schema.statistics\n    WHERE table_schema = DATABASE() AND table_name = '%s' AND index_name = '%s');\n", table, index)
	p("PREPARE tm_statement FROM @tm_statement;\nEXECUTE tm_statement;\nDEALLOCATE PREPARE tm_statement;\n")
	return []byte(b.String())
}

// mysqlHistoryDefaultsSQL renders 0003_history_defaults: the history's
// actor and message default to an empty string, as on the other engines, for
// a row written without them. (A TEXT column's default is an expression:
// MySQL 8.0.13 and later.)
func (g *generator) mysqlHistoryDefaultsSQL(Engine) []byte {
	_, history := Table(g.m)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n-- History of model %q for MySQL and MariaDB: actor and message default to an\n", SQLHeader, g.m.Name)
	p("-- empty string, as on the other engines, for a row written without them.\n\n")
	p("ALTER TABLE %s\n    MODIFY COLUMN %s,\n    MODIFY COLUMN %s;\n", history, mysqlHistoryText("actor").def(), mysqlHistoryText("message").def())
	return []byte(b.String())
}

// mysqlSchemaSQL renders the model's first framework migration on MySQL:
// everything the other engines' framework migrations create.
func (g *generator) mysqlSchemaSQL(Engine) []byte {
	m := g.m
	table, history := Table(m)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n-- Schema of model %q for MySQL 8.0.19 and later and MariaDB 10.6 and later.\n", SQLHeader, m.Name)
	p("-- Every CHECK mirrors a limit of the spec; limits inside JSON values are\n")
	p("-- checked by Validate before a write. Lengths count characters. CHECKs are\n")
	p("-- named table constraints (<table>_<column>_check), which later migrations\n")
	p("-- drop and add by name.\n\n")
	p("CREATE TABLE %s (\n", table)
	cols := g.mysqlTableColumns()
	var lines []string
	for _, c := range cols {
		lines = append(lines, c.mysqlDef())
	}
	for _, ck := range mysqlChecks(table, cols) {
		lines = append(lines, ck.def())
	}
	p("    %s\n) %s;\n\n", strings.Join(lines, ",\n    "), mysqlTableOptions)
	p("-- One row per status change, the creation included (seq 1, no from_status).\n")
	p("CREATE TABLE %s (\n", history)
	hcols := g.mysqlHistoryColumns()
	lines = lines[:0]
	for _, c := range hcols {
		lines = append(lines, c.mysqlDef())
	}
	lines = append(lines, "PRIMARY KEY (task_id, seq)", mysqlHistoryFK(table, history))
	for _, ck := range mysqlChecks(history, hcols) {
		lines = append(lines, ck.def())
	}
	p("    %s\n) %s;\n", strings.Join(lines, ",\n    "), mysqlTableOptions)
	for _, ix := range g.mysqlIndexes() {
		p("\n")
		if ix.comment != "" {
			p("%s\n", ix.comment)
		}
		p("%s;\n", ix.sql)
	}
	return []byte(b.String())
}
