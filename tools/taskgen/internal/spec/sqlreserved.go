package spec

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// sqlEngines says which engines reserve a word.
type sqlEngines uint8

const (
	inPostgreSQL sqlEngines = 1 << iota
	inSQLite
)

func (e sqlEngines) String() string {
	var names []string
	if e&inPostgreSQL != 0 {
		names = append(names, "PostgreSQL")
	}
	if e&inSQLite != 0 {
		names = append(names, "SQLite")
	}
	return strings.Join(names, " and ")
}

// sqlReserved lists, sorted, the words that cannot name a table or a column
// without quotes in PostgreSQL or SQLite. The generated SQL never quotes a
// name, so a model (its table and <model>_history) and a field of the model
// (its column) may not be one of them. The words come from:
//
//   - PostgreSQL: the key words marked "reserved" or "reserved (can be
//     function or type)" in the PostgreSQL column of the SQL Key Words
//     appendix (https://www.postgresql.org/docs/current/sql-keywords-appendix.html),
//     RESERVED_KEYWORD and TYPE_FUNC_NAME_KEYWORD in PostgreSQL 17's
//     src/include/parser/kwlist.h, the parser sqlc uses. Neither kind may
//     be a column or table name.
//   - SQLite: the keywords (https://www.sqlite.org/lang_keywords.html) that
//     its grammar (src/parse.y) does not take as a name: those outside its
//     "%fallback ID" list and its join keywords; cast and raise, which an
//     expression reads as CAST(...) and RAISE(...); current_date,
//     current_time and current_timestamp, which an expression reads as the
//     clock, not the column; and others and ties, which SQLite takes as
//     names but sqlc's SQLite grammar does not.
//
// Every word was checked against sqlc, a PostgreSQL server and SQLite: a
// field or model named so fails there, and no other keyword of either
// engine does (but for the table names of sqlReservedTables).
var sqlReserved = []struct {
	word string
	in   sqlEngines
}{
	{"add", inSQLite},
	{"all", inPostgreSQL | inSQLite},
	{"alter", inSQLite},
	{"analyse", inPostgreSQL},
	{"analyze", inPostgreSQL},
	{"and", inPostgreSQL | inSQLite},
	{"any", inPostgreSQL},
	{"array", inPostgreSQL},
	{"as", inPostgreSQL | inSQLite},
	{"asc", inPostgreSQL},
	{"asymmetric", inPostgreSQL},
	{"authorization", inPostgreSQL},
	{"autoincrement", inSQLite},
	{"between", inSQLite},
	{"binary", inPostgreSQL},
	{"both", inPostgreSQL},
	{"case", inPostgreSQL | inSQLite},
	{"cast", inPostgreSQL | inSQLite},
	{"check", inPostgreSQL | inSQLite},
	{"collate", inPostgreSQL | inSQLite},
	{"collation", inPostgreSQL},
	{"column", inPostgreSQL},
	{"commit", inSQLite},
	{"concurrently", inPostgreSQL},
	{"constraint", inPostgreSQL | inSQLite},
	{"create", inPostgreSQL | inSQLite},
	{"cross", inPostgreSQL},
	{"current_catalog", inPostgreSQL},
	{"current_date", inPostgreSQL | inSQLite},
	{"current_role", inPostgreSQL},
	{"current_schema", inPostgreSQL},
	{"current_time", inPostgreSQL | inSQLite},
	{"current_timestamp", inPostgreSQL | inSQLite},
	{"current_user", inPostgreSQL},
	{"default", inPostgreSQL | inSQLite},
	{"deferrable", inPostgreSQL | inSQLite},
	{"delete", inSQLite},
	{"desc", inPostgreSQL},
	{"distinct", inPostgreSQL | inSQLite},
	{"do", inPostgreSQL},
	{"drop", inSQLite},
	{"else", inPostgreSQL | inSQLite},
	{"end", inPostgreSQL},
	{"escape", inSQLite},
	{"except", inPostgreSQL | inSQLite},
	{"exists", inSQLite},
	{"false", inPostgreSQL},
	{"fetch", inPostgreSQL},
	{"for", inPostgreSQL},
	{"foreign", inPostgreSQL | inSQLite},
	{"freeze", inPostgreSQL},
	{"from", inPostgreSQL | inSQLite},
	{"full", inPostgreSQL},
	{"grant", inPostgreSQL},
	{"group", inPostgreSQL | inSQLite},
	{"having", inPostgreSQL | inSQLite},
	{"ilike", inPostgreSQL},
	{"in", inPostgreSQL | inSQLite},
	{"index", inSQLite},
	{"initially", inPostgreSQL},
	{"inner", inPostgreSQL},
	{"insert", inSQLite},
	{"intersect", inPostgreSQL | inSQLite},
	{"into", inPostgreSQL | inSQLite},
	{"is", inPostgreSQL | inSQLite},
	{"isnull", inPostgreSQL | inSQLite},
	{"join", inPostgreSQL | inSQLite},
	{"lateral", inPostgreSQL},
	{"leading", inPostgreSQL},
	{"left", inPostgreSQL},
	{"like", inPostgreSQL},
	{"limit", inPostgreSQL | inSQLite},
	{"localtime", inPostgreSQL},
	{"localtimestamp", inPostgreSQL},
	{"natural", inPostgreSQL},
	{"not", inPostgreSQL | inSQLite},
	{"nothing", inSQLite},
	{"notnull", inPostgreSQL | inSQLite},
	{"null", inPostgreSQL | inSQLite},
	{"offset", inPostgreSQL},
	{"on", inPostgreSQL | inSQLite},
	{"only", inPostgreSQL},
	{"or", inPostgreSQL | inSQLite},
	{"order", inPostgreSQL | inSQLite},
	{"others", inSQLite},
	{"outer", inPostgreSQL},
	{"overlaps", inPostgreSQL},
	{"placing", inPostgreSQL},
	{"primary", inPostgreSQL | inSQLite},
	{"raise", inSQLite},
	{"references", inPostgreSQL | inSQLite},
	{"returning", inPostgreSQL | inSQLite},
	{"right", inPostgreSQL},
	{"select", inPostgreSQL | inSQLite},
	{"session_user", inPostgreSQL},
	{"set", inSQLite},
	{"similar", inPostgreSQL},
	{"some", inPostgreSQL},
	{"symmetric", inPostgreSQL},
	{"system_user", inPostgreSQL},
	{"table", inPostgreSQL | inSQLite},
	{"tablesample", inPostgreSQL},
	{"then", inPostgreSQL | inSQLite},
	{"ties", inSQLite},
	{"to", inPostgreSQL | inSQLite},
	{"trailing", inPostgreSQL},
	{"transaction", inSQLite},
	{"true", inPostgreSQL},
	{"union", inPostgreSQL | inSQLite},
	{"unique", inPostgreSQL | inSQLite},
	{"update", inSQLite},
	{"user", inPostgreSQL},
	{"using", inPostgreSQL | inSQLite},
	{"values", inSQLite},
	{"variadic", inPostgreSQL},
	{"verbose", inPostgreSQL},
	{"when", inPostgreSQL | inSQLite},
	{"where", inPostgreSQL | inSQLite},
	{"window", inPostgreSQL},
	{"with", inPostgreSQL},
}

// sqlReservedTables are the words that may name a column but not a table:
// SQLite reads CREATE TABLE if as CREATE TABLE IF NOT EXISTS.
var sqlReservedTables = map[string]sqlEngines{"if": inSQLite}

// sqlReservedIn returns the engines that reserve name as a column name, or
// as a table name with table; 0 for none.
func sqlReservedIn(name string, table bool) sqlEngines {
	if in := sqlReservedTables[name]; table && in != 0 {
		return in
	}
	i, ok := slices.BinarySearchFunc(sqlReserved, name, func(e struct {
		word string
		in   sqlEngines
	}, name string) int {
		return strings.Compare(e.word, name)
	})
	if !ok {
		return 0
	}
	return sqlReserved[i].in
}

// sqlName reports an error at n when name is an SQL reserved word: subject
// says what name is ("field", "model name"), names what it would name in
// SQL ("table", "column") and fix how to do without it. It returns false
// after an error.
func (l *loader) sqlName(n *yaml.Node, subject, name, names, fix string) bool {
	in := sqlReservedIn(name, names == "table")
	if in == 0 {
		return true
	}
	l.errorf(n, "%s %q is an SQL reserved word in %s and cannot name a %s; %s", subject, name, in, names, fix)
	return false
}
