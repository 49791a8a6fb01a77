package gen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// Engine is a SQL dialect taskgen writes schema and queries for.
type Engine string

// The engines.
const (
	PostgreSQL Engine = "postgresql"
	SQLite     Engine = "sqlite"
	MySQL      Engine = "mysql" // MySQL and MariaDB
)

// Engines lists every engine, in output order.
var Engines = []Engine{PostgreSQL, SQLite, MySQL}

// SQLCEngines are the engines whose queries sqlc compiles into a package of
// each model (SQLCPackages). MySQL's statements are written by taskgen into
// its driver: sqlc's MySQL engine has no RETURNING, and the generic driver
// needs only the SQL and its parameters' names.
var SQLCEngines = []Engine{PostgreSQL, SQLite}

// SQLHeader is the first line of every generated SQL file.
const SQLHeader = "-- " + Header

// column is one SQL column of a model table.
type column struct {
	Name    string
	Ident   string      // the name as SQL writes it, if not Name (MySQL quotes it)
	Field   *spec.Field // nil for built-ins handled specially
	Type    string
	NotNull bool
	Checks  []string
	JSON    bool // stored as JSON text / jsonb
	Primary bool
	Default string // SQL default ("" for none)
}

// def is the column's definition in CREATE TABLE.
func (c column) def() string {
	name := c.Name
	if c.Ident != "" {
		name = c.Ident
	}
	line := name + " " + c.Type
	if c.Primary {
		line += " PRIMARY KEY"
	} else if c.NotNull {
		line += " NOT NULL"
	}
	if c.Default != "" {
		line += " DEFAULT " + c.Default
	}
	if ck := c.check(); ck != "" {
		line += " CHECK (" + ck + ")"
	}
	return line
}

// check is the column's CHECK expression, "" when it has none.
func (c column) check() string {
	if len(c.Checks) == 1 {
		return c.Checks[0]
	}
	terms := make([]string, len(c.Checks))
	for i, ck := range c.Checks {
		terms[i] = andTerm(ck)
	}
	return strings.Join(terms, " AND ")
}

// Table returns the model's table name and its history table's name.
func Table(m *spec.Model) (table, history string) { return m.Name, m.Name + "_history" }

func quoteSQL(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// oneOf is the condition that col holds one of values, for a CHECK or a
// partial index of engine e. SQLite evaluates an IN list of more than two
// constants through a temporary index it builds each time a statement
// evaluates it (every insert of a history row, every status change, for
// the CHECKs and the retention index's condition): a tenth of a worker's
// time on SQLite went there. There, the condition is the same test written
// as comparisons joined by OR, which cost nothing to set up and treat NULL
// as IN does (a NULL passes a CHECK).
func oneOf(e Engine, col string, values []string) string {
	if e != SQLite || len(values) <= 2 {
		return inList(col, values)
	}
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = col + " = " + quoteSQL(v)
	}
	return strings.Join(q, " OR ")
}

// andTerm is a condition as one term of an AND: in parentheses when it is
// a chain of OR (oneOf's).
func andTerm(cond string) string {
	if strings.Contains(cond, " OR ") {
		return "(" + cond + ")"
	}
	return cond
}

func inList(col string, values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = quoteSQL(v)
	}
	return fmt.Sprintf("%s IN (%s)", col, strings.Join(q, ", "))
}

func (g *generator) enumValues(t *spec.TypeRef) []string {
	switch t.Kind {
	case spec.KindStatus:
		return g.statusNames()
	case spec.KindErrorCode:
		var out []string
		for _, c := range g.m.ErrorCodes {
			out = append(out, c.Name)
		}
		return out
	case spec.KindEnum:
		var out []string
		for _, v := range t.Enum.Values {
			out = append(out, v.Value)
		}
		return out
	}
	return nil
}

