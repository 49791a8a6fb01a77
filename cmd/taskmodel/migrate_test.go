package main_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/auth"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/mysqlstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/pgstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/sqlitestore"
	"github.com/taskmodel/taskmodel/tasktype"
)

// migrateDB is a database the migrate tests run the binary on, and reads
// behind its back.
type migrateDB struct {
	engine string
	env    []string
	// snapshot describes everything the migrate commands could change: the
	// tables and the rows of taskmodel_migrations (and, for SQLite, the
	// file's bytes); "no database" when the file or schema does not exist.
	snapshot func() string
	exec     func(q string)
}

// migrateEngines open a new, empty database of each engine.
var migrateEngines = []struct {
	name string
	open func(t *testing.T, s *sandbox) *migrateDB
}{
	{"sqlite", func(t *testing.T, s *sandbox) *migrateDB {
		path := filepath.Join(s.dir, "data", "taskmodel", "taskmodel.db") // the default file of the sandbox
		return &migrateDB{engine: sqlite.Engine, snapshot: func() string { return sqliteSnapshot(t, path) }, exec: func(q string) {
			t.Helper()
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}}
	}},
	{"postgres", func(t *testing.T, s *sandbox) *migrateDB {
		cfg := pgtest.Schema(t)
		schema := cfg.ConnConfig.RuntimeParams["search_path"]
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return &migrateDB{engine: postgres.Engine,
			env:      []string{"TASKMODEL_DATABASE_URL=" + pgtest.URL(), "TASKMODEL_DB_SCHEMA=" + schema},
			snapshot: func() string { return postgresSnapshot(t, pool, schema) },
			exec: func(q string) {
				t.Helper()
				if _, err := pool.Exec(context.Background(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}}
	}},
	{"mysql", func(t *testing.T, s *sandbox) *migrateDB {
		url := mysqltest.Database(t)
		cfg, err := mysql.ParseDSN(url)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := mysqldriver.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(conn) // not mysql.Open, which creates tables
		t.Cleanup(func() { db.Close() })
		return &migrateDB{engine: mysql.Engine,
			env:      []string{"TASKMODEL_DATABASE_URL=" + url},
			snapshot: func() string { return mysqlSnapshot(t, db) },
			exec: func(q string) {
				t.Helper()
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}}
	}},
}

func mysqlSnapshot(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	fmt.Fprintln(&b, strings.Join(tables, "\n"))
	if slices.Contains(tables, "taskmodel_migrations") {
		migrationRows(t, db, &b)
	}
	return b.String()
}

// migrationRows writes the rows of taskmodel_migrations (SQLite, MySQL).
func migrationRows(t *testing.T, db *sql.DB, b *strings.Builder) {
	t.Helper()
	rows, err := db.Query(`SELECT name, checksum, applied_at FROM taskmodel_migrations ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, sum, at string
		if err := rows.Scan(&name, &sum, &at); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(b, "migration %s %s %s\n", name, sum, at)
	}
}

func sqliteSnapshot(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "no database"
	}
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "file sha256 %x\n", sha256.Sum256(data))
	rows, err := db.Query(`SELECT type, name FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]bool{}
	for rows.Next() {
		var typ, name string
		if err := rows.Scan(&typ, &name); err != nil {
			t.Fatal(err)
		}
		tables[name] = true
		fmt.Fprintf(&b, "%s %s\n", typ, name)
	}
	rows.Close()
	if tables["taskmodel_migrations"] {
		migrationRows(t, db, &b)
	}
	return b.String()
}

func postgresSnapshot(t *testing.T, pool *pgxpool.Pool, schema string) string {
	t.Helper()
	ctx := context.Background()
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		return "no database"
	}
	var b strings.Builder
	var rels []string
	rows, err := pool.Query(ctx, `SELECT relkind::text || ' ' || relname FROM pg_class WHERE relnamespace = $1::regnamespace ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		rels = append(rels, r)
	}
	rows.Close()
	fmt.Fprintln(&b, strings.Join(rels, "\n"))
	if slices.Contains(rels, "r taskmodel_migrations") {
		rows, err := pool.Query(ctx, `SELECT name, checksum, applied_at::text FROM taskmodel_migrations ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, sum, at string
			if err := rows.Scan(&name, &sum, &at); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "migration %s %s %s\n", name, sum, at)
		}
		rows.Close()
	}
	return b.String()
}

