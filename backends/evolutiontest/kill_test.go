package evolutiontest_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/tasktype"
)

// killChild is set in the process TestMigrationKilledHalfway starts: it
// applies the migrations in the file it names and is killed on the way.
const killChild = "TASKMODEL_EVOLUTION_KILL_CHILD"

// TestMigrationKilledHalfway kills (SIGKILL) a process in the middle of a
// migration's body, after the statements that move tasks, rebuild the
// tables (SQLite) and replace the constraints (PostgreSQL) ran: the
// database keeps its old schema and rows, and the same migration applies
// afterwards, leaving the schema a fresh database has. On MySQL, which
// commits each schema change as it runs, TestMySQLMovesWrittenOnce repeats
// the statements a killed start ran.
func TestMigrationKilledHalfway(t *testing.T) {
	if os.Getenv(killChild) != "" {
		applyInChild(t)
		return
	}
	mod := newModule(t)
	if out, err := mod.generate(t, filepath.Join(casesDir, "base.yaml")); err != nil {
		t.Fatalf("taskgen: %v\n%s", err, out)
	}
	v1 := map[string][]tasktype.Migration{}
	for _, e := range []string{sqlite.Engine, postgres.Engine} {
		v1[e] = mod.migrations(t, e)
	}
	if out, err := mod.generate(t, filepath.Join(casesDir, "retire_status", "v2.yaml")); err != nil {
		t.Fatalf("taskgen: %v\n%s", err, out)
	}
	fresh := newModule(t)
	if out, err := fresh.generate(t, filepath.Join(casesDir, "retire_status", "v2.yaml")); err != nil {
		t.Fatalf("taskgen: %v\n%s", err, out)
	}
	for _, e := range []string{sqlite.Engine, postgres.Engine} {
		t.Run(e, func(t *testing.T) {
			ctx := context.Background()
			all := mod.migrations(t, e)
			slow := append([]tasktype.Migration(nil), all...)
			last := &slow[len(slow)-1]
			// A statement that takes far longer than the wait below, after
			// the rest of the body ran.
			stall := "SELECT pg_sleep(60);\n"
			if e == sqlite.Engine {
				stall = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10000000000) SELECT count(*) FROM c;\n"
			}
			if i := strings.Index(last.SQL, "\n"+tasktype.MarkerValidate); i >= 0 {
				last.SQL = last.SQL[:i+1] + stall + last.SQL[i+1:]
			} else {
				last.SQL += stall
			}
			var d db
			env := []string{killChild + "=" + e}
			if e == sqlite.Engine {
				path := filepath.Join(t.TempDir(), "tasks.db")
				sd, err := sqlite.Open(ctx, path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { sd.Close() })
				d = sqliteDB{sqlDB{sd}}
				env = append(env, "TASKMODEL_EVOLUTION_DB="+path)
			} else {
				cfg := pgtest.Schema(t)
				pool, err := postgres.OpenConfig(ctx, cfg.Copy())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(pool.Close)
				d = pgDB{pool}
				env = append(env, "TASKMODEL_EVOLUTION_DB="+pgtest.URL(), "TASKMODEL_EVOLUTION_SCHEMA="+cfg.ConnConfig.RuntimeParams["search_path"])
			}
			if err := d.migrate(ctx, v1[e]); err != nil {
				t.Fatal(err)
			}
			seed(t, e, d, true)
			before := snapshot(t, d)

			file := filepath.Join(t.TempDir(), "migrations.json")
			data, _ := json.Marshal(slow)
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestMigrationKilledHalfway$")
			cmd.Env = append(append(os.Environ(), env...), "TASKMODEL_EVOLUTION_MIGRATIONS="+file)
			out, err := os.Create(filepath.Join(t.TempDir(), "child.log"))
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			stalled := waitForStall(t, ctx, e, d)
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if !stalled {
				log, _ := os.ReadFile(out.Name())
				t.Fatalf("the child never reached the stall:\n%s", log)
			}
			if e == postgres.Engine {
				// The server ends the killed client's session and rolls back.
				waitForSessionsGone(t, ctx, d.(pgDB).Pool)
			}
			if after := snapshot(t, d); after.text != before.text {
				t.Fatalf("a killed migration changed the database:\n%s", backendtest.DiffCatalogs(before.text, after.text))
			}
			if err := d.migrate(ctx, all); err != nil {
				t.Fatalf("the migration after the kill: %v", err)
			}
			f := openDB(t, e)
			if err := f.migrate(ctx, fresh.migrations(t, e)); err != nil {
				t.Fatal(err)
			}
			want, _ := f.catalog(ctx)
			got, _ := d.catalog(ctx)
			if diff := backendtest.DiffCatalogs(want, got); diff != "" {
				t.Errorf("after the kill and the migration, the schema differs from a fresh one:\n%s", diff)
			}
		})
	}
}

// waitForStall reports whether the child reached the stalling statement
// within 60 s: on PostgreSQL its session sleeps in pg_sleep; on SQLite it
// has held the write lock for over a second (the migrations before the
// last one are applied already, and the body before the stall takes
// milliseconds).
func waitForStall(t *testing.T, ctx context.Context, engine string, d db) bool {
	deadline := time.Now().Add(60 * time.Second)
	locked := 0
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		if engine == postgres.Engine {
			rows, err := d.rows(ctx, "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'evolution-kill-child' AND wait_event = 'PgSleep'")
			if err == nil && rows[0]["n"] != "0" {
				return true
			}
			continue
		}
		if writeLocked(ctx, d.(sqliteDB).DB) {
			locked++
		} else {
			locked = 0
		}
		if locked >= 6 {
			return true
		}
	}
	return false
}

// writeLocked reports whether another connection holds SQLite's write lock.
func writeLocked(ctx context.Context, db *sql.DB) bool {
	conn, err := db.Conn(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return false
	}
	defer conn.ExecContext(ctx, "PRAGMA busy_timeout = 10000")
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "busy")
	}
	conn.ExecContext(ctx, "ROLLBACK")
	return false
}

func waitForSessionsGone(t *testing.T, ctx context.Context, pool *pgxpool.Pool) {
	for range 100 {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'evolution-kill-child'").Scan(&n); err == nil && n == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the killed client's session is still there after 10 s")
}

// applyInChild applies the migrations of the file the parent wrote.
func applyInChild(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile(os.Getenv("TASKMODEL_EVOLUTION_MIGRATIONS"))
	if err != nil {
		t.Fatal(err)
	}
	var ms []tasktype.Migration
	if err := json.Unmarshal(data, &ms); err != nil {
		t.Fatal(err)
	}
	if os.Getenv(killChild) == sqlite.Engine {
		d, err := sqlite.Open(ctx, os.Getenv("TASKMODEL_EVOLUTION_DB"))
		if err != nil {
			t.Fatal(err)
		}
		err = sqlite.Migrate(ctx, d, ms)
		t.Fatalf("the migration ended before it was killed: %v", err)
	}
	cfg, err := pgxpool.ParseConfig(os.Getenv("TASKMODEL_EVOLUTION_DB"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = os.Getenv("TASKMODEL_EVOLUTION_SCHEMA")
	cfg.ConnConfig.RuntimeParams["application_name"] = "evolution-kill-child"
	// The server notices the killed client while its statement runs (as it
	// would at the next exchange), and rolls its transaction back.
	cfg.ConnConfig.RuntimeParams["client_connection_check_interval"] = "100"
	pool, err := postgres.OpenConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = postgres.Migrate(ctx, pool, ms)
	t.Fatalf("the migration ended before it was killed: %v", err)
}
