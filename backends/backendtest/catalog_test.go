package backendtest_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/gen/datasetupload"
	"github.com/taskmodel/taskmodel/gen/evaluation"
	"github.com/taskmodel/taskmodel/gen/modelupload"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/gen/synthesis"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/tasktype"
)

// catalogDB is a fresh database of one engine that a test writes
// statements to and dumps.
type catalogDB struct {
	t      *testing.T
	exec   func(ctx context.Context, stmt string) error
	dump   func(ctx context.Context) (string, error)
	schema string // PostgreSQL's schema of the database, "" for SQLite
}

// run executes the statements in order.
func (d *catalogDB) run(stmts ...string) {
	d.t.Helper()
	for _, s := range stmts {
		if err := d.exec(context.Background(), s); err != nil {
			d.t.Fatalf("%s: %v", s, err)
		}
	}
}

// catalog returns the database's dump.
func (d *catalogDB) catalog() string {
	d.t.Helper()
	out, err := d.dump(context.Background())
	if err != nil {
		d.t.Fatal(err)
	}
	return out
}

// catalogEngines open an empty database (but for the backend's
// bookkeeping tables, which the dumps leave out) with migrations applied.
var catalogEngines = []struct {
	name string
	open func(t *testing.T, migrations ...[]tasktype.Migration) *catalogDB
}{
	{sqlite.Engine, openSQLiteCatalog},
	{postgres.Engine, openPostgresCatalog},
}

func openSQLiteCatalog(t *testing.T, migrations ...[]tasktype.Migration) *catalogDB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), ":memory:", migrations...)
	if err != nil {
		t.Fatal(err)
	}
	return sqlCatalogDB(t, db, backendtest.CatalogSQLite)
}

// sqlCatalogDB is a catalogDB of a database/sql database, closed when the
// test ends, dumped by dump.
func sqlCatalogDB(t *testing.T, db *sql.DB, dump func(context.Context, *sql.DB) (string, error)) *catalogDB {
	t.Cleanup(func() { db.Close() })
	return &catalogDB{
		t: t,
		exec: func(ctx context.Context, stmt string) error {
			_, err := db.ExecContext(ctx, stmt)
			return err
		},
		dump: func(ctx context.Context) (string, error) { return dump(ctx, db) },
	}
}