// serveMigrations are the migrations taskmodel serve applies: every
// built-in model's, the token table's, then the pipeline registry's.
func serveMigrations(engine string) []string {
	var names []string
	registry := sqlitestore.RegistryMigrations()
	switch engine {
	case postgres.Engine:
		registry = pgstore.RegistryMigrations()
	case mysql.Engine:
		registry = mysqlstore.RegistryMigrations()
	}
	for _, m := range append(append(catalog.Migrations(engine), auth.Migrations(engine)...), registry...) {
		names = append(names, m.Name)
	}
	return names
}

// statusLines parses the table of migrate status: migration → state, in
// order.
func statusLines(t *testing.T, out string) (names, states []string) {
	t.Helper()
	_, table, ok := strings.Cut(out, "\nMIGRATION ")
	if !ok {
		t.Fatalf("no table in migrate status:\n%s", out)
	}
	lines := strings.Split(table, "\n")[1:]
	for _, l := range lines {
		if l == "" {
			break
		}
		f := strings.Fields(l)
		names, states = append(names, f[0]), append(states, f[1])
	}
	return names, states
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestMigrate runs migrate status, plan and up on a new database of each
// engine, then on one migrated by a newer version (an extra applied
// migration) and on one whose applied SQL changed.
func TestMigrate(t *testing.T) {
	for _, eng := range migrateEngines {
		t.Run(eng.name, func(t *testing.T) {
			s := newSandbox(t)
			db := eng.open(t, s)
			s.env = append(s.env, db.env...)
			want := serveMigrations(db.engine)
			fresh := db.snapshot()
			if eng.name == "sqlite" && fresh != "no database" {
				t.Fatalf("the sandbox has a database already:\n%s", fresh)
			}

			// A new database: every migration pending; nothing is written,
			// not even the SQLite file.
			for _, tt := range []struct {
				name  string
				args  []string
				check func(t *testing.T, out string)
			}{
				{"status", []string{"migrate", "status"}, func(t *testing.T, out string) {
					names, states := statusLines(t, out)
					if !slices.Equal(names, want) || !slices.Equal(states, repeat("pending", len(want))) {
						t.Errorf("migrations %v\nstates %v\nwant %v all pending", names, states, want)
					}
					if eng.name == "sqlite" && !strings.Contains(out, "does not exist yet, and was not created; every migration is pending") {
						t.Errorf("no note that the file does not exist:\n%s", out)
					}
					if !strings.Contains(out, fmt.Sprintf("%d migrations: 0 applied, %d pending\n", len(want), len(want))) {
						t.Errorf("no summary:\n%s", out)
					}
				}},
				{"status --json", []string{"migrate", "status", "--json"}, func(t *testing.T, out string) {
					var got struct {
						Engine     string `json:"engine"`
						Migrations []struct {
							Name, State string
						} `json:"migrations"`
					}
					if err := json.Unmarshal([]byte(out), &got); err != nil {
						t.Fatalf("%v\n%s", err, out)
					}
					if got.Engine != db.engine || len(got.Migrations) != len(want) || got.Migrations[0].State != "pending" {
						t.Errorf("status --json: %+v", got)
					}
				}},
				{"plan", []string{"migrate", "plan"}, func(t *testing.T, out string) {
					for i, name := range want {
						if !strings.Contains(out, fmt.Sprintf("\n-- Migration %d of %d: %s (%s)\n", i+1, len(want), name, db.engine)) {
							t.Errorf("plan does not show migration %d, %s", i+1, name)
						}
					}
					body := "-- Body, run in one transaction:"
					if db.engine == mysql.Engine {
						body = "-- Body, run statement by statement: MySQL and MariaDB commit each schema"
					}
					for _, sql := range []string{"CREATE TABLE analysis (", "CREATE TABLE taskmodel_token", body} {
						if !strings.Contains(out, sql) {
							t.Errorf("plan does not print %q", sql)
						}
					}
				}},
			} {
				t.Run(tt.name, func(t *testing.T) {
					tt.check(t, s.ok(tt.args...))
					if got := db.snapshot(); got != fresh {
						t.Errorf("migrate %s changed the database:\n%s\nwas:\n%s", tt.name, got, fresh)
					}
				})
			}

			// up applies every migration, in order, and says how long each took.
			r := s.run("migrate", "up")
			if r.code != 0 {
				t.Fatalf("migrate up: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			var applied []string
			for _, l := range strings.Split(r.stdout, "\n") {
				if f := strings.Fields(l); len(f) == 3 && f[0] == "applied" {
					if _, err := time.ParseDuration(f[2]); err != nil {
						t.Errorf("line %q: no duration: %v", l, err)
					}
					applied = append(applied, f[1])
				}
			}
			if !slices.Equal(applied, want) {
				t.Errorf("up applied %v\nwant %v", applied, want)
			}
			if !strings.Contains(r.stdout, fmt.Sprintf("Applied %d migrations in ", len(want))) {
				t.Errorf("no summary:\n%s", r.stdout)
			}
			migrated := db.snapshot()

			// Then: every migration applied, nothing to plan or apply, and
			// nothing written.
			for _, tt := range []struct {
				name  string
				args  []string
				check func(t *testing.T, out string)
			}{
				{"status", []string{"migrate", "status"}, func(t *testing.T, out string) {
					names, states := statusLines(t, out)
					if !slices.Equal(names, want) || !slices.Equal(states, repeat("applied", len(want))) {
						t.Errorf("migrations %v\nstates %v\nwant %v all applied", names, states, want)
					}
					if !strings.Contains(out, fmt.Sprintf("%d migrations: %d applied, 0 pending\n", len(want), len(want))) {
						t.Errorf("no summary:\n%s", out)
					}
				}},
				{"plan", []string{"migrate", "plan"}, func(t *testing.T, out string) {
					if !strings.Contains(out, fmt.Sprintf("-- Nothing to apply: the database is up to date (%d migrations applied).", len(want))) || strings.Contains(out, "CREATE") {
						t.Errorf("plan of a migrated database:\n%s", out)
					}
				}},
				{"up", []string{"migrate", "up"}, func(t *testing.T, out string) {
					if !strings.Contains(out, "Nothing to apply: the database is up to date.") || strings.Contains(out, "applied ") {
						t.Errorf("up of a migrated database:\n%s", out)
					}
				}},
			} {
				t.Run("migrated/"+tt.name, func(t *testing.T) {
					tt.check(t, s.ok(tt.args...))
					if got := db.snapshot(); got != migrated {
						t.Errorf("migrate %s changed the database:\n%s\nwas:\n%s", tt.name, got, migrated)
					}
				})
			}

			// A database the program must refuse: status, plan and up fail
			// with the reason and write nothing.
			var lastTraining string
			for _, name := range want {
				if after, ok := strings.CutPrefix(name, "training/"); ok {
					lastTraining = after
				}
			}
			// The first migration: analysis/0001_schema, or on MySQL its first.
			first := catalog.Migrations(db.engine)[0]
			insert := "INSERT INTO taskmodel_migrations (name, checksum) VALUES ('training/9999_future', 'f00d')" // PostgreSQL fills applied_at
			if eng.name != "postgres" {
				insert = "INSERT INTO taskmodel_migrations (name, checksum, applied_at) VALUES ('training/9999_future', 'f00d', '2030-01-02 03:04:05')"
			}
			for _, tt := range []struct {
				name, tamper, undo string
				line               string // the status line's name and state
				message            string // the whole error line
			}{
				{
					name:    "newer migration",
					tamper:  insert,
					undo:    "DELETE FROM taskmodel_migrations WHERE name = 'training/9999_future'",
					line:    "training/9999_future unknown",
					message: "the database is at migration 9999_future of model training, which this taskmodel does not have (its training ends at " + lastTraining + "): a newer version of taskmodel migrated it; run that version or a newer one",
				},
				{
					name:    "changed SQL",
					tamper:  "UPDATE taskmodel_migrations SET checksum = 'abcdef0123456789' WHERE name = '" + first.Name + "'",
					line:    first.Name + " changed",
					message: (&tasktype.ChangedMigrationError{Migration: first.Name, Applied: "abcdef0123456789", Program: first.Checksum()}).Error(),
				},
			} {
				t.Run(tt.name, func(t *testing.T) {
					db.exec(tt.tamper)
					tampered := db.snapshot()
					if tt.undo == "" {
						t.Cleanup(func() {
							db.exec("UPDATE taskmodel_migrations SET checksum = '" + first.Checksum() + "' WHERE name = '" + first.Name + "'")
						})
					} else {
						t.Cleanup(func() { db.exec(tt.undo) })
					}
					for _, cmd := range []string{"status", "plan", "up"} {
						r := s.run("migrate", cmd)
						if r.code != 1 || r.stderr != "taskmodel: "+tt.message+"\n" {
							t.Errorf("migrate %s: exit %d, stderr %q\nwant exit 1 and %q", cmd, r.code, r.stderr, "taskmodel: "+tt.message+"\n")
						}
						if cmd == "status" {
							names, states := statusLines(t, r.stdout)
							var lines []string
							for i := range names {
								lines = append(lines, names[i]+" "+states[i])
							}
							if !slices.Contains(lines, tt.line) {
								t.Errorf("status does not show %q:\n%s", tt.line, r.stdout)
							}
						}
						if cmd != "status" && strings.Contains(r.stdout, "applied ") {
							t.Errorf("migrate %s printed applied migrations:\n%s", cmd, r.stdout)
						}
						if got := db.snapshot(); got != tampered {
							t.Errorf("migrate %s changed the database:\n%s\nwas:\n%s", cmd, got, tampered)
						}
					}
					if r := s.run("migrate", "status", "--json"); r.code != 1 || !strings.Contains(r.stderr, `"exit":1`) || !strings.Contains(r.stdout, `"state": "`+strings.Fields(tt.line)[1]+`"`) {
						t.Errorf("status --json: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
					}
				})
			}
			// The tests' own changes, undone, leave the rows as they were
			// (not SQLite's file bytes).
			rows := func(snap string) string { _, after, _ := strings.Cut(snap, "\n"); return after }
			if got := db.snapshot(); rows(got) != rows(migrated) {
				t.Errorf("the database after the refusals:\n%s\nwant:\n%s", got, migrated)
			}
		})
	}
}

// TestServeAppliesWhatMigrateLists: serve, started on a new database,
// applies every migration migrate status lists, and migrate up then has
// nothing to do.
func TestServeAppliesWhatMigrateLists(t *testing.T) {
	for _, eng := range migrateEngines {
		t.Run(eng.name, func(t *testing.T) {
			s := newSandbox(t)
			db := eng.open(t, s)
			s.env = append(s.env, db.env...)
			want := serveMigrations(db.engine)
			sv := s.serve("--workers", "0")
			if err := sv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-sv.done:
			case <-time.After(15 * time.Second):
				t.Fatalf("serve did not stop\n%s", sv.stderr)
			}
			names, states := statusLines(t, s.ok("migrate", "status"))
			if !slices.Equal(names, want) || !slices.Equal(states, repeat("applied", len(want))) {
				t.Errorf("after serve: migrations %v\nstates %v\nwant %v all applied", names, states, want)
			}
			if out := s.ok("migrate", "up"); !strings.Contains(out, "Nothing to apply") {
				t.Errorf("up after serve:\n%s", out)
			}
		})
	}
}

// TestMigrateWithoutDatabase: plan --engine opens no database; a schema
// that does not exist is not created; command-line mistakes name the flag.
func TestMigrateWithoutDatabase(t *testing.T) {
	for _, engine := range []string{postgres.Engine, mysql.Engine, sqlite.Engine} {
		t.Run("plan --engine "+engine, func(t *testing.T) {
			s := newSandbox(t, "TASKMODEL_DATABASE_URL=postgres://nobody@127.0.0.1:1/none") // never reached
			out := s.ok("migrate", "plan", "--engine", engine)
			want := serveMigrations(engine)
			for i, name := range want {
				if !strings.Contains(out, fmt.Sprintf("\n-- Migration %d of %d: %s (%s)\n", i+1, len(want), name, engine)) {
					t.Errorf("plan --engine %s does not show migration %d, %s", engine, i+1, name)
				}
			}
			if !strings.Contains(out, "No database was opened.") || !strings.Contains(out, "CREATE TABLE analysis (") {
				t.Errorf("plan --engine %s:\n%.600s", engine, out)
			}
			if _, err := os.Stat(filepath.Join(s.dir, "data")); !os.IsNotExist(err) {
				t.Errorf("plan --engine created the data directory: %v", err)
			}
		})
	}

	t.Run("missing PostgreSQL schema", func(t *testing.T) {
		pgtest.Schema(t) // skips, or fails under CI, without a server
		schema := fmt.Sprintf("t_missing_%d", time.Now().UnixNano())
		pool, err := pgxpool.New(context.Background(), pgtest.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
		s := newSandbox(t, "TASKMODEL_DATABASE_URL="+pgtest.URL(), "TASKMODEL_DB_SCHEMA="+schema)
		for _, cmd := range []string{"status", "plan"} {
			out := s.ok("migrate", cmd)
			if !strings.Contains(out, "the schema "+schema+" does not exist yet, and was not created; every migration is pending") {
				t.Errorf("migrate %s:\n%.600s", cmd, out)
			}
			if got := postgresSnapshot(t, pool, schema); got != "no database" {
				t.Errorf("migrate %s created the schema:\n%s", cmd, got)
			}
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown engine", []string{"migrate", "plan", "--engine", "oracle"}, 2, `--engine "oracle": allowed: postgresql, mysql, sqlite`},
		{"empty engine", []string{"migrate", "plan", "--engine", ""}, 2, `--engine "": allowed: postgresql, mysql, sqlite`},
		{"in-memory SQLite", []string{"migrate", "up", "--database-url", "sqlite::memory:"}, 2, "taskmodel migrate needs a database file, not :memory:"},
		{"bad URL", []string{"migrate", "status", "--database-url", "ftp://example.com/db"}, 7, `flag: --database-url: unsupported URL scheme "ftp"`},
		{"every command takes --database-url", []string{"token", "list", "--database-url", "ftp://example.com/db"}, 7, `flag: --database-url: unsupported URL scheme "ftp"`},
		{"two different URLs", []string{"migrate", "status", "--database-url", "sqlite:a.db", "--db-url", "sqlite:b.db"}, 2, "--database-url and --db-url name different databases: give one of them"},
		{"a schema for SQLite", []string{"migrate", "status", "--database-url", "sqlite:a.db", "--db-schema", "s"}, 7, "flag: --db-schema: applies to PostgreSQL only, and the driver is sqlite"},
		{"argument", []string{"migrate", "status", "now"}, 2, `unknown command "now"`},
		{"unknown subcommand flag", []string{"migrate", "up", "--engine", "sqlite"}, 2, "unknown flag: --engine"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSandbox(t)
			r := s.run(tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("taskmodel %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.code, tt.want)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "*tasktype.") {
				t.Errorf("stderr: %q", r.stderr)
			}
			if _, err := os.Stat(filepath.Join(s.dir, "data")); !os.IsNotExist(err) {
				t.Errorf("a refused command created the data directory: %v", err)
			}
		})
	}
}
