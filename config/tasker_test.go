package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/config"
)

// taskerExample is tasker's example configuration, as its users have it.
const taskerExample = `# tasker configuration
database:
  host: dbhost
  port: 5433
  dbname: geodb
  user: ${USER}
  password: ${TASKER_DB_PASSWORD}
  schema: tasker
  driver: postgresql

logging:
  console: true
  level: "INFO"
`

func writeTasker(t *testing.T, dir, content string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, config.TaskerFileName)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTaskerConfiguration: without a taskmodel configuration, Load reads
// tasker's (.tasker.yml up from the working directory, TASKER_DB_*), with
// tasker's defaults, says so in a note, and lets flags refine it; a
// taskmodel configuration wins over it entirely.
func TestTaskerConfiguration(t *testing.T) {
	cases := []struct {
		name     string
		tasker   string // .tasker.yml at the root, "" for none
		taskmod  string // .taskmodel.yml at the root, "" for none
		env      map[string]string
		flags    config.Database
		want     config.Database
		tasker2  bool // Config.Tasker
		file     string
		sources  map[string]string
		notes    []string // substrings of the notes, in order; "TFILE" is the .tasker.yml path
		url      string
		noteNone bool
	}{
		{name: "tasker's example file, password from the environment",
			tasker: taskerExample, env: map[string]string{"USER": "alice", "TASKER_DB_PASSWORD": "pw"},
			want:    config.Database{Driver: "postgresql", Host: "dbhost", Port: 5433, Name: "geodb", User: "alice", Password: "pw", Schema: "tasker"},
			tasker2: true, file: "TFILE",
			sources: map[string]string{"host": "TFILE:3", "name": "TFILE:5", "password": "environment TASKER_DB_PASSWORD"},
			notes:   []string{"no .taskmodel.yml and no TASKMODEL_* variables: using tasker's configuration (TFILE, TASKER_DB_PASSWORD); not used by taskmodel: logging"},
			url:     "postgres://alice:pw@dbhost:5433/geodb"},
		{name: "only a database name: tasker's defaults",
			tasker: "database:\n  dbname: geodb\n", env: map[string]string{"USER": "bob"},
			want:    config.Database{Driver: "postgresql", Host: "localhost", Port: 5432, Name: "geodb", User: "bob", Schema: "tasker"},
			tasker2: true, file: "TFILE",
			sources: map[string]string{"driver": "tasker default", "host": "tasker default", "port": "tasker default", "user": "tasker default", "schema": "tasker default"},
			url:     "postgres://bob@localhost:5432/geodb"},
		{name: "an unset variable leaves its key unset, as in tasker",
			tasker:  "database:\n  dbname: geodb\n  password: ${TASKER_DB_PASSWORD}\n  user: ${NOBODY}\n",
			want:    config.Database{Driver: "postgresql", Host: "localhost", Port: 5432, Name: "geodb", Schema: "tasker"},
			tasker2: true, file: "TFILE"},
		{name: "TASKER_DB_* alone",
			env: map[string]string{"TASKER_DB_HOST": "envhost", "TASKER_DB_PORT": "6000", "TASKER_DB_NAME": "db", "TASKER_DB_USER": "u",
				"TASKER_DB_PASSWORD": "p", "TASKER_DB_SCHEMA": "s", "TASKER_DB_DRIVER": "postgresql"},
			want:    config.Database{Driver: "postgresql", Host: "envhost", Port: 6000, Name: "db", User: "u", Password: "p", Schema: "s"},
			tasker2: true,
			sources: map[string]string{"host": "environment TASKER_DB_HOST", "schema": "environment TASKER_DB_SCHEMA"},
			notes:   []string{"(TASKER_DB_DRIVER, TASKER_DB_HOST, TASKER_DB_PORT, TASKER_DB_NAME, TASKER_DB_USER, TASKER_DB_PASSWORD, TASKER_DB_SCHEMA)"}},
		{name: "TASKER_DB_* over the file, key by key",
			tasker: taskerExample, env: map[string]string{"USER": "alice", "TASKER_DB_HOST": "envhost", "TASKER_DB_SCHEMA": "other"},
			want:    config.Database{Driver: "postgresql", Host: "envhost", Port: 5433, Name: "geodb", User: "alice", Schema: "other"},
			tasker2: true, file: "TFILE",
			sources: map[string]string{"host": "environment TASKER_DB_HOST", "port": "TFILE:4"}},
		{name: "flags over tasker's configuration",
			tasker: taskerExample, env: map[string]string{"USER": "alice"}, flags: config.Database{Schema: "flagged", Port: 7000},
			want:    config.Database{Driver: "postgresql", Host: "dbhost", Port: 7000, Name: "geodb", User: "alice", Schema: "flagged"},
			tasker2: true, file: "TFILE",
			sources: map[string]string{"schema": "flag --db-schema"}},
		{name: "tasker's SQLite: the file relative to .tasker.yml, no PostgreSQL defaults",
			tasker: "database:\n  driver: sqlite\n  dbname: state/tasker.db\n", env: map[string]string{"USER": "alice"},
			want:    config.Database{Driver: "sqlite", Name: "ROOT/state/tasker.db"},
			tasker2: true, file: "TFILE"},
		{name: "tasker's SQLite with a schema (tasker ignores it): not used, with a note",
			tasker: "database:\n  driver: sqlite\n  dbname: state/tasker.db\n  schema: tasker\n", env: map[string]string{"USER": "alice", "TASKER_DB_SCHEMA": "other"},
			want:    config.Database{Driver: "sqlite", Name: "ROOT/state/tasker.db"},
			tasker2: true, file: "TFILE",
			notes: []string{"using tasker's configuration", "the schema of tasker's configuration (environment TASKER_DB_SCHEMA) is not used with SQLite"}},
		{name: "tasker's MySQL: no PostgreSQL defaults",
			tasker: "database:\n  host: dbhost\n  dbname: geodb\n  user: ${USER}\n  driver: mysql\n", env: map[string]string{"USER": "alice"},
			want:    config.Database{Driver: "mysql", Host: "dbhost", Name: "geodb", User: "alice"},
			tasker2: true, file: "TFILE",
			url: "mysql://alice@dbhost/geodb"},
		{name: "TASKER_DB_DRIVER mariadb",
			env:     map[string]string{"TASKER_DB_DRIVER": "mariadb", "TASKER_DB_NAME": "geodb"},
			want:    config.Database{Driver: "mysql", Name: "geodb"},
			tasker2: true},
		{name: "unknown database keys are skipped and named",
			tasker: "database:\n  dbname: geodb\n  sslmode: require\n", env: map[string]string{"USER": "a"},
			want:    config.Database{Driver: "postgresql", Host: "localhost", Port: 5432, Name: "geodb", User: "a", Schema: "tasker"},
			tasker2: true, file: "TFILE",
			notes: []string{"using tasker's configuration (TFILE); not used by taskmodel: database.sslmode"}},
		{name: "a .taskmodel.yml wins: .tasker.yml is not read",
			tasker: taskerExample, taskmod: "database:\n  name: mine.db\n",
			want:     config.Database{Driver: "sqlite", Name: "ROOT/mine.db"},
			file:     "MFILE",
			noteNone: true},
		{name: "a TASKMODEL_* variable wins: tasker's configuration is not read",
			tasker: taskerExample, env: map[string]string{"TASKMODEL_DB_NAME": "/x/m.db", "TASKER_DB_HOST": "ignored"},
			want:     config.Database{Driver: "sqlite", Name: "/x/m.db"},
			noteNone: true},
		{name: "neither: the default SQLite file, no note",
			env:      map[string]string{"XDG_DATA_HOME": "/data"},
			want:     config.Database{Driver: "sqlite", Name: "/data/taskmodel/taskmodel.db"},
			noteNone: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			wd := filepath.Join(root, "scripts", "stage1")
			if err := os.MkdirAll(wd, 0o755); err != nil {
				t.Fatal(err)
			}
			var tfile, mfile string
			if c.tasker != "" {
				tfile = writeTasker(t, root, c.tasker)
			}
			if c.taskmod != "" {
				mfile = write(t, root, c.taskmod)
			}
			r := strings.NewReplacer("TFILE", tfile, "MFILE", mfile, "ROOT", root)
			cfg, err := config.Load(config.Options{Dir: wd, LookupEnv: env(c.env), Flags: c.flags})
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			want.Name = r.Replace(want.Name)
			if cfg.Database != want {
				t.Fatalf("got  %+v\nwant %+v", cfg.Database, want)
			}
			if cfg.Tasker != c.tasker2 || cfg.File != r.Replace(c.file) {
				t.Errorf("Tasker %v, File %q; want %v, %q", cfg.Tasker, cfg.File, c.tasker2, r.Replace(c.file))
			}
			for k, v := range c.sources {
				if cfg.Sources[k] != r.Replace(v) {
					t.Errorf("source of %s = %q, want %q", k, cfg.Sources[k], r.Replace(v))
				}
			}
			if c.noteNone && len(cfg.Notes) > 0 {
				t.Errorf("notes %q, want none", cfg.Notes)
			}
			if c.tasker2 && len(cfg.Notes) == 0 {
				t.Errorf("no note says tasker's configuration is used")
			}
			for i, n := range c.notes {
				if i >= len(cfg.Notes) || !strings.Contains(cfg.Notes[i], r.Replace(n)) {
					t.Errorf("notes %q, want [%d] to contain %q", cfg.Notes, i, r.Replace(n))
				}
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
		})
	}
}