func openPostgresCatalog(t *testing.T, migrations ...[]tasktype.Migration) *catalogDB {
	t.Helper()
	cfg := pgtest.Schema(t)
	schema := cfg.ConnConfig.RuntimeParams["search_path"]
	pool, err := postgres.OpenConfig(context.Background(), cfg, migrations...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &catalogDB{
		t: t,
		exec: func(ctx context.Context, stmt string) error {
			_, err := pool.Exec(ctx, stmt)
			return err
		},
		dump:   func(ctx context.Context) (string, error) { return backendtest.CatalogPostgres(ctx, pool) },
		schema: schema,
	}
}

// CatalogPostgres reads through a pool, a connection or a transaction.
var (
	_ backendtest.PgxQuerier = (*pgxpool.Pool)(nil)
	_ backendtest.PgxQuerier = (*pgx.Conn)(nil)
	_ backendtest.PgxQuerier = pgx.Tx(nil)
)

// TestCatalogSameSchemaByOtherRoutes: a table reached by ALTER TABLE ADD
// COLUMN, by a rebuild under a temporary name and RENAME TO, or by RENAME
// COLUMN dumps as the same table created directly.
func TestCatalogSameSchemaByOtherRoutes(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []string // the direct route
		got  []string // the other one
		// pgGot follows got on PostgreSQL: there, renaming a table or a
		// column leaves the names of its constraints and indexes, which
		// carry the old name, to be renamed too.
		pgGot   []string
		engines []string // every engine when nil
	}{{
		name: "columns created in another order, some by ALTER TABLE ADD COLUMN",
		want: []string{
			`CREATE TABLE t (
				id TEXT PRIMARY KEY,
				a TEXT NOT NULL DEFAULT '',   -- added later in got
				b INTEGER NOT NULL DEFAULT 0 CHECK (b >= 0),
				c TEXT
			)`,
			`CREATE INDEX t_b_idx ON t (b) WHERE b > 0`,
			`CREATE TABLE u (t_id TEXT NOT NULL REFERENCES t (id) ON DELETE CASCADE, seq INTEGER NOT NULL, PRIMARY KEY (t_id, seq))`,
		},
		got: []string{
			`CREATE TABLE u (seq INTEGER NOT NULL, t_id TEXT NOT NULL, PRIMARY KEY (t_id, seq))`,
			`CREATE TABLE t (c TEXT, id TEXT PRIMARY KEY)`,
			`ALTER TABLE t ADD COLUMN b INTEGER NOT NULL DEFAULT 0 CHECK (b >= 0)`,
			`CREATE INDEX t_b_idx ON t (b) WHERE b > 0`,
			`ALTER TABLE t ADD COLUMN   a TEXT NOT NULL DEFAULT '' `,
			`DROP TABLE u`,
			`CREATE TABLE u (t_id TEXT NOT NULL REFERENCES t (id) ON DELETE CASCADE, seq INTEGER NOT NULL, PRIMARY KEY (t_id, seq))`,
		},
	}, {
		name: "table rebuilt under a temporary name and renamed",
		want: []string{
			`CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0), note TEXT)`,
			`CREATE INDEX t_n_idx ON t (n) WHERE n > 0`,
		},
		got: []string{
			`CREATE TABLE t (id TEXT PRIMARY KEY, m INTEGER)`,
			`INSERT INTO t VALUES ('a', 1)`,
			`CREATE TABLE tmp (id TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0), note TEXT)`,
			`INSERT INTO tmp (id, n) SELECT id, m FROM t`,
			`DROP TABLE t`,
			`ALTER TABLE tmp RENAME TO t`,
			`CREATE INDEX t_n_idx ON t (n) WHERE n > 0`,
		},
		pgGot: []string{
			`ALTER TABLE t RENAME CONSTRAINT tmp_pkey TO t_pkey`,
			`ALTER TABLE t RENAME CONSTRAINT tmp_n_check TO t_n_check`,
		},
	}, {
		name: "columns renamed, quoted or not",
		want: []string{
			`CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0), note TEXT)`,
			`CREATE INDEX t_n_idx ON t (n) WHERE n > 0`,
		},
		got: []string{
			`CREATE TABLE t (id TEXT PRIMARY KEY, "old" INTEGER NOT NULL CHECK ("old" >= 0), remark TEXT)`,
			`CREATE INDEX t_n_idx ON t ("old") WHERE "old" > 0`,
			`ALTER TABLE t RENAME COLUMN "old" TO n`,
			`ALTER TABLE t RENAME COLUMN remark TO "note"`,
		},
		pgGot: []string{
			`ALTER TABLE t RENAME CONSTRAINT t_old_check TO t_n_check`,
		},
	}, {
		name: "table renamed and its column renamed, indexes made before",
		want: []string{
			`CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)`,
			`CREATE INDEX t_n_idx ON t (n, id DESC) WHERE n > 0`,
		},
		got: []string{
			`CREATE TABLE "tmp" (id TEXT PRIMARY KEY, m INTEGER NOT NULL DEFAULT 0)`,
			`CREATE INDEX t_n_idx ON tmp (m, id DESC) WHERE m > 0`,
			`ALTER TABLE tmp RENAME TO t`,
			`ALTER TABLE t RENAME COLUMN m TO n`,
		},
		pgGot: []string{
			`ALTER INDEX tmp_pkey RENAME TO t_pkey`,
		},
	}, {
		name: "identifiers quoted in each of SQLite's ways, comments and spacing",
		want: []string{
			`CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n IN (1, 2)), "x y" TEXT, note TEXT DEFAULT 'a,  b')`,
			`CREATE INDEX t_n_idx ON t (n, "x y") WHERE n > 0`,
		},
		got: []string{
			"CREATE TABLE [t] ( `id` TEXT PRIMARY KEY , /* the count, 1 or 2 */ \"n\" INTEGER NOT NULL CHECK ( n IN (1,2) ) ,\n\t[x y] TEXT -- a note, or not\n)",
			"ALTER TABLE t ADD COLUMN note TEXT /* added, later */ DEFAULT 'a,  b'",
			"CREATE INDEX t_n_idx ON `t` ( n ,`x y` )  WHERE n > 0",
		},
		engines: []string{sqlite.Engine},
	}} {
		for _, e := range catalogEngines {
			if tc.engines != nil && !slices.Contains(tc.engines, e.name) {
				continue
			}
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				want, got := e.open(t), e.open(t)
				want.run(tc.want...)
				got.run(tc.got...)
				if e.name == postgres.Engine {
					got.run(tc.pgGot...)
				}
				w, g := want.catalog(), got.catalog()
				if d := backendtest.DiffCatalogs(w, g); d != "" {
					t.Errorf("the dumps differ:\n%s", d)
				}
				if !strings.Contains(w, "table t column id: TEXT") && !strings.Contains(w, "table t column id: text") {
					t.Errorf("the dump misses the table's columns:\n%s", w)
				}
			})
		}
	}
}

