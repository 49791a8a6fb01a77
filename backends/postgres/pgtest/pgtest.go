// Package pgtest gives tests an isolated PostgreSQL schema on the real
// server. The server comes from TASKMODEL_TEST_DATABASE_URL, by default
// postgres://postgres@127.0.0.1:5432/test. When no server answers, tests
// skip with a loud message — except under CI=true, where they fail: CI never
// silently skips PostgreSQL.
//
// A test that stops or restarts the server starts a private one instead:
// StartCluster runs initdb and pg_ctl into a temporary directory.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultURL is the server tests use when TASKMODEL_TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns the test server's URL.
func URL() string {
	if u := os.Getenv("TASKMODEL_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Schema creates a fresh schema for the test, dropped when it ends, and
// returns a pool configuration whose connections use it as search path.
func Schema(t testing.TB) *pgxpool.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, URL())
	if err != nil {
		unavailable(t, fmt.Sprintf("PostgreSQL at %s does not answer: %v", URL(), err), "set TASKMODEL_TEST_DATABASE_URL to a server to run it")
	}
	defer conn.Close(ctx)
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, URL())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	cfg, err := pgxpool.ParseConfig(URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return cfg
}

// unavailable skips the test, loudly, because PostgreSQL cannot be had here
// (hint, when not empty, says how to get it) — or fails it under CI=true.
func unavailable(t testing.TB, msg, hint string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: PostgreSQL tests never skip)", msg)
	}
	if hint != "" {
		hint = "*** " + hint + " ***\n"
	}
	t.Skipf("\n\n*** SKIPPING POSTGRESQL TEST: %s ***\n%s", msg, hint)
}

// Autovacuum does for the tables what autovacuum does on a server with
// default settings, when the test server runs with autovacuum off (as this
// project's CI server does). Every 100 ms until the test ends it applies
// autovacuum's rules to each table: VACUUM once more than 50 + 20 % of its
// rows are dead, or once more than 1000 + 20 % were inserted since the last
// vacuum; ANALYZE once more than 50 + 10 % changed since the last analyze.
//
// Without statistics, or with statistics of the table when it was empty, the
// plans a session caches stay those of a tiny table (sequential scans) for
// as long as the session lives; without vacuum, a queue's indexes and pages
// fill with dead row versions that every claim steps over. A benchmark that
// grows a table from nothing would measure that instead of the code.
// Generated queries rely on both: production servers keep autovacuum on,
// PostgreSQL's default.
//
// A manual VACUUM is not throttled the way autovacuum is (its cost delay is
// 0 rather than 2 ms), so it finishes sooner and uses the CPU in bursts.
func Autovacuum(t testing.TB, pool *pgxpool.Pool, tables ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var on string
	if err := pool.QueryRow(ctx, `SELECT current_setting('autovacuum')`).Scan(&on); err != nil {
		cancel()
		t.Fatalf("autovacuum setting: %v", err)
	}
	if on == "on" {
		cancel()
		return
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, table := range tables {
				var vacuum, analyze bool
				err := pool.QueryRow(ctx, `SELECT
						n_dead_tup > 50 + 0.2 * greatest(c.reltuples, 0)
							OR n_ins_since_vacuum > 1000 + 0.2 * greatest(c.reltuples, 0),
						n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)
					FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
					WHERE s.schemaname = current_schema() AND s.relname = $1`, table).Scan(&vacuum, &analyze)
				switch {
				case err != nil:
				case vacuum && analyze:
					_, err = pool.Exec(ctx, "VACUUM (ANALYZE) "+pgx.Identifier{table}.Sanitize())
				case vacuum:
					_, err = pool.Exec(ctx, "VACUUM "+pgx.Identifier{table}.Sanitize())
				case analyze:
					_, err = pool.Exec(ctx, "ANALYZE "+pgx.Identifier{table}.Sanitize())
				}
				if err != nil && ctx.Err() == nil && !errors.Is(err, pgx.ErrNoRows) {
					t.Errorf("autovacuum %s: %v", table, err)
				}
			}
		}
	}()
}
