package backendtest

import (
	"strings"
	"testing"
)

func TestParseCreateTable(t *testing.T) {
	for _, tc := range []struct {
		name        string
		sql         string
		columns     []sqliteColumn
		constraints []string
		options     string
	}{{
		name:    "plain",
		sql:     "CREATE TABLE t (\n    b TEXT NOT NULL,\n    a INTEGER DEFAULT 0\n)",
		columns: []sqliteColumn{{"a", "INTEGER DEFAULT 0"}, {"b", "TEXT NOT NULL"}},
	}, {
		name: "added columns after a newline, quotes of RENAME",
		sql:  "CREATE TABLE \"t\" (id TEXT PRIMARY KEY, \"n\" INTEGER CHECK (\"n\" >= 0)\n, z TEXT, \"x y\" TEXT CHECK (\"x y\" <> ''))",
		columns: []sqliteColumn{
			{"id", "TEXT PRIMARY KEY"}, {"n", "INTEGER CHECK (n >= 0)"}, {"x y", `TEXT CHECK ("x y" <> '')`}, {"z", "TEXT"},
		},
	}, {
		name: "commas and parentheses in strings, comments and nested calls",
		sql: "CREATE TABLE t (a TEXT DEFAULT 'x, (y' CHECK (a IN ('p,q', ')')), -- one, two\n" +
			"b TEXT /* c, d ( */ CHECK (length(trim(b, ' ')) > 0), CONSTRAINT k UNIQUE (a, b), PRIMARY KEY (a)) WITHOUT ROWID, STRICT",
		columns:     []sqliteColumn{{"a", "TEXT DEFAULT 'x, (y' CHECK (a IN ('p,q', ')'))"}, {"b", "TEXT CHECK (length(trim(b, ' ')) > 0)"}},
		constraints: []string{"CONSTRAINT k UNIQUE (a, b)", "PRIMARY KEY (a)"},
		options:     "WITHOUT ROWID, STRICT",
	}, {
		name:    "a quoted column named like a constraint's keyword",
		sql:     `CREATE TABLE t ("check" TEXT, [primary] INT, CHECK ("check" <> ''))`,
		columns: []sqliteColumn{{"check", "TEXT"}, {"primary", "INT"}},
		// "check" needs no quotes to read as a name: only the text's
		// spelling is compared.
		constraints: []string{"CHECK (check <> '')"},
	}, {
		name:    "doubled quotes",
		sql:     `CREATE TABLE t ("a""b" TEXT DEFAULT 'it''s')`,
		columns: []sqliteColumn{{`a"b`, `TEXT DEFAULT 'it''s'`}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			toks, err := sqlTokens(tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseCreateTable(toks)
			if err != nil {
				t.Fatal(err)
			}
			if !equalColumns(got.columns, tc.columns) {
				t.Errorf("columns %q, want %q", got.columns, tc.columns)
			}
			if strings.Join(got.constraints, "|") != strings.Join(tc.constraints, "|") {
				t.Errorf("constraints %q, want %q", got.constraints, tc.constraints)
			}
			if got.options != tc.options {
				t.Errorf("options %q, want %q", got.options, tc.options)
			}
		})
	}
	for _, bad := range []string{"CREATE TABLE t (a TEXT DEFAULT 'x)", "CREATE TABLE t (a TEXT", "CREATE TABLE t (a /* x)"} {
		toks, err := sqlTokens(bad)
		if err == nil {
			_, err = parseCreateTable(toks)
		}
		if err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func equalColumns(a, b []sqliteColumn) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDiffCatalogs(t *testing.T) {
	for _, tc := range []struct {
		name, want, got, diff string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"both empty", "", "", ""},
		{"changed line", "a\nb\nc\n", "a\nB\nc\n", "--- want\n+++ got\n- b\n+ B\n"},
		{"missing and extra", "a\nb\nc\nd\n", "a\nc\nd\ne\n", "--- want\n+++ got\n- b\n+ e\n"},
		{"from nothing", "", "a\n", "--- want\n+++ got\n+ a\n"},
		{"final newline", "a\n", "a", "--- want\n+++ got\n(the dumps differ only in their final newline)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DiffCatalogs(tc.want, tc.got); got != tc.diff {
				t.Errorf("DiffCatalogs = %q, want %q", got, tc.diff)
			}
		})
	}
	// Past the size of a longest common subsequence, the lines each dump
	// has alone.
	var a, b strings.Builder
	for i := range 3000 {
		a.WriteString("x" + strings.Repeat("a", i%7) + "\n")
		b.WriteString("y" + strings.Repeat("a", i%7) + "\n")
	}
	a.WriteString("only in want\n")
	d := DiffCatalogs(a.String(), b.String())
	if !strings.Contains(d, "- only in want\n") || strings.Count(d, "\n- ") != 3001 || strings.Count(d, "\n+ ") != 3000 {
		t.Errorf("large diff: %d lines removed, %d added", strings.Count(d, "\n- "), strings.Count(d, "\n+ "))
	}
}

func TestSchemaStripper(t *testing.T) {
	strip := schemaStripper("t_ab", "t_ab")
	for in, want := range map[string]string{
		"CREATE TRIGGER x AFTER DELETE ON t_ab.analysis EXECUTE FUNCTION t_ab.f()": "CREATE TRIGGER x AFTER DELETE ON analysis EXECUTE FUNCTION f()",
		"t_ab.x, (t_ab.y)":  "x, (y)",
		"at_ab.x st_ab.y":   "at_ab.x st_ab.y",
		`"t_ab".x`:          `"t_ab".x`,
		"nextval('t_ab.s')": "nextval('s')",
	} {
		if got := strip(in); got != want {
			t.Errorf("strip(%q) = %q, want %q", in, got, want)
		}
	}
	quoted := schemaStripper("My Schema", `"My Schema"`)
	if got := quoted(`CREATE INDEX i ON "My Schema".t USING btree (a)`); got != "CREATE INDEX i ON t USING btree (a)" {
		t.Errorf("quoted schema: %q", got)
	}
}