// TestCatalogDifferences: each change to a schema shows in the diff of the
// dumps, on a line that names the object.
func TestCatalogDifferences(t *testing.T) {
	base := []string{
		`CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0), note TEXT)`,
		`CREATE INDEX t_n_idx ON t (n) WHERE n > 0`,
	}
	for _, tc := range []struct {
		name    string
		want    []string // base when nil
		got     []string
		engines []string // every engine when nil
		// mentions is what the diff names, per engine.
		mentions map[string]string
	}{{
		name:     "CHECK expression",
		got:      []string{`CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0 CHECK (n > 0), note TEXT)`, base[1]},
		mentions: map[string]string{sqlite.Engine: "table t column n:", postgres.Engine: "table t constraint t_n_check:"},
	}, {
		name:     "index predicate",
		got:      []string{base[0], `CREATE INDEX t_n_idx ON t (n) WHERE n > 1`},
		mentions: map[string]string{sqlite.Engine: "table t index t_n_idx:", postgres.Engine: "table t index t_n_idx:"},
	}, {
		name:     "index columns",
		got:      []string{base[0], `CREATE INDEX t_n_idx ON t (n DESC) WHERE n > 0`},
		mentions: map[string]string{sqlite.Engine: "table t index t_n_idx:", postgres.Engine: "table t index t_n_idx:"},
	}, {
		name:     "missing index",
		got:      base[:1],
		mentions: map[string]string{sqlite.Engine: "- table t index t_n_idx:", postgres.Engine: "- table t index t_n_idx:"},
	}, {
		name:     "default",
		got:      []string{`CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 1 CHECK (n >= 0), note TEXT)`, base[1]},
		mentions: map[string]string{sqlite.Engine: "table t column n:", postgres.Engine: "table t column n:"},
	}, {
		name:     "NOT NULL",
		got:      []string{`CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0), note TEXT NOT NULL)`, base[1]},
		mentions: map[string]string{sqlite.Engine: "table t column note:", postgres.Engine: "table t column note:"},
	}, {
		name:     "column type",
		got:      []string{`CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT NOT NULL DEFAULT 0 CHECK (n >= 0), note TEXT)`, base[1]},
		mentions: map[string]string{sqlite.Engine: "table t column n:", postgres.Engine: "table t column n:"},
	}, {
		name:     "missing column",
		got:      []string{`CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0))`, base[1]},
		mentions: map[string]string{sqlite.Engine: "- table t column note:", postgres.Engine: "- table t column note:"},
	}, {
		name:     "table constraint",
		got:      []string{`CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0), note TEXT, UNIQUE (note))`, base[1]},
		mentions: map[string]string{sqlite.Engine: "+ table t constraint: UNIQUE (note)", postgres.Engine: "+ table t constraint t_note_key:"},
	}, {
		name:     "constraint added NOT VALID",
		want:     append(slices.Clip(base), `ALTER TABLE t ADD CONSTRAINT t_note_check CHECK (note <> '')`),
		got:      append(slices.Clip(base), `ALTER TABLE t ADD CONSTRAINT t_note_check CHECK (note <> '') NOT VALID`),
		engines:  []string{postgres.Engine},
		mentions: map[string]string{postgres.Engine: "+ table t constraint t_note_check: check, not validated:"},
	}, {
		name: "constraint names kept by RENAME TO",
		got: []string{
			`CREATE TABLE tmp (id TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0), note TEXT)`,
			`ALTER TABLE tmp RENAME TO t`,
			base[1],
		},
		engines:  []string{postgres.Engine},
		mentions: map[string]string{postgres.Engine: "+ table t constraint tmp_pkey:"},
	}, {
		name:     "function body",
		want:     append(slices.Clip(base), `CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$`),
		got:      append(slices.Clip(base), `CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$`),
		engines:  []string{postgres.Engine},
		mentions: map[string]string{postgres.Engine: "+ function f(): AS $function$ SELECT 2 $function$"},
	}, {
		name:     "trigger",
		want:     append(slices.Clip(base), `CREATE TRIGGER t_touch AFTER UPDATE OF n ON t BEGIN UPDATE t SET note = 'x' WHERE id = NEW.id; END`),
		got:      append(slices.Clip(base), `CREATE TRIGGER t_touch AFTER UPDATE OF note ON t BEGIN UPDATE t SET note = 'x' WHERE id = NEW.id; END`),
		engines:  []string{sqlite.Engine},
		mentions: map[string]string{sqlite.Engine: "+ table t trigger t_touch:"},
	}} {
		for _, e := range catalogEngines {
			if tc.engines != nil && !slices.Contains(tc.engines, e.name) {
				continue
			}
			t.Run(e.name+"/"+tc.name, func(t *testing.T) {
				wantStmts := tc.want
				if wantStmts == nil {
					wantStmts = base
				}
				want, got := e.open(t), e.open(t)
				want.run(wantStmts...)
				got.run(tc.got...)
				d := backendtest.DiffCatalogs(want.catalog(), got.catalog())
				if d == "" {
					t.Fatal("the dumps are equal")
				}
				t.Logf("the diff:\n%s", d)
				if !strings.Contains(d, tc.mentions[e.name]) {
					t.Errorf("the diff does not name %q:\n%s", tc.mentions[e.name], d)
				}
			})
		}
	}
}

