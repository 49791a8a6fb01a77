package gen

import (
	"fmt"
	"path"
	"strings"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// SQLCPackages names the packages sqlc generates inside a model's package.
var SQLCPackages = map[Engine]string{PostgreSQL: "pgdb", SQLite: "sqlitedb"}

// SQLCLayout tells SQLCConfig where the files it names are and how the file
// was written. Paths are slash paths relative to the directory of the
// sqlc.yaml file, which is where sqlc resolves them.
type SQLCLayout struct {
	// Dirs holds the package directory of each model, in the models' order:
	// where taskgen wrote its Go files and its sql/ directory.
	Dirs []string
	// Catalog is the catalog package's directory; "" when there is none.
	Catalog string
	// Command is the taskgen command line that wrote the file, its paths
	// relative to the file's directory; "" when it cannot be written so.
	Command string
	// File is the sqlc.yaml file's name, for the sqlc command of the header.
	File string
}

// SQLCConfig renders sqlc.yaml for the models, whose packages are in
// layout.Dirs. sqlc compiles each model's query file for each engine into
// <dir>/<pgdb|sqlitedb>, and the catalog's into <catalog>/<pgdb|sqlitedb>;
// sqlc vet checks each model's MySQL statements that it parses
// (MySQLQueryFile) against the model's MySQL migrations.
//
// The overrides make both engines speak the same Go types: uuid.UUID,
// time.Time and pointers for NULL, so the generated store maps one shape.
func SQLCConfig(models []*spec.Model, layout SQLCLayout) []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# %s\n", Header)
	if layout.Command != "" {
		p("# To regenerate it, run in this file's directory:\n#   %s\n#   sqlc generate -f %s\n", layout.Command, layout.File)
	} else {
		p("# To regenerate it, run taskgen again with -sqlc, then sqlc generate -f %s\n# in this file's directory.\n", layout.File)
	}
	p("# taskgen writes this file and the queries of every model; sqlc compiles the\n# queries for every engine, and sqlc vet checks those for MySQL.\nversion: \"2\"\nsql:\n")
	for i, m := range models {
		dir := layout.Dirs[i]
		table, history := Table(m)
		for _, e := range SQLCEngines {
			p("  - engine: %s\n", e)
			var schema []string
			for _, mg := range migrationsFor(e, m.Worker != nil) {
				if mg.sqlc {
					schema = append(schema, path.Join(dir, mg.path(e)))
				}
			}
			if len(schema) == 1 {
				p("    schema: %s\n", schema[0])
			} else {
				p("    schema:\n")
				for _, f := range schema {
					p("      - %s\n", f)
				}
			}
			p("    queries: %s\n", path.Join(dir, "sql", string(e), "query.sql"))
			p("    gen:\n      go:\n")
			p("        package: %s\n        out: %s\n", SQLCPackages[e], path.Join(dir, SQLCPackages[e]))
			p("        emit_exact_table_names: true\n")
			if e == PostgreSQL {
				p("        sql_package: pgx/v5\n        emit_pointers_for_null_types: true\n")
			}
			var renames []string
			for _, f := range m.Fields {
				if f.GoName != SQLCName(f.Name) {
					renames = append(renames, fmt.Sprintf("%s: %s", f.Name, f.GoName))
				}
			}
			if len(renames) > 0 {
				p("        rename: {%s}\n", strings.Join(renames, ", "))
			}
			p("        overrides:\n")
			if e == PostgreSQL {
				for _, o := range []struct {
					db, imp, typ string
				}{{"uuid", "github.com/google/uuid", "UUID"}, {"timestamptz", "time", "Time"}} {
					p("          - {db_type: %s, go_type: {import: %s, type: %s}}\n", o.db, o.imp, o.typ)
					p("          - {db_type: %s, nullable: true, go_type: {import: %s, type: %s, pointer: true}}\n", o.db, o.imp, o.typ)
				}
				continue
			}
			// SQLite has no uuid type: the id columns are TEXT, mapped per column.
			uuidCols := []string{table + ".id", history + ".task_id"}
			for _, f := range m.Fields {
				if f.Type.Kind == spec.KindUUID {
					uuidCols = append(uuidCols, table+"."+f.Name)
				}
			}
			for _, c := range uuidCols {
				nullable := false
				if f := m.FieldByName(strings.TrimPrefix(c, table+".")); f != nil && f.Optional {
					nullable = true
				}
				p("          - {column: %s, go_type: {import: github.com/google/uuid, type: UUID, pointer: %v}}\n", c, nullable)
			}
			for _, o := range []struct{ db, imp, typ string }{
				{"TEXT", "", "string"}, {"INTEGER", "", "int64"}, {"REAL", "", "float64"}, {"BOOLEAN", "", "bool"}, {"DATETIME", "time", "Time"},
			} {
				imp := ""
				if o.imp != "" {
					imp = "import: " + o.imp + ", "
				}
				p("          - {db_type: %s, nullable: true, go_type: {%stype: %s, pointer: true}}\n", o.db, imp, o.typ)
			}
		}
		// MySQL: checked (sqlc vet), not generated: backends/mysql runs the
		// statements itself. The schema is the migrations, in order.
		p("  - engine: mysql\n    schema: %s\n    queries: %s\n", path.Join(dir, MigrationsDir, string(MySQL)), path.Join(dir, MySQLPackage, MySQLQueryFile))
	}
	var listed []*spec.Model
	var listedDirs []string
	for i, m := range models {
		if Listed(m) {
			listed = append(listed, m)
			listedDirs = append(listedDirs, layout.Dirs[i])
		}
	}
	if layout.Catalog != "" && len(listed) > 0 {
		dir := layout.Catalog
		for _, e := range SQLCEngines {
			p("  - engine: %s\n    schema:\n", e)
			for _, d := range listedDirs {
				p("      - %s\n", path.Join(d, "sql", string(e), "schema.sql"))
			}
			p("    queries: %s\n    gen:\n      go:\n", path.Join(dir, "sql", string(e), "query.sql"))
			p("        package: %s\n        out: %s\n        emit_exact_table_names: true\n", SQLCPackages[e], path.Join(dir, SQLCPackages[e]))
			if e == SQLite {
				// Parsing and planning the listing's many branches costs more
				// than running them: keep the statement prepared.
				p("        emit_prepared_queries: true\n")
			}
			if e == PostgreSQL {
				p("        sql_package: pgx/v5\n        emit_pointers_for_null_types: true\n        overrides:\n")
				p("          - {db_type: uuid, go_type: {import: github.com/google/uuid, type: UUID}}\n")
				p("          - {db_type: timestamptz, go_type: {import: time, type: Time}}\n")
				p("          - {db_type: timestamptz, nullable: true, go_type: {import: time, type: Time, pointer: true}}\n")
			} else {
				p("        overrides:\n")
				for _, m := range listed {
					p("          - {column: %s.id, go_type: {import: github.com/google/uuid, type: UUID}}\n", m.Name)
				}
				// CAST(NULL AS TEXT) and CAST(NULL AS DATETIME), a model's
				// branch without a tag or an end date, are lower case to sqlc.
				for _, db := range []string{"TEXT", "text"} {
					p("          - {db_type: %s, nullable: true, go_type: {type: string, pointer: true}}\n", db)
				}
				// The end date is an expression in some branches (coalesce,
				// NULL), which SQLite gives no declared type: the driver then
				// returns its text, which sqlite.Time reads.
				for _, db := range []string{"DATETIME", "datetime"} {
					p("          - {db_type: %s, nullable: true, go_type: %s}\n", db, endDateType[e])
				}
			}
			// The listing's tag and end date are nullable whatever the model
			// sqlc reads their type from (the union's first branch): a
			// required tag or end_date column is one a later branch, or a
			// model without it, leaves NULL.
			for _, m := range listed {
				if f := tagField(m); f != nil && !f.Optional {
					p("          - {column: %s.%s, go_type: {type: string, pointer: true}}\n", m.Name, f.Name)
				}
				for _, f := range endDateFields(m) {
					if !f.Optional {
						p("          - {column: %s.%s, go_type: %s}\n", m.Name, f.Name, endDateType[e])
					}
				}
			}
		}
	}
	return []byte(b.String())
}

// endDateType is the Go type, in sqlc.yaml, of the catalog's end date.
var endDateType = map[Engine]string{
	PostgreSQL: "{import: time, type: Time, pointer: true}",
	SQLite:     "{import: " + pkgSQLiteBackend + ", type: Time, pointer: true}",
}

// SQLCName is the Go name sqlc gives a column, parameter or table by default
// (with its default initialism, id): user_id → UserID, cpu_percent → CpuPercent.
func SQLCName(name string) string {
	var b strings.Builder
	for _, seg := range strings.Split(name, "_") {
		if seg == "id" {
			b.WriteString("ID")
		} else if seg != "" {
			b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
		}
	}
	return b.String()
}
