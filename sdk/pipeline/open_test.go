package pipeline_test

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/config"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

// TestOpen opens each SQL engine from a configuration twice: the second
// open finds the first one's data and applies no migration again.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	schema := "p_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	cases := []struct {
		name string
		db   func(t *testing.T) config.Database
	}{
		{"sqlite in a new directory", func(t *testing.T) config.Database {
			return config.Database{Driver: config.SQLite, Name: filepath.Join(t.TempDir(), "new", "dir", "p.db")}
		}},
		{"postgres in a new schema", func(t *testing.T) config.Database {
			pgtest.Schema(t) // skips (or fails under CI) without a server
			t.Cleanup(func() {
				conn, err := pgx.Connect(ctx, pgtest.URL())
				if err == nil {
					conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
					conn.Close(ctx)
				}
			})
			return config.Database{Driver: config.PostgreSQL, URL: pgtest.URL(), Schema: schema}
		}},
		// A Database written directly is resolved as config.Load resolves one.
		{"sqlite from a URL alone", func(t *testing.T) config.Database {
			return config.Database{URL: "sqlite:" + filepath.Join(t.TempDir(), "p.db")}
		}},
		{"sqlite from a URL and the driver", func(t *testing.T) config.Database {
			return config.Database{Driver: "sqlite", URL: "sqlite:" + filepath.Join(t.TempDir(), "p.db")}
		}},
		{"sqlite from nothing: the default file", func(t *testing.T) config.Database {
			t.Setenv("XDG_DATA_HOME", t.TempDir())
			return config.Database{}
		}},
		{"postgres from a URL alone", func(t *testing.T) config.Database {
			pgtest.Schema(t)
			schema := "p_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
			t.Cleanup(func() {
				conn, err := pgx.Connect(ctx, pgtest.URL())
				if err == nil {
					conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
					conn.Close(ctx)
				}
			})
			return config.Database{URL: pgtest.URL(), Schema: schema}
		}},
		{"mysql from a URL alone", func(t *testing.T) config.Database {
			return config.Database{URL: mysqltest.Database(t)}
		}},
		{"mysql", func(t *testing.T) config.Database {
			return config.Database{Driver: config.MySQL, URL: mysqltest.Database(t)}
		}},
		{"mariadb from tasker's .tasker.yml", func(t *testing.T) config.Database {
			u, err := url.Parse(mysqltest.Database(t))
			if err != nil || u.Scheme != "mysql" {
				t.Skipf("TASKMODEL_TEST_MYSQL_URL is no mysql:// URL: %v", err)
			}
			yml := fmt.Sprintf("database:\n  driver: mariadb\n  host: %s\n  port: %s\n  dbname: %s\n  user: %s\n",
				u.Hostname(), cmp.Or(u.Port(), "3306"), strings.TrimPrefix(u.Path, "/"), u.User.Username())
			if pw, ok := u.User.Password(); ok {
				yml += fmt.Sprintf("  password: %q\n", pw)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, config.TaskerFileName), []byte(yml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(config.Options{Dir: dir, LookupEnv: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Database.Driver != config.MySQL {
				t.Fatalf("driver %q from %s", cfg.Database.Driver, yml)
			}
			return cfg.Database
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := c.db(t)
			for i := range 2 {
				tr, err := pipeline.Open(ctx, db)
				if err != nil {
					t.Fatalf("open %d: %v", i, err)
				}
				if i == 0 {
					if err := tr.RegisterTask(ctx, pipeline.Task{Stage: "S", Name: "T"}); err != nil {
						t.Fatal(err)
					}
				}
				tasks, err := tr.Tasks(ctx, "")
				tr.Close()
				if err != nil || len(tasks) != 1 {
					t.Fatalf("open %d: tasks %v, %v", i, tasks, err)
				}
			}
		})
	}
	for _, c := range []struct {
		db   config.Database
		want string
	}{
		{config.Database{Driver: "oracle"}, `database: Driver: unknown driver "oracle"; allowed: postgresql, mysql, sqlite`},
		{config.Database{URL: "postgres://h/db", Port: -1}, `database: Port: "-1" is not a port number (1-65535)`},
		{config.Database{URL: "sqlite:/tmp/p.db", Host: "h"}, "database: Host: applies to PostgreSQL and MySQL only"},
	} {
		if _, err := pipeline.OpenStorage(ctx, c.db); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("OpenStorage(%#v) = %v; want %q", c.db, err, c.want)
		}
	}
}