// catalogModels are the built-in generated models, with the table each
// one's migrations create.
var catalogModels = []struct {
	table      string
	migrations func(engine string) []tasktype.Migration
}{
	{analysis.ModelName, analysis.Migrations},
	{datasetupload.ModelName, datasetupload.Migrations},
	{evaluation.ModelName, evaluation.Migrations},
	{modelupload.ModelName, modelupload.Migrations},
	{pipelinerun.ModelName, pipelinerun.Migrations},
	{pipelinesubtask.ModelName, pipelinesubtask.Migrations},
	{stage.ModelName, stage.Migrations},
	{synthesis.ModelName, synthesis.Migrations},
	{training.ModelName, training.Migrations},
}

// TestCatalogModelsListed: catalogModels lists every model of the catalog.
func TestCatalogModelsListed(t *testing.T) {
	var listed, want []string
	for _, m := range catalogModels {
		listed = append(listed, m.table)
	}
	for _, m := range catalog.Models() {
		want = append(want, m.Name)
	}
	slices.Sort(listed)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("the test lists the models %v, the catalog has %v", listed, want)
	}
}

// TestCatalogOfGeneratedModels: each generated model's migrations, and
// the catalog's (all of them), give a dump that has the model's table,
// the same at each reading and in every database migrated alike (on
// PostgreSQL, in another schema).
func TestCatalogOfGeneratedModels(t *testing.T) {
	type model struct {
		name       string
		tables     []string
		migrations func(engine string) []tasktype.Migration
	}
	var models []model
	var all []string
	for _, m := range catalogModels {
		models = append(models, model{m.table, []string{m.table, m.table + "_history"}, m.migrations})
		all = append(all, m.table, m.table+"_history")
	}
	models = append(models, model{"catalog", all, catalog.Migrations})
	for _, e := range catalogEngines {
		for _, m := range models {
			t.Run(e.name+"/"+m.name, func(t *testing.T) {
				migrations := m.migrations(e.name)
				if len(migrations) == 0 {
					t.Fatalf("no migrations for %s", e.name)
				}
				a, b := e.open(t, migrations), e.open(t, migrations)
				first := a.catalog()
				for _, table := range m.tables {
					if !hasLine(first, "table "+table) {
						t.Errorf("the dump has no line %q:\n%s", "table "+table, first)
					}
					if !strings.Contains(first, "table "+table+" column ") {
						t.Errorf("the dump has no column of %s:\n%s", table, first)
					}
				}
				if strings.Contains(first, "taskmodel_migrations") || strings.Contains(first, "taskmodel_leases") {
					t.Errorf("the dump has the bookkeeping tables:\n%s", first)
				}
				if a.schema != "" && (strings.Contains(first, a.schema) || strings.Contains(first, "public.")) {
					t.Errorf("the dump names a schema:\n%s", first)
				}
				if again := a.catalog(); again != first {
					t.Errorf("a second dump differs:\n%s", backendtest.DiffCatalogs(first, again))
				}
				if other := b.catalog(); other != first {
					t.Errorf("the dump of another database migrated alike differs:\n%s", backendtest.DiffCatalogs(first, other))
				}
			})
		}
	}
}

// hasLine reports whether the text has the line.
func hasLine(text, line string) bool {
	return slices.Contains(strings.Split(text, "\n"), line)
}