func sqlNum(f float64, kind spec.Kind) string {
	if kind == spec.KindInt || kind == spec.KindDuration {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// columns returns the model's columns for an engine: the built-ins first,
// then the fields in spec order.
func (g *generator) columns(e Engine) []column {
	var cols []column
	for _, f := range append(g.builtinFields(), g.m.Fields...) {
		c := g.column(e, f)
		c.Primary = f.Name == "id"
		if f.Name == "version" {
			c.Checks = []string{"version >= 1"}
		}
		cols = append(cols, c)
	}
	return append(cols, g.traceparentColumn(e))
}

func (g *generator) column(e Engine, f *spec.Field) column {
	if e == MySQL {
		return g.mysqlColumn(f)
	}
	c := column{Name: f.Name, Field: f, NotNull: !f.Optional}
	pg := e == PostgreSQL
	n := f.Name
	switch k := f.Type.Kind; k {
	case spec.KindString:
		c.Type = "TEXT"
		length := "length(" + n + ")"
		if pg {
			c.Type, length = "text", "char_length("+n+")"
		}
		if f.MinLen != nil && *f.MinLen > 0 {
			c.Checks = append(c.Checks, fmt.Sprintf("%s >= %d", length, *f.MinLen))
		}
		if f.MaxLen != nil {
			c.Checks = append(c.Checks, fmt.Sprintf("%s <= %d", length, *f.MaxLen))
		}
	case spec.KindInt, spec.KindDuration:
		c.Type = pick(pg, "bigint", "INTEGER")
	case spec.KindFloat:
		c.Type = pick(pg, "double precision", "REAL")
	case spec.KindBool:
		c.Type = pick(pg, "boolean", "BOOLEAN")
		if !pg {
			c.Checks = append(c.Checks, n+" IN (0, 1)")
		}
	case spec.KindTime:
		c.Type = pick(pg, "timestamptz", "DATETIME")
	case spec.KindUUID:
		c.Type = pick(pg, "uuid", "TEXT")
		if !pg {
			c.Checks = append(c.Checks, "length("+n+") = 36")
		}
	case spec.KindStatus, spec.KindErrorCode, spec.KindEnum:
		c.Type = pick(pg, "text", "TEXT")
		c.Checks = append(c.Checks, oneOf(e, n, g.enumValues(f.Type)))
	case spec.KindJSON, spec.KindList, spec.KindType:
		c.JSON = true
		c.Type = pick(pg, "jsonb", "TEXT")
		if !pg {
			c.Checks = append(c.Checks, "json_valid("+n+")")
		}
		if k == spec.KindList {
			arrLen := pick(pg, "jsonb_array_length("+n+")", "json_array_length("+n+")")
			c.Checks = append(c.Checks, pick(pg, "jsonb_typeof("+n+") = 'array'", "json_type("+n+") = 'array'"))
			if f.MinItems != nil && *f.MinItems > 0 {
				c.Checks = append(c.Checks, fmt.Sprintf("%s >= %d", arrLen, *f.MinItems))
			}
			if f.MaxItems != nil {
				c.Checks = append(c.Checks, fmt.Sprintf("%s <= %d", arrLen, *f.MaxItems))
			}
			if vals := g.enumValues(f.Type.Elem); pg && vals != nil {
				q := make([]string, len(vals))
				for i, v := range vals {
					q[i] = strconv.Quote(v)
				}
				c.Checks = append(c.Checks, fmt.Sprintf("%s <@ '[%s]'::jsonb", n, strings.Join(q, ", ")))
			}
		}
	}
	c.Checks = append(c.Checks, boundChecks(f)...)
	return c
}

// boundChecks are the CHECKs of a number field's bounds.
func boundChecks(f *spec.Field) []string { return boundChecksOn(f.Name, f) }

// boundChecksOn are the CHECKs of a number field's bounds on the column
// written ident.
func boundChecksOn(ident string, f *spec.Field) []string {
	var out []string
	for _, b := range []struct {
		op string
		v  *float64
	}{{">=", f.Ge}, {">", f.Gt}, {"<=", f.Le}, {"<", f.Lt}} {
		if b.v != nil {
			out = append(out, fmt.Sprintf("%s %s %s", ident, b.op, sqlNum(*b.v, f.Type.Kind)))
		}
	}
	return out
}

// historyColumns are the column definitions of the history table (its
// primary key aside). Its status and event CHECKs allow the retired
// statuses and events too: rows written before they were retired keep them.
func (g *generator) historyColumns(e Engine) []string {
	pg := e == PostgreSQL
	table, _ := Table(g.m)
	return []string{
		fmt.Sprintf("task_id %s NOT NULL REFERENCES %s (id) ON DELETE CASCADE", pick(pg, "uuid", "TEXT"), table),
		fmt.Sprintf("seq %s NOT NULL CHECK (seq >= 1)", pick(pg, "bigint", "INTEGER")),
		fmt.Sprintf("from_status %s CHECK (%s)", pick(pg, "text", "TEXT"), g.historyCheck(e, "from_status")),
		fmt.Sprintf("to_status %s NOT NULL CHECK (%s)", pick(pg, "text", "TEXT"), g.historyCheck(e, "to_status")),
		fmt.Sprintf("event %s CHECK (%s)", pick(pg, "text", "TEXT"), g.historyCheck(e, "event")),
		fmt.Sprintf("at %s NOT NULL", pick(pg, "timestamptz", "DATETIME")),
		fmt.Sprintf("attempt %s NOT NULL DEFAULT 0 CHECK (attempt >= 0)", pick(pg, "integer", "INTEGER")),
		fmt.Sprintf("actor %s NOT NULL DEFAULT ''", pick(pg, "text", "TEXT")),
		fmt.Sprintf("message %s NOT NULL DEFAULT ''", pick(pg, "text", "TEXT")),
	}
}

// historyCheck is the CHECK of a history column that holds a status or an
// event name, on engine e.
func (g *generator) historyCheck(e Engine, col string) string {
	if col == "event" {
		return oneOf(e, col, g.m.HistoryEvents())
	}
	return oneOf(e, col, g.m.HistoryStatuses())
}

// index is one index of a model's table.
type index struct {
	name    string
	sql     string // CREATE INDEX …, without the semicolon
	comment string // the comment 0001_schema writes above it, if any
	table   string // the table it is on (MySQL's indexes)
}

// schemaIndexes are the indexes 0001_schema creates on engine e.
func (g *generator) schemaIndexes(e Engine) []index {
	m := g.m
	table, _ := Table(m)
	var out []index
	add := func(comment, name, format string, a ...any) {
		out = append(out, index{name: name, sql: fmt.Sprintf("CREATE INDEX %s ON %s ", name, table) + fmt.Sprintf(format, a...), comment: comment})
	}
	add("-- Listing, newest first: the unified listing reads one status at a time\n-- (and one tag, when it filters by tag); workers read the oldest first.",
		table+"_status_created_at_idx", "(status, created_at DESC, id DESC)")
	if f := tagField(m); f != nil {
		add("", table+"_tag_status_created_at_idx", "(tag, status, created_at DESC, id DESC)%s", leanListing(e, f))
	}
	if o := ownerField(m); o != nil {
		add("-- A user's listing (the api owner), with or without a tag.", table+"_"+o.Name+"_status_created_at_idx", "(%s, status, created_at DESC, id DESC)%s", o.Name, leanListing(e, o))
	}
	if terminal := m.TerminalStatuses(); len(terminal) > 0 {
		add("-- Retention: finished tasks by the time they last changed.", table+"_finished_idx", "(updated_at) WHERE %s", oneOf(e, "status", terminal))
	}
	for _, s := range m.Statuses {
		if s.Timeout != nil {
			add(fmt.Sprintf("-- Timeout of %s: tasks that entered it before a deadline.", s.Name),
				fmt.Sprintf("%s_%s_timeout_idx", table, strings.ToLower(strings.ReplaceAll(s.Name, "-", "_"))),
				"(%s) WHERE status = %s", s.EnteredAt, quoteSQL(s.Name))
		}
	}
	return out
}

// leanListing is the condition of the listing index on an optional tag or
// owner field f, for engine e's 0001_schema: on SQLite, only the tasks that
// have one are in it (a listing filtered by it reads only those), so that
// the status changes of the others write no entry. PostgreSQL's index
// became partial later (0006_lean_writes), SQLite's in 0012_sqlite_lean_writes
// for a model generated before it.
func leanListing(e Engine, f *spec.Field) string {
	if e != SQLite || !f.Optional {
		return ""
	}
	return " WHERE " + f.Name + " IS NOT NULL"
}

// tableIndexes are the indexes of the model's table once every framework
// migration has run: 0001_schema's, with the listing indexes on an optional
// tag or owner partial on PostgreSQL too (0006_lean_writes), and the change
// poller's on SQLite (0003_changes).
func (g *generator) tableIndexes(e Engine) []index {
	table, _ := Table(g.m)
	out := g.schemaIndexes(e)
	for i, ix := range out {
		out[i].comment = ""
		if e != PostgreSQL {
			continue
		}
		for _, f := range []*spec.Field{tagField(g.m), ownerField(g.m)} {
			if f != nil && f.Optional && ix.name == table+"_"+f.Name+"_status_created_at_idx" {
				out[i].sql += " WHERE " + f.Name + " IS NOT NULL"
			}
		}
	}
	if e == SQLite {
		out = append(out, index{name: table + "_updated_at_idx", sql: fmt.Sprintf("CREATE INDEX %s_updated_at_idx ON %s (updated_at, id)", table, table)})
	}
	return out
}

func pick(pg bool, a, b string) string {
	if pg {
		return a
	}
	return b
}

// schemaSQL renders the migration that creates the model's tables.
func (g *generator) schemaSQL(e Engine) []byte {
	m := g.m
	table, history := Table(m)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n-- Schema of model %q for %s. Every CHECK mirrors a limit of the spec;\n", SQLHeader, m.Name, e)
	p("-- limits inside JSON values are checked by Validate before a write.\n\n")
	p("CREATE TABLE %s (\n", table)
	cols := g.columns(e)
	cols = cols[:len(cols)-1] // the trace context came later (0010_traceparent)
	for i, c := range cols {
		line := "    " + c.def()
		if i < len(cols)-1 {
			line += ","
		}
		p("%s\n", line)
	}
	p(");\n\n")
	p("-- One row per status change, the creation included (seq 1, no from_status).\n")
	p("CREATE TABLE %s (\n", history)
	for _, c := range g.historyColumns(e) {
		p("    %s,\n", c)
	}
	p("    PRIMARY KEY (task_id, seq)\n);\n\n")

	for _, ix := range g.schemaIndexes(e) {
		if ix.comment != "" {
			p("%s\n", ix.comment)
		}
		p("%s;\n", ix.sql)
	}
	return []byte(b.String())
}
