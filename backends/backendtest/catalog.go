package backendtest

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The catalog dumps: a normalized text of a database's schema objects, one
// line per fact, so that a test can prove that a database migrated step by
// step ends with exactly the schema of a freshly created one. Each line
// starts with the key of its object ("table analysis column status",
// "table analysis index analysis_finished_idx", "function analysis_notify()")
// and the lines are sorted by that key: the order in which objects, or a
// table's columns, were created does not show. An object whose definition
// spans several lines (a function) gives one line per line of it, each
// after the key, in their order.

// bookkeepingTables are the backends' own tables, which the dumps leave out:
// they are made by Open, not by the models' migrations.
var bookkeepingTables = []string{"taskmodel_migrations", "taskmodel_leases", "taskmodel_listeners"}

// catalogEntry is one object of a dump: its key and the lines that describe
// it (none for a bare fact such as "table analysis").
type catalogEntry struct {
	key   string
	lines []string
}

// renderCatalog sorts the entries by key and prints them, each line of an
// entry as "key: line".
func renderCatalog(entries []catalogEntry) string {
	slices.SortStableFunc(entries, func(a, b catalogEntry) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return slices.Compare(a.lines, b.lines)
	})
	var b strings.Builder
	for _, e := range entries {
		if len(e.lines) == 0 {
			b.WriteString(e.key + "\n")
		}
		for _, l := range e.lines {
			b.WriteString(e.key + ":")
			if l != "" {
				b.WriteString(" " + l)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// PgxQuerier is what CatalogPostgres reads the catalogs through: a
// *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type PgxQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// CatalogPostgres returns a normalized, deterministic text dump of the
// schema objects in the current schema (current_schema()) of db: the tables
// (but the backends' bookkeeping tables taskmodel_migrations,
// taskmodel_leases and taskmodel_listeners) with their columns (sorted by
// name, not by position: a column added by ALTER TABLE ADD COLUMN lands at
// the end of the table, which makes no difference here), constraints
// (whether validated included), indexes and triggers; the views, functions,
// sequences, enums and domains. The schema's name is stripped from every
// definition, so that the same objects in two schemas give the same dump.
func CatalogPostgres(ctx context.Context, db PgxQuerier) (string, error) {
	var schema, quoted string
	if err := scanPg(ctx, db, `SELECT coalesce(current_schema(), ''), coalesce(quote_ident(current_schema()), '')`, nil, []any{&schema, &quoted}, func() error { return nil }); err != nil {
		return "", fmt.Errorf("catalog: %w", err)
	}
	if schema == "" {
		return "", fmt.Errorf("catalog: no current schema (search_path names no schema that exists)")
	}
	strip := schemaStripper(schema, quoted)
	var entries []catalogEntry
	add := func(key string, lines ...string) {
		for i, l := range lines {
			lines[i] = strip(l)
		}
		entries = append(entries, catalogEntry{strip(key), lines})
	}
	inSchema := []any{schema}
	tables := []any{schema, bookkeepingTables}
	for _, q := range []struct {
		what string
		sql  string
		args []any
		dest func() ([]any, func() error)
	}{{
		what: "tables",
		sql: `SELECT c.relname, c.relkind = 'p', c.relpersistence = 'u', coalesce(array_to_string(c.reloptions, ', '), ''),
				c.relrowsecurity, CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) ELSE '' END
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> ALL ($2::text[])`,
		args: tables,
		dest: func() ([]any, func() error) {
			var name, options, partkey string
			var partitioned, unlogged, rls bool
			return []any{&name, &partitioned, &unlogged, &options, &rls, &partkey}, func() error {
				var attrs []string
				if partitioned {
					attrs = append(attrs, "partition by "+partkey)
				}
				if unlogged {
					attrs = append(attrs, "unlogged")
				}
				if options != "" {
					attrs = append(attrs, "with ("+options+")")
				}
				if rls {
					attrs = append(attrs, "row level security")
				}
				if len(attrs) == 0 {
					add("table " + name)
				} else {
					add("table "+name, strings.Join(attrs, ", "))
				}
				return nil
			}
		},
	}, {
		what: "columns",
		sql: `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
				coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text,
				coalesce(CASE WHEN a.attcollation <> t.typcollation THEN quote_ident(co.collname) END, '')
			FROM pg_attribute a
			JOIN pg_class c ON c.oid = a.attrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_type t ON t.oid = a.atttypid
			LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			LEFT JOIN pg_collation co ON co.oid = a.attcollation
			WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> ALL ($2::text[])
				AND a.attnum > 0 AND NOT a.attisdropped`,
		args: tables,
		dest: func() ([]any, func() error) {
			var table, column, typ, def, identity, generated, collation string
			var notNull bool
			return []any{&table, &column, &typ, &notNull, &def, &identity, &generated, &collation}, func() error {
				line := typ
				if collation != "" {
					line += " COLLATE " + collation
				}
				if notNull {
					line += " NOT NULL"
				}
				switch {
				case generated == "s":
					line += " GENERATED ALWAYS AS (" + def + ") STORED"
				case generated != "":
					line += " GENERATED ALWAYS AS (" + def + ") [" + generated + "]"
				case def != "":
					line += " DEFAULT " + def
				}
				switch identity {
				case "a":
					line += " GENERATED ALWAYS AS IDENTITY"
				case "d":
					line += " GENERATED BY DEFAULT AS IDENTITY"
				}
				add("table "+table+" column "+column, line)
				return nil
			}
		},
	}, {
		what: "constraints",
		sql: `SELECT c.relname, con.conname, con.contype::text, pg_get_constraintdef(con.oid), con.convalidated
			FROM pg_constraint con
			JOIN pg_class c ON c.oid = con.conrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname <> ALL ($2::text[])`,
		args: tables,
		dest: func() ([]any, func() error) {
			var table, name, typ, def string
			var validated bool
			return []any{&table, &name, &typ, &def, &validated}, func() error {
				state := "validated"
				if !validated {
					state = "not validated"
				}
				add("table "+table+" constraint "+name, constraintKind(typ)+", "+state+": "+def)
				return nil
			}
		},
	}, {
		what: "indexes",
		sql: `SELECT c.relname, i.relname, pg_get_indexdef(i.oid), x.indisvalid, x.indisclustered
			FROM pg_index x
			JOIN pg_class i ON i.oid = x.indexrelid
			JOIN pg_class c ON c.oid = x.indrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname <> ALL ($2::text[])`,
		args: tables,
		dest: func() ([]any, func() error) {
			var table, name, def string
			var valid, clustered bool
			return []any{&table, &name, &def, &valid, &clustered}, func() error {
				if !valid {
					def += " [invalid]"
				}
				if clustered {
					def += " [clustered]"
				}
				add("table "+table+" index "+name, def)
				return nil
			}
		},
	}, {
		what: "triggers",
		sql: `SELECT c.relname, tg.tgname, pg_get_triggerdef(tg.oid), tg.tgenabled::text
			FROM pg_trigger tg
			JOIN pg_class c ON c.oid = tg.tgrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname <> ALL ($2::text[]) AND NOT tg.tgisinternal`,
		args: tables,
		dest: func() ([]any, func() error) {
			var table, name, def, enabled string
			return []any{&table, &name, &def, &enabled}, func() error {
				if enabled != "O" {
					def += " [enabled " + enabled + "]"
				}
				add("table "+table+" trigger "+name, def)
				return nil
			}
		},
	}, {
		what: "views",
		sql: `SELECT c.relname, c.relkind = 'm', pg_get_viewdef(c.oid)
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relkind IN ('v', 'm')`,
		args: inSchema,
		dest: func() ([]any, func() error) {
			var name, def string
			var materialized bool
			return []any{&name, &materialized, &def}, func() error {
				kind := "view "
				if materialized {
					kind = "materialized view "
				}
				add(kind+name, definitionLines(def)...)
				return nil
			}
		},
	}, {
		what: "functions",
		sql: `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', pg_get_functiondef(p.oid)
			FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname = $1 AND p.prokind IN ('f', 'p')
				AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')`,
		args: inSchema,
		dest: func() ([]any, func() error) {
			var name, def string
			return []any{&name, &def}, func() error {
				add("function "+name, definitionLines(def)...)
				return nil
			}
		},
	}, {
		what: "sequences",
		sql: `SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
				coalesce((SELECT tc.relname || '.' || a.attname FROM pg_depend d
					JOIN pg_class tc ON tc.oid = d.refobjid
					JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
					WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
						AND d.deptype IN ('a', 'i') LIMIT 1), '')
			FROM pg_sequence s
			JOIN pg_class c ON c.oid = s.seqrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1`,
		args: inSchema,
		dest: func() ([]any, func() error) {
			var name, typ, owner string
			var start, inc, lo, hi, cache int64
			var cycle bool
			return []any{&name, &typ, &start, &inc, &lo, &hi, &cache, &cycle, &owner}, func() error {
				if table, _, _ := strings.Cut(owner, "."); slices.Contains(bookkeepingTables, table) {
					return nil
				}
				line := fmt.Sprintf("%s start %d increment %d minvalue %d maxvalue %d cache %d", typ, start, inc, lo, hi, cache)
				if cycle {
					line += " cycle"
				}
				if owner != "" {
					line += " owned by " + owner
				}
				add("sequence "+name, line)
				return nil
			}
		},
	}, {
		what: "enums",
		sql: `SELECT t.typname, string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
			FROM pg_type t
			JOIN pg_namespace n ON n.oid = t.typnamespace
			JOIN pg_enum e ON e.enumtypid = t.oid
			WHERE n.nspname = $1
			GROUP BY t.typname`,
		args: inSchema,
		dest: func() ([]any, func() error) {
			var name, labels string
			return []any{&name, &labels}, func() error {
				add("type "+name, "enum ("+labels+")")
				return nil
			}
		},
	}, {
		what: "domains",
		sql: `SELECT t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull, coalesce(t.typdefault, ''),
				coalesce((SELECT string_agg(con.conname || ' ' || pg_get_constraintdef(con.oid), ', ' ORDER BY con.conname)
					FROM pg_constraint con WHERE con.contypid = t.oid), '')
			FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
			WHERE n.nspname = $1 AND t.typtype = 'd'`,
		args: inSchema,
		dest: func() ([]any, func() error) {
			var name, base, def, checks string
			var notNull bool
			return []any{&name, &base, &notNull, &def, &checks}, func() error {
				line := "domain " + base
				if notNull {
					line += " NOT NULL"
				}
				if def != "" {
					line += " DEFAULT " + def
				}
				if checks != "" {
					line += " " + checks
				}
				add("type "+name, line)
				return nil
			}
		},
	}} {
		dest, each := q.dest()
		if err := scanPg(ctx, db, q.sql, q.args, dest, each); err != nil {
			return "", fmt.Errorf("catalog: %s: %w", q.what, err)
		}
	}
	return renderCatalog(entries), nil
}

// scanPg runs a query and calls each after scanning every row into dest.
func scanPg(ctx context.Context, db PgxQuerier, sql string, args, dest []any, each func() error) error {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, dest, each)
	return err
}

// constraintKind names a pg_constraint.contype.
func constraintKind(contype string) string {
	switch contype {
	case "c":
		return "check"
	case "f":
		return "foreign key"
	case "p":
		return "primary key"
	case "u":
		return "unique"
	case "t":
		return "constraint trigger"
	case "x":
		return "exclusion"
	case "n":
		return "not null"
	}
	return "contype " + contype
}

// definitionLines splits a multi-line definition into its lines, without
// trailing spaces or a final empty line.
func definitionLines(def string) []string {
	lines := strings.Split(strings.TrimRight(def, " \t\r\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return lines
}

// schemaStripper returns a function that removes the qualification by
// schema (as written plain or quoted) from the names in a definition:
// "t_0123.analysis" becomes "analysis". It leaves alone a name that merely
// ends with the schema's name, and also strips the schema inside string
// literals of a function's body, which is as well for a comparison.
func schemaStripper(schema, quoted string) func(string) string {
	alts := regexp.QuoteMeta(schema)
	if quoted != schema {
		alts = regexp.QuoteMeta(quoted) + "|" + alts
	}
	re := regexp.MustCompile(`(^|[^\w$".])(?:` + alts + `)\.`)
	return func(s string) string { return re.ReplaceAllString(s, "$1") }
}

// CatalogSQLite returns a normalized, deterministic text dump of the schema
// objects of a SQLite database, read from sqlite_schema: each table's
// column definitions (sorted by column name) and table constraints (sorted),
// parsed from its CREATE TABLE text, and its indexes, triggers and views
// by name with their SQL. Every text is normalized: comments dropped,
// whitespace collapsed to single spaces (none before "," or ")" nor after
// "(", one after ","), and the quotes around identifiers (double quotes,
// backticks, brackets) removed, but for a name that needs them (spaces,
// punctuation), which gets double quotes; letter case is kept. A table reached by
// CREATE TABLE and ALTER TABLE ADD COLUMN (which appends the column to the
// stored text), by RENAME TO or RENAME COLUMN (which rewrite it, quoting
// the new names) therefore dumps as one created with its final columns
// directly. SQLite's internal objects (sqlite_*) and the bookkeeping tables
// taskmodel_migrations and taskmodel_leases are left out. The columns parsed
// are checked against PRAGMA table_xinfo.
func CatalogSQLite(ctx context.Context, db *sql.DB) (string, error) {
	type object struct{ typ, name, table, sql string }
	var objects []object
	rows, err := db.QueryContext(ctx, `SELECT type, name, tbl_name, sql FROM sqlite_schema
		WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND tbl_name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		return "", fmt.Errorf("catalog: %w", err)
	}
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.typ, &o.name, &o.table, &o.sql); err != nil {
			rows.Close()
			return "", fmt.Errorf("catalog: %w", err)
		}
		if !slices.Contains(bookkeepingTables, o.table) {
			objects = append(objects, o)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("catalog: %w", err)
	}
	var entries []catalogEntry
	for _, o := range objects {
		toks, err := sqlTokens(o.sql)
		if err != nil {
			return "", fmt.Errorf("catalog: %s %s: %w", o.typ, o.name, err)
		}
		switch o.typ {
		case "table":
			table, err := parseCreateTable(toks)
			if err != nil {
				return "", fmt.Errorf("catalog: table %s: %w", o.name, err)
			}
			if err := checkColumns(ctx, db, o.name, table.columns); err != nil {
				return "", fmt.Errorf("catalog: table %s: %w", o.name, err)
			}
			key := "table " + o.name
			if table.options != "" {
				entries = append(entries, catalogEntry{key, []string{table.options}})
			} else {
				entries = append(entries, catalogEntry{key: key})
			}
			for _, c := range table.columns {
				entries = append(entries, catalogEntry{key + " column " + c.name, []string{c.def}})
			}
			for _, c := range table.constraints {
				entries = append(entries, catalogEntry{key + " constraint", []string{c}})
			}
		case "index", "trigger":
			entries = append(entries, catalogEntry{"table " + o.table + " " + o.typ + " " + o.name, []string{renderTokens(toks)}})
		default: // view
			entries = append(entries, catalogEntry{o.typ + " " + o.name, []string{renderTokens(toks)}})
		}
	}
	return renderCatalog(entries), nil
}

// checkColumns compares the names of the columns parsed from a table's
// CREATE TABLE text with those SQLite reports.
func checkColumns(ctx context.Context, db *sql.DB, table string, parsed []sqliteColumn) error {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_xinfo(?)`, table)
	if err != nil {
		return err
	}
	defer rows.Close()
	var reported []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		reported = append(reported, name)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	names := make([]string, len(parsed))
	for i, c := range parsed {
		names[i] = c.name
	}
	slices.Sort(reported)
	if !slices.Equal(names, reported) {
		return fmt.Errorf("columns %v parsed from its SQL, %v in PRAGMA table_xinfo", names, reported)
	}
	return nil
}

// sqliteTable is a CREATE TABLE statement taken apart.
type sqliteTable struct {
	columns     []sqliteColumn // sorted by name
	constraints []string       // the table constraints, normalized and sorted
	options     string         // what follows the definitions (WITHOUT ROWID, STRICT), or AS SELECT
}

// sqliteColumn is a column definition: the column's name and the rest of
// its definition, normalized.
type sqliteColumn struct{ name, def string }

// tableConstraintWords are the words that start a table constraint rather
// than a column definition.
var tableConstraintWords = []string{"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}

// parseCreateTable splits the tokens of a CREATE TABLE statement into its
// column definitions and table constraints, at the commas outside
// parentheses.
func parseCreateTable(toks []sqlToken) (sqliteTable, error) {
	var t sqliteTable
	open := -1
	for i, tok := range toks {
		if tok.punct == '(' {
			open = i
			break
		}
		if !tok.quoted && strings.EqualFold(tok.text, "AS") {
			break
		}
	}
	if open < 0 { // CREATE TABLE ... AS SELECT: its text is all there is
		t.options = renderTokens(toks)
		return t, nil
	}
	depth, start, end := 0, open+1, -1
	var parts [][]sqlToken
	for i := open; i < len(toks) && end < 0; i++ {
		switch toks[i].punct {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				parts = append(parts, toks[start:i])
				end = i
			}
		case ',':
			if depth == 1 {
				parts = append(parts, toks[start:i])
				start = i + 1
			}
		}
	}
	if end < 0 {
		return t, fmt.Errorf("unbalanced parentheses")
	}
	t.options = renderTokens(toks[end+1:])
	for _, p := range parts {
		if len(p) == 0 {
			return t, fmt.Errorf("an empty definition")
		}
		first := p[0]
		if !first.quoted && slices.ContainsFunc(tableConstraintWords, func(w string) bool { return strings.EqualFold(w, first.text) }) {
			t.constraints = append(t.constraints, renderTokens(p))
			continue
		}
		t.columns = append(t.columns, sqliteColumn{first.text, renderTokens(p[1:])})
	}
	slices.SortFunc(t.columns, func(a, b sqliteColumn) int { return strings.Compare(a.name, b.name) })
	slices.Sort(t.constraints)
	return t, nil
}

// sqlToken is a token of SQL text, as far as normalizing it needs.
type sqlToken struct {
	text   string // a quoted identifier without its quotes; anything else as written
	punct  byte   // '(', ')' or ',' for those; 0 otherwise
	space  bool   // whitespace or a comment came before it
	quoted bool   // an identifier that was quoted
}

// sqlTokens splits SQL text into tokens: parentheses and commas, string
// literals, quoted identifiers (returned unquoted), and runs of anything
// else; whitespace and comments only mark the token after them.
func sqlTokens(s string) ([]sqlToken, error) {
	var toks []sqlToken
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			space = true
			i++
		case strings.HasPrefix(s[i:], "--"):
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				end = len(s) - i
			}
			space = true
			i += end
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated comment at offset %d", i)
			}
			space = true
			i += end + 4
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, sqlToken{text: string(c), punct: c, space: space})
			space = false
			i++
		case c == '\'' || c == '"' || c == '`' || c == '[':
			closing := c
			if c == '[' {
				closing = ']'
			}
			var text strings.Builder
			j := i + 1
			for {
				k := strings.IndexByte(s[j:], closing)
				if k < 0 {
					return nil, fmt.Errorf("unterminated %c at offset %d", c, i)
				}
				text.WriteString(s[j : j+k])
				j += k + 1
				// A doubled quote stands for one (not in brackets).
				if c != '[' && j < len(s) && s[j] == closing {
					text.WriteByte(closing)
					j++
					continue
				}
				break
			}
			if c == '\'' {
				toks = append(toks, sqlToken{text: s[i:j], space: space})
			} else {
				toks = append(toks, sqlToken{text: text.String(), space: space, quoted: true})
			}
			space = false
			i = j
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r\f\v(),'\"`[", rune(s[j])) &&
				!strings.HasPrefix(s[j:], "--") && !strings.HasPrefix(s[j:], "/*") {
				j++
			}
			toks = append(toks, sqlToken{text: s[i:j], space: space})
			space = false
			i = j
		}
	}
	return toks, nil
}

