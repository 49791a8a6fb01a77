package server

import (
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The statements of the pages, counts and metrics are written once, for
// PostgreSQL: names in double quotes, $n parameters. sqlDB rewrites them
// for the engines reached through database/sql.

var reDollar = regexp.MustCompile(`\$([0-9]+)`)

// sqliteParams writes $n parameters as SQLite's ?n.
func sqliteParams(q string) string { return reDollar.ReplaceAllString(q, "?$1") }

// mysqlSQL rewrites a statement for MySQL and MariaDB (without
// ANSI_QUOTES): names in backquotes, and each $n a ? whose argument is
// args[n-1], in the order the parameters appear (a parameter used twice
// is passed twice). Quoted literals ('…') are left as they are.
func mysqlSQL(q string, args []any) (string, []any, error) {
	var b strings.Builder
	var out []any
	inLiteral := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inLiteral = !inLiteral
			b.WriteByte(c)
		case inLiteral:
			b.WriteByte(c)
		case c == '"':
			b.WriteByte('`')
		case c == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			n, err := strconv.Atoi(q[i+1 : j])
			if err != nil || n < 1 || n > len(args) {
				return "", nil, fmt.Errorf("server: statement parameter $%s of %d arguments", q[i+1:j], len(args))
			}
			out = append(out, args[n-1])
			b.WriteByte('?')
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	if inLiteral {
		return "", nil, fmt.Errorf("server: statement with an unterminated literal")
	}
	return b.String(), out, nil
}

// sqlDB returns the backend's database/sql database — SQLite or MySQL —
// with q and args rewritten for its engine; db is nil on PostgreSQL and
// memory.
func (b *Backend) sqlDB(q string, args []any) (db *sql.DB, stmt string, params []any, err error) {
	switch {
	case b.sqlite != nil:
		return b.sqlite, sqliteParams(q), args, nil
	case b.mysql != nil:
		stmt, params, err = mysqlSQL(q, args)
		return b.mysql, stmt, params, err
	}
	return nil, q, args, nil
}
