package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/config"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func write(t *testing.T, dir, content string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, config.FileName)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const pgFile = `database:
  host: filehost
  port: 5432
  dbname: geodb
  user: ${USER}
  password: ${TASKMODEL_TEST_PW:-filepw}
  schema: tasker
  driver: postgresql
`

func TestPrecedence(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		env     map[string]string
		flags   config.Database
		want    config.Database
		url     string
		sources map[string]string
	}{
		{name: "nothing: the default SQLite file in the data directory",
			env:     map[string]string{"XDG_DATA_HOME": "/data"},
			want:    config.Database{Driver: "sqlite", Name: "/data/taskmodel/taskmodel.db"},
			sources: map[string]string{"name": "default"}},
		{name: "no XDG_DATA_HOME: ~/.local/share",
			env:  map[string]string{"HOME": "/home/a"},
			want: config.Database{Driver: "sqlite", Name: "/home/a/.local/share/taskmodel/taskmodel.db"}},
		{name: "file only, with ${VAR} and a default",
			file: pgFile, env: map[string]string{"USER": "alice"},
			want:    config.Database{Driver: "postgresql", Host: "filehost", Port: 5432, Name: "geodb", User: "alice", Password: "filepw", Schema: "tasker"},
			url:     "postgres://alice:filepw@filehost:5432/geodb",
			sources: map[string]string{"host": "FILE:2", "password": "FILE:6"}},
		{name: "environment over file, key by key",
			file: pgFile, env: map[string]string{"USER": "alice", "TASKMODEL_DB_HOST": "envhost", "TASKMODEL_DB_PASSWORD": "envpw"},
			want:    config.Database{Driver: "postgresql", Host: "envhost", Port: 5432, Name: "geodb", User: "alice", Password: "envpw", Schema: "tasker"},
			sources: map[string]string{"host": "environment TASKMODEL_DB_HOST", "port": "FILE:3"}},
		{name: "flags over environment",
			file: pgFile, env: map[string]string{"USER": "alice", "TASKMODEL_DB_HOST": "envhost"},
			flags:   config.Database{Host: "flaghost", Port: 6543},
			want:    config.Database{Driver: "postgresql", Host: "flaghost", Port: 6543, Name: "geodb", User: "alice", Password: "filepw", Schema: "tasker"},
			sources: map[string]string{"host": "flag --db-host", "port": "flag --db-port"}},
		{name: "a URL in the environment replaces the file's keys",
			file: pgFile, env: map[string]string{"USER": "alice", "TASKMODEL_DATABASE_URL": "postgres://u:p@urlhost/db"},
			want: config.Database{Driver: "postgresql", URL: "postgres://u:p@urlhost/db"},
			url:  "postgres://u:p@urlhost/db"},
		{name: "keys above a URL refine it",
			file: "database:\n  url: postgres://u:p@urlhost:5433/db?sslmode=disable\n",
			env:  map[string]string{"TASKMODEL_DB_PASSWORD": "s3cr#t", "TASKMODEL_DB_NAME": "other"},
			want: config.Database{Driver: "postgresql", URL: "postgres://u:p@urlhost:5433/db?sslmode=disable", Password: "s3cr#t", Name: "other"},
			url:  "postgres://u:s3cr%23t@urlhost:5433/other?sslmode=disable"},
		{name: "a flag URL beats everything",
			file: pgFile, env: map[string]string{"USER": "a", "TASKMODEL_DB_HOST": "envhost"}, flags: config.Database{URL: "sqlite:/tmp/x.db"},
			want: config.Database{Driver: "sqlite", URL: "sqlite:/tmp/x.db", Name: "/tmp/x.db"}},
		{name: "SQLite file relative to the configuration file",
			file: "database:\n  driver: sqlite\n  name: state/pipeline.db\n",
			want: config.Database{Driver: "sqlite", Name: "DIR/state/pipeline.db"}},
		{name: "SQLite file from the environment, relative to the working directory",
			env:  map[string]string{"TASKMODEL_DB_DRIVER": "sqlite", "TASKMODEL_DB_NAME": "p.db"},
			want: config.Database{Driver: "sqlite", Name: "WD/p.db"}},
		{name: "a host alone means PostgreSQL",
			env:  map[string]string{"TASKMODEL_DB_HOST": "db.internal"},
			want: config.Database{Driver: "postgresql", Host: "db.internal"},
			url:  "postgres://db.internal"},
		{name: "MySQL from the file",
			file: "database:\n  driver: mysql\n  host: db\n  port: 3307\n  name: tasks\n  user: app\n",
			want: config.Database{Driver: "mysql", Host: "db", Port: 3307, Name: "tasks", User: "app"},
			url:  "mysql://app@db:3307/tasks"},
		{name: "mariadb is the mysql driver; without a host, the server on this machine",
			env:  map[string]string{"TASKMODEL_DB_DRIVER": "MariaDB", "TASKMODEL_DB_NAME": "tasks"},
			want: config.Database{Driver: "mysql", Name: "tasks"},
			url:  "mysql:///tasks"},
		{name: "a mysql URL, its password refined",
			env:  map[string]string{"TASKMODEL_DATABASE_URL": "mysql://u:p@h:3306/db?timeout=5s", "TASKMODEL_DB_PASSWORD": "q"},
			want: config.Database{Driver: "mysql", URL: "mysql://u:p@h:3306/db?timeout=5s", Password: "q"},
			url:  "mysql://u:q@h:3306/db?timeout=5s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			wd := filepath.Join(root, "a", "b")
			if err := os.MkdirAll(wd, 0o755); err != nil {
				t.Fatal(err)
			}
			var file string
			if c.file != "" {
				file = write(t, root, c.file)
			}
			cfg, err := config.Load(config.Options{Dir: wd, LookupEnv: env(c.env), Flags: c.flags})
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			want.Name = strings.NewReplacer("DIR", root, "WD", wd).Replace(want.Name)
			if cfg.Database != want {
				t.Fatalf("got  %+v\nwant %+v", cfg.Database, want)
			}
			if cfg.File != file {
				t.Errorf("file %q, want %q", cfg.File, file)
			}
			if again, err := cfg.Database.Resolve(); err != nil || again != cfg.Database {
				t.Errorf("Resolve() = %+v, %v; want it unchanged", again, err)
			}
			if c.url != "" {
				u, err := cfg.Database.PostgresURL()
				if cfg.Database.Driver == config.MySQL {
					u, err = cfg.Database.MySQLURL()
				}
				if err != nil || u != c.url {
					t.Errorf("URL %q, %v; want %q", u, err, c.url)
				}
			}
			for k, v := range c.sources {
				if want := strings.ReplaceAll(v, "FILE", file); cfg.Sources[k] != want {
					t.Errorf("source of %s = %q, want %q", k, cfg.Sources[k], want)
				}
			}
		})
	}
}

func TestWalkUp(t *testing.T) {
	root := t.TempDir()
	outer := write(t, root, "database:\n  name: outer.db\n")
	inner := write(t, filepath.Join(root, "proj"), "database:\n  name: inner.db\n")
	deep := filepath.Join(root, "proj", "scripts", "stage1")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ dir, file string }{
		{deep, inner},
		{filepath.Join(root, "proj"), inner},
		{root, outer},
	}
	for _, c := range cases {
		got, err := config.Find(c.dir)
		if err != nil || got != c.file {
			t.Errorf("Find(%s) = %q, %v; want %q", c.dir, got, err, c.file)
		}
	}
	cfg, err := config.Load(config.Options{Dir: deep, LookupEnv: env(nil)})
	if err != nil || cfg.Database.Name != filepath.Join(root, "proj", "inner.db") {
		t.Fatalf("Load from %s: %+v, %v", deep, cfg, err)
	}
	// An explicit file skips the walk.
	cfg, err = config.Load(config.Options{Dir: deep, File: outer, LookupEnv: env(nil)})
	if err != nil || cfg.File != outer {
		t.Fatalf("Load(File: outer): %+v, %v", cfg, err)
	}
	if got, err := config.Find(t.TempDir()); err != nil || got != "" {
		t.Errorf("Find in an empty tree = %q, %v", got, err)
	}
}

func TestErrorsNameTheFileLineAndKey(t *testing.T) {
	cases := []struct {
		name  string
		file  string
		env   map[string]string
		flags config.Database
		want  string
	}{
		{"bad port in the file", "database:\n  host: h\n  port: fifty\n", nil, config.Database{}, `FILE:3: database.port: "fifty" is not a port number (1-65535)`},
		{"unknown key", "database:\n  hots: h\n", nil, config.Database{}, "FILE:2: database.hots: unknown key; allowed: url, driver, host"},
		{"unknown section", "databse:\n  host: h\n", nil, config.Database{}, "FILE:1: databse: unknown section; allowed: database"},
		{"unset variable", "database:\n  host: h\n  password: ${NOPE}\n", nil, config.Database{}, "FILE:3: database.password: ${NOPE} is not set; set it, or write ${NOPE:-default}"},
		{"name twice", "database:\n  name: a\n  dbname: b\n", nil, config.Database{}, "FILE:3: database.dbname: sets name again (first set at 2)"},
		{"a list value", "database:\n  host: [a, b]\n", nil, config.Database{}, "FILE:2: database.host: must be a single value"},
		{"not a mapping", "- database\n", nil, config.Database{}, "FILE:1: the file must be a mapping"},
		{"bad YAML", "database: [\n", nil, config.Database{}, "FILE: not valid YAML"},
		{"unknown driver", "database:\n  driver: oracle\n", nil, config.Database{}, `FILE:2: database.driver: unknown driver "oracle"; allowed: postgresql, mysql, sqlite`},
		{"schema with mysql", "database:\n  driver: mysql\n  schema: s\n", nil, config.Database{}, "FILE:3: database.schema: applies to PostgreSQL only; on MySQL a schema is a database: set name instead"},
		{"bad port in the environment", "", map[string]string{"TASKMODEL_DB_PORT": "99999"}, config.Database{}, `environment: TASKMODEL_DB_PORT: "99999" is not a port number`},
		{"unsupported URL scheme", "", map[string]string{"TASKMODEL_DATABASE_URL": "oracle://x"}, config.Database{}, `environment: TASKMODEL_DATABASE_URL: unsupported URL scheme "oracle"; use postgres://…, mysql://… or sqlite:PATH`},
		{"schema that is no name", "", map[string]string{"TASKMODEL_DATABASE_URL": "postgres://db/x", "TASKMODEL_DB_SCHEMA": "bad schema"}, config.Database{}, `environment: TASKMODEL_DB_SCHEMA: "bad schema" is not a schema name: letters, digits and _ (not first a digit), at most 63`},
		{"schema with SQLite", "", map[string]string{"TASKMODEL_DATABASE_URL": "sqlite:/tmp/x.db", "TASKMODEL_DB_SCHEMA": "s"}, config.Database{}, `environment: TASKMODEL_DB_SCHEMA: applies to PostgreSQL only, and the driver is sqlite (a PostgreSQL database URL or driver: postgresql uses it)`},
		{"schema without a database", "", nil, config.Database{Schema: "s"}, `flag: --db-schema: applies to PostgreSQL only, and the driver is sqlite (a PostgreSQL database URL or driver: postgresql uses it)`},
		{"URL without a scheme", "", map[string]string{"TASKMODEL_DATABASE_URL": "foo"}, config.Database{}, `environment: TASKMODEL_DATABASE_URL: not a database URL: it has no scheme; use postgres://…, mysql://… or sqlite:PATH`},
		{"a connection string with a password", "", map[string]string{"TASKMODEL_DATABASE_URL": "host=db user=app password=s3cret dbname=tasks"}, config.Database{}, `environment: TASKMODEL_DATABASE_URL: not a database URL: it has no scheme; use postgres://…, mysql://… or sqlite:PATH`},
		{"driver contradicts a mysql URL", "", map[string]string{"TASKMODEL_DB_DRIVER": "postgres", "TASKMODEL_DATABASE_URL": "mysql://h/db"}, config.Database{},
			"environment: TASKMODEL_DB_DRIVER: postgresql contradicts the mysql URL from environment TASKMODEL_DATABASE_URL"},
		{"driver contradicts URL", "", map[string]string{"TASKMODEL_DB_DRIVER": "sqlite", "TASKMODEL_DATABASE_URL": "postgres://h/db"}, config.Database{},
			"environment: TASKMODEL_DB_DRIVER: sqlite contradicts the postgresql URL from environment TASKMODEL_DATABASE_URL"},
		{"host with sqlite", "database:\n  driver: sqlite\n  host: h\n", nil, config.Database{}, "FILE:3: database.host: applies to PostgreSQL and MySQL only, and the driver is sqlite (set driver: postgresql or mysql)"},
		{"bad flag driver", "", nil, config.Database{Driver: "oracle"}, `flag: --db-driver: unknown driver "oracle"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var file string
			if c.file != "" {
				file = write(t, dir, c.file)
			}
			_, err := config.Load(config.Options{Dir: dir, LookupEnv: env(c.env), Flags: c.flags})
			var ce *config.Error
			want := strings.ReplaceAll(c.want, "FILE", file)
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v\nwant a *config.Error containing %q", err, want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	vars := env(map[string]string{"USER": "alice", "EMPTY": "", "A1_b": "x"})
	cases := []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"${USER}", "alice", ""},
		{"u=${USER}/${A1_b}", "u=alice/x", ""},
		{"${MISSING:-fallback}", "fallback", ""},
		{"${EMPTY:-fallback}", "fallback", ""},
		{"${EMPTY}", "", ""},
		{"$$USER and $$${USER}", "$USER and $alice", ""},
		{"cost $5, $HOME stays", "cost $5, $HOME stays", ""},
		{"trailing $", "trailing $", ""},
		{"${MISSING}", "", "${MISSING} is not set"},
		{"${USER", "", "unterminated ${"},
		{"${}", "", "is not a variable name"},
		{"${1X}", "", "is not a variable name"},
		{"${A-B}", "", "is not a variable name"},
	}
	for _, c := range cases {
		got, err := config.Expand(c.in, vars)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Expand(%q) = %q, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestStringHidesThePassword(t *testing.T) {
	cases := []struct {
		d    config.Database
		want string
	}{
		{config.Database{Driver: "postgresql", Host: "h", User: "u", Password: "hunter2", Schema: "s"}, "postgresql postgres://u:xxxxx@h schema s"},
		{config.Database{Driver: "mysql", Host: "h", Port: 3306, Name: "db", User: "u", Password: "hunter2"}, "mysql mysql://u:xxxxx@h:3306/db"},
		{config.Database{Driver: "mysql", URL: "mysql://u:hunter2@h/db"}, "mysql mysql://u:xxxxx@h/db"},
		{config.Database{Driver: "sqlite", Name: "/x/t.db"}, "sqlite /x/t.db"},
		// Unresolved values say the driver they resolve to.
		{config.Database{URL: "sqlite:/tmp/p.db"}, "sqlite /tmp/p.db"},
		{config.Database{URL: "postgres://u:hunter2@h/db"}, "postgresql postgres://u:xxxxx@h/db"},
		{config.Database{Host: "h", Password: "hunter2", User: "u"}, "postgresql postgres://u:xxxxx@h"},
		{config.Database{Driver: "postgres"}, "postgresql postgres://"},
		{config.Database{}, "sqlite /data/taskmodel/taskmodel.db"},
		{config.Database{Driver: "oracle"}, `database (not valid: database: Driver: unknown driver "oracle"; allowed: postgresql, mysql, sqlite)`},
	}
	t.Setenv("XDG_DATA_HOME", "/data")
	for _, c := range cases {
		if s := c.d.String(); s != c.want {
			t.Errorf("String() = %q, want %q", s, c.want)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/data")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   config.Database
		want config.Database
		err  string
	}{
		{name: "nothing: the default SQLite file",
			want: config.Database{Driver: "sqlite", Name: "/data/taskmodel/taskmodel.db"}},
		{name: "a PostgreSQL URL",
			in:   config.Database{URL: "postgres://u:p@h/db"},
			want: config.Database{Driver: "postgresql", URL: "postgres://u:p@h/db"}},
		{name: "a postgresql:// URL",
			in:   config.Database{URL: "postgresql://h/db"},
			want: config.Database{Driver: "postgresql", URL: "postgresql://h/db"}},
		{name: "a MySQL URL",
			in:   config.Database{URL: "mysql://root@127.0.0.1:3306/test"},
			want: config.Database{Driver: "mysql", URL: "mysql://root@127.0.0.1:3306/test"}},
		{name: "a SQLite URL gives the file",
			in:   config.Database{URL: "sqlite:/tmp/p.db"},
			want: config.Database{Driver: "sqlite", URL: "sqlite:/tmp/p.db", Name: "/tmp/p.db"}},
		{name: "a SQLite URL with the driver set",
			in:   config.Database{Driver: "sqlite", URL: "sqlite:/tmp/p.db"},
			want: config.Database{Driver: "sqlite", URL: "sqlite:/tmp/p.db", Name: "/tmp/p.db"}},
		{name: "a host: PostgreSQL",
			in:   config.Database{Host: "db", Port: 5433},
			want: config.Database{Driver: "postgresql", Host: "db", Port: 5433}},
		{name: "driver spellings",
			in:   config.Database{Driver: "MariaDB", Host: "db"},
			want: config.Database{Driver: "mysql", Host: "db"}},
		{name: "a relative SQLite file: against the working directory",
			in:   config.Database{Driver: "sqlite3", Name: "p.db"},
			want: config.Database{Driver: "sqlite", Name: filepath.Join(wd, "p.db")}},
		{name: "in memory",
			in:   config.Database{Driver: "sqlite", Name: ":memory:"},
			want: config.Database{Driver: "sqlite", Name: ":memory:"}},
		{name: "unknown driver", in: config.Database{Driver: "oracle"},
			err: `database: Driver: unknown driver "oracle"; allowed: postgresql, mysql, sqlite`},
		{name: "driver against the URL", in: config.Database{Driver: "mysql", URL: "postgres://h/db"},
			err: "database: Driver: mysql contradicts the postgresql URL from field URL"},
		{name: "negative port", in: config.Database{Host: "h", Port: -1},
			err: `database: Port: "-1" is not a port number (1-65535)`},
		{name: "unsupported scheme", in: config.Database{URL: "oracle://x"},
			err: `database: URL: unsupported URL scheme "oracle"; use postgres://…, mysql://… or sqlite:PATH`},
		{name: "a host with SQLite", in: config.Database{Driver: "sqlite", Host: "h"},
			err: "database: Host: applies to PostgreSQL and MySQL only"},
		{name: "a schema with MySQL", in: config.Database{URL: "mysql://h/db", Schema: "s"},
			err: "database: Schema: applies to PostgreSQL only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.in.Resolve()
			if c.err != "" {
				var ce *config.Error
				if err == nil || !strings.HasPrefix(err.Error(), c.err) || !errors.As(err, &ce) {
					t.Fatalf("Resolve() = %+v, %v; want the error %q", got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Resolve() = %+v, %v; want %+v", got, err, c.want)
			}
			again, err := got.Resolve()
			if err != nil || again != got {
				t.Errorf("resolving again = %+v, %v; want it unchanged", again, err)
			}
		})
	}
}