// renderTokens prints tokens back as SQL text with normalized spacing (one
// space where there was whitespace or a comment, and after each comma; none
// after "(" nor before ")" and ",") and quoting: a quoted identifier goes
// without quotes when it needs none, else in double quotes.
func renderTokens(toks []sqlToken) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			prev := toks[i-1]
			switch {
			case t.punct == ',' || t.punct == ')' || prev.punct == '(':
			case prev.punct == ',' || t.space:
				b.WriteByte(' ')
			}
		}
		if t.quoted && !plainIdentifier(t.text) {
			b.WriteString(`"` + strings.ReplaceAll(t.text, `"`, `""`) + `"`)
		} else {
			b.WriteString(t.text)
		}
	}
	return b.String()
}

// plainIdentifier reports whether an identifier reads the same without
// quotes: letters, digits, underscores and dollars, not starting with a
// digit or a dollar.
func plainIdentifier(s string) bool {
	for i, c := range s {
		switch {
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '$'):
		default:
			return false
		}
	}
	return s != ""
}

// DiffCatalogs returns the lines that differ between two dumps, those of
// want only as "- line" and those of got only as "+ line", in the dumps'
// order: "" when they are equal. Each line names its object, so the diff
// reads without context.
func DiffCatalogs(want, got string) string {
	if want == got {
		return ""
	}
	a, b := dumpLines(want), dumpLines(got)
	var out strings.Builder
	out.WriteString("--- want\n+++ got\n")
	// The common head and tail need no comparing.
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	a, b = a[p:len(a)-s], b[p:len(b)-s]
	if len(a) == 0 && len(b) == 0 {
		out.WriteString("(the dumps differ only in their final newline)\n")
		return out.String()
	}
	n, m := len(a), len(b)
	if n*m > 1<<22 {
		// Too many lines differ for a longest common subsequence: list the
		// lines each has that the other has not.
		only := func(x, y []string, sign string) {
			have := map[string]int{}
			for _, l := range y {
				have[l]++
			}
			for _, l := range x {
				if have[l] > 0 {
					have[l]--
					continue
				}
				out.WriteString(sign + l + "\n")
			}
		}
		only(a, b, "- ")
		only(b, a, "+ ")
		return out.String()
	}
	// lcs[i*(m+1)+j] is the length of the longest common subsequence of
	// a[i:] and b[j:].
	lcs := make([]int32, (n+1)*(m+1))
	at := func(i, j int) *int32 { return &lcs[i*(m+1)+j] }
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				*at(i, j) = *at(i+1, j+1) + 1
			} else {
				*at(i, j) = max(*at(i+1, j), *at(i, j+1))
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			i++
			j++
		case j == m || i < n && *at(i+1, j) >= *at(i, j+1):
			out.WriteString("- " + a[i] + "\n")
			i++
		default:
			out.WriteString("+ " + b[j] + "\n")
			j++
		}
	}
	return out.String()
}

// dumpLines splits a dump into its lines.
func dumpLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