// TestTaskerConfigurationErrors: what taskmodel cannot use of tasker's
// configuration is refused, naming the file, line and key, or the variable.
func TestTaskerConfigurationErrors(t *testing.T) {
	cases := []struct {
		name   string
		tasker string
		env    map[string]string
		want   string
	}{
		{"mysql with a schema in the file", "database:\n  dbname: d\n  driver: mysql\n  schema: tasker\n", nil,
			`TFILE:4: database.schema: applies to PostgreSQL only; on MySQL a schema is a database: set name instead`},
		{"unknown driver in the environment", "", map[string]string{"TASKER_DB_DRIVER": "oracle"},
			`environment: TASKER_DB_DRIVER: unknown driver "oracle"; allowed: postgresql, mysql, sqlite`},
		{"bad port in the environment", "", map[string]string{"TASKER_DB_PORT": "fifty"},
			`environment: TASKER_DB_PORT: "fifty" is not a port number (1-65535)`},
		{"bad port in the file", "database:\n  port: 0\n", nil, `TFILE:2: database.port: "0" is not a port number`},
		{"not YAML", "database: [\n", nil, "TFILE: not valid YAML"},
		{"host with sqlite", "database:\n  driver: sqlite\n  dbname: x.db\n  host: h\n", nil, "TFILE:4: database.host: applies to PostgreSQL and MySQL only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var tfile string
			if c.tasker != "" {
				tfile = writeTasker(t, dir, c.tasker)
			}
			_, err := config.Load(config.Options{Dir: dir, LookupEnv: env(c.env)})
			var ce *config.Error
			want := strings.ReplaceAll(c.want, "TFILE", tfile)
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v\nwant a *config.Error containing %q", err, want)
			}
		})
	}
}
