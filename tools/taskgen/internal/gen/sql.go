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
)

// Engines lists every engine, in output order.
var Engines = []Engine{PostgreSQL, SQLite}

// SQLHeader is the first line of every generated SQL file.
const SQLHeader = "-- " + Header

// column is one SQL column of a model table.
type column struct {
	Name    string
	Field   *spec.Field // nil for built-ins handled specially
	Type    string
	NotNull bool
	Checks  []string
	JSON    bool // stored as JSON text / jsonb
	Primary bool
}

// Table returns the model's table name and its history table's name.
func Table(m *spec.Model) (table, history string) { return m.Name, m.Name + "_history" }

func quoteSQL(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

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
	return cols
}

func (g *generator) column(e Engine, f *spec.Field) column {
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
		c.Checks = append(c.Checks, inList(n, g.enumValues(f.Type)))
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
	for _, b := range []struct {
		op string
		v  *float64
	}{{">=", f.Ge}, {">", f.Gt}, {"<=", f.Le}, {"<", f.Lt}} {
		if b.v != nil {
			c.Checks = append(c.Checks, fmt.Sprintf("%s %s %s", n, b.op, sqlNum(*b.v, f.Type.Kind)))
		}
	}
	return c
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
	pg := e == PostgreSQL
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n-- Schema of model %q for %s. Every CHECK mirrors a limit of the spec;\n", SQLHeader, m.Name, e)
	p("-- limits inside JSON values are checked by Validate before a write.\n\n")
	p("CREATE TABLE %s (\n", table)
	cols := g.columns(e)
	for i, c := range cols {
		line := "    " + c.Name + " " + c.Type
		if c.Primary {
			line += " PRIMARY KEY"
		} else if c.NotNull {
			line += " NOT NULL"
		}
		if len(c.Checks) > 0 {
			line += " CHECK (" + strings.Join(c.Checks, " AND ") + ")"
		}
		if i < len(cols)-1 {
			line += ","
		}
		p("%s\n", line)
	}
	p(");\n\n")
	statusCheck := inList("to_status", g.statusNames())
	fromCheck := inList("from_status", g.statusNames())
	eventCheck := inList("event", g.eventNames())
	p("-- One row per status change, the creation included (seq 1, no from_status).\n")
	p("CREATE TABLE %s (\n", history)
	p("    task_id %s NOT NULL REFERENCES %s (id) ON DELETE CASCADE,\n", pick(pg, "uuid", "TEXT"), table)
	p("    seq %s NOT NULL CHECK (seq >= 1),\n", pick(pg, "bigint", "INTEGER"))
	p("    from_status %s CHECK (%s),\n", pick(pg, "text", "TEXT"), fromCheck)
	p("    to_status %s NOT NULL CHECK (%s),\n", pick(pg, "text", "TEXT"), statusCheck)
	p("    event %s CHECK (%s),\n", pick(pg, "text", "TEXT"), eventCheck)
	p("    at %s NOT NULL,\n", pick(pg, "timestamptz", "DATETIME"))
	p("    attempt %s NOT NULL DEFAULT 0 CHECK (attempt >= 0),\n", pick(pg, "integer", "INTEGER"))
	p("    actor %s NOT NULL DEFAULT '',\n", pick(pg, "text", "TEXT"))
	p("    message %s NOT NULL DEFAULT '',\n", pick(pg, "text", "TEXT"))
	p("    PRIMARY KEY (task_id, seq)\n);\n\n")

	p("-- Listing, newest first: the unified listing reads one status at a time\n")
	p("-- (and one tag, when it filters by tag); workers read the oldest first.\n")
	p("CREATE INDEX %s_status_created_at_idx ON %s (status, created_at DESC, id DESC);\n", table, table)
	if tagField(m) != nil {
		p("CREATE INDEX %s_tag_status_created_at_idx ON %s (tag, status, created_at DESC, id DESC);\n", table, table)
	}
	if o := ownerField(m); o != nil {
		p("-- A user's listing (the api owner), with or without a tag.\n")
		p("CREATE INDEX %s_%s_status_created_at_idx ON %s (%s, status, created_at DESC, id DESC);\n", table, o.Name, table, o.Name)
	}
	terminal := m.TerminalStatuses()
	if len(terminal) > 0 {
		p("-- Retention: finished tasks by the time they last changed.\n")
		p("CREATE INDEX %s_finished_idx ON %s (updated_at) WHERE %s;\n", table, table, inList("status", terminal))
	}
	for _, s := range m.Statuses {
		if t := s.Timeout; t != nil {
			p("-- Timeout of %s: tasks that entered it before a deadline.\n", s.Name)
			p("CREATE INDEX %s_%s_timeout_idx ON %s (%s) WHERE status = %s;\n", table, strings.ToLower(strings.ReplaceAll(s.Name, "-", "_")), table, s.EnteredAt, quoteSQL(s.Name))
		}
	}
	return []byte(b.String())
}
