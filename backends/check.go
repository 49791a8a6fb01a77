package backends

import (
	"regexp"
	"strings"

	"github.com/taskmodel/taskmodel/tasktype"
)

// CheckViolation is the error of a write the database refused for one of
// its CHECK constraints: a *tasktype.ValidationError naming the field when
// the constraint tells it. A program validates what its spec allows before
// it writes, so the database's constraint is one its spec does not have:
// most likely a newer spec's migration added it while this program still
// runs (a rolling deploy).
//
// table is the constraint's table, when the database says ("" if not);
// constraint its name, as taskgen names them (<table>_<column>_check); expr
// its expression, for a database that gives that instead (SQLite). The
// field is the column between the table and "_check" (a name CheckName
// shortened names none), or else the one column the expression names.
func CheckViolation(table, constraint, expr string) error {
	col := ""
	if c, ok := strings.CutPrefix(constraint, table+"_"); ok && table != "" {
		col, _ = strings.CutSuffix(c, "_check")
		if col == c {
			col = ""
		}
	}
	what := constraint
	if what == "" {
		what = expr
	}
	if col == "" && expr != "" {
		col = onlyColumn(expr)
	}
	msg := "the value breaks the database's constraint " + what
	if what == "" {
		msg = "the value breaks a constraint of the database"
	}
	msg += ", which this program's spec does not have (a newer version of the spec likely migrated the database)"
	return &tasktype.ValidationError{Fields: []*tasktype.FieldError{{Field: col, Rule: "check", Message: msg}}}
}

// CheckName is the name PostgreSQL (limit 63) and MySQL (limit 64) give a
// column's CHECK constraint, and taskgen the ones its migrations write:
// <table>_<col>_check, the longer of the two names shortened until it fits
// in limit bytes.
func CheckName(limit int, table, col string) string {
	avail := limit - len("_check") - 1
	t, c := len(table), len(col)
	for t+c > avail {
		if t > c {
			t--
		} else {
			c--
		}
	}
	return table[:t] + "_" + col[:c] + "_check"
}

var (
	sqlString  = regexp.MustCompile(`'(?:[^']|'')*'`)
	sqlIdent   = regexp.MustCompile(`"?\b([A-Za-z_][A-Za-z0-9_]*)\b"?\s*(\()?`)
	sqlKeyword = map[string]bool{"and": true, "or": true, "not": true, "in": true, "is": true, "null": true,
		"between": true, "like": true, "glob": true, "regexp": true, "escape": true, "true": true, "false": true,
		"case": true, "when": true, "then": true, "else": true, "end": true, "collate": true, "cast": true, "as": true}
)

// onlyColumn returns the one column a CHECK expression names, or "" when it
// names none or several: function names (followed by "(") and keywords are
// not columns, nor is text in quotes.
func onlyColumn(expr string) string {
	expr = sqlString.ReplaceAllString(expr, "''")
	col := ""
	for _, m := range sqlIdent.FindAllStringSubmatch(expr, -1) {
		name := m[1]
		if m[2] != "" || sqlKeyword[strings.ToLower(name)] {
			continue
		}
		if col != "" && col != name {
			return ""
		}
		col = name
	}
	return col
}
