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
	DropSchemaAtEnd(t, schema)
	cfg, err := pgxpool.ParseConfig(URL())
	if err != nil {
		t.Fatal(err)
	}
	// Unquoted: the name is lower case, letters, digits and _, so it reads
	// the same quoted or not, and tests take it back from here as the name.
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return cfg
}

// DropSchemaAtEnd drops the schema named schema (exactly, case included),
// with everything in it, when the test ends, if it exists then.
func DropSchemaAtEnd(t testing.TB, schema string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, URL())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
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

// Autovacuum does for the tables what autovacuum does on a server with its
// settings, when the test server runs with autovacuum off (as this project's
// CI server does). Like autovacuum's launcher, it visits the test's database
// once every autovacuum_naptime (one minute by default), first one naptime
// after the test starts. On each visit it applies autovacuum's rules, with
// the server's thresholds and scale factors, to each table: VACUUM once more
// than autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor of its
// rows are dead, or once more than the insert threshold and scale factor
// were inserted since the last vacuum; ANALYZE once more than
// autovacuum_analyze_threshold + autovacuum_analyze_scale_factor changed
// since the last analyze. Its VACUUM and ANALYZE are throttled as
// autovacuum's are (autovacuum_vacuum_cost_delay and _cost_limit), where a
// manual one runs unthrottled.
//
// Without statistics, or with statistics of the table when it was empty, the
// plans a session caches stay those of a tiny table (sequential scans) until
// the table is analyzed; without vacuum, a queue's indexes and pages fill
// with dead row versions that every claim steps over. A long benchmark that
// grows a table from nothing would measure that instead of the code: a
// server with autovacuum on (PostgreSQL's default) does not. A short one
// sees neither on a real server, nor here: an earlier version that checked
// every 100 ms, 600 times a default server's pace, spent about a quarter of
// the server's CPU on ANALYZE in the worker benchmarks.
func Autovacuum(t testing.TB, pool *pgxpool.Pool, tables ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	set, err := readAutovacuumSettings(ctx, pool)
	if err != nil {
		cancel()
		t.Fatalf("autovacuum settings: %v", err)
	}
	if set.on == "on" {
		cancel()
		return
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(set.naptime)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := set.visit(ctx, pool, tables); err != nil && ctx.Err() == nil {
				t.Errorf("autovacuum: %v", err)
			}
		}
	}()
}

// readAutovacuumSettings reads the server's autovacuum settings.
func readAutovacuumSettings(ctx context.Context, pool *pgxpool.Pool) (*avSettings, error) {
	var set avSettings
	var naptime float64
	err := pool.QueryRow(ctx, `SELECT current_setting('autovacuum'),
			extract(epoch FROM current_setting('autovacuum_naptime')::interval)::float8,
			current_setting('autovacuum_vacuum_threshold')::float8,
			current_setting('autovacuum_vacuum_scale_factor')::float8,
			current_setting('autovacuum_vacuum_insert_threshold')::float8,
			current_setting('autovacuum_vacuum_insert_scale_factor')::float8,
			current_setting('autovacuum_analyze_threshold')::float8,
			current_setting('autovacuum_analyze_scale_factor')::float8,
			CASE WHEN current_setting('autovacuum_vacuum_cost_delay') = '-1' THEN current_setting('vacuum_cost_delay')
				ELSE current_setting('autovacuum_vacuum_cost_delay') END,
			CASE WHEN current_setting('autovacuum_vacuum_cost_limit') = '-1' THEN current_setting('vacuum_cost_limit')
				ELSE current_setting('autovacuum_vacuum_cost_limit') END`).Scan(
		&set.on, &naptime, &set.vacThreshold, &set.vacScale, &set.insThreshold, &set.insScale,
		&set.anaThreshold, &set.anaScale, &set.costDelay, &set.costLimit)
	if err != nil {
		return nil, err
	}
	set.naptime = time.Duration(naptime * float64(time.Second))
	if set.naptime <= 0 {
		return nil, fmt.Errorf("autovacuum_naptime %v is not positive", set.naptime)
	}
	return &set, nil
}

// avSettings are the server's autovacuum settings.
type avSettings struct {
	on                     string
	naptime                time.Duration
	vacThreshold, vacScale float64
	insThreshold, insScale float64
	anaThreshold, anaScale float64
	costDelay, costLimit   string
}

// visit applies autovacuum's rules to the tables once, on a connection
// throttled as an autovacuum worker is.
func (s *avSettings) visit(ctx context.Context, pool *pgxpool.Pool, tables []string) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT set_config('vacuum_cost_delay', $1, false), set_config('vacuum_cost_limit', $2, false)", s.costDelay, s.costLimit); err != nil {
		return err
	}
	// Leave the pooled connection as it was found, or close it.
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), "RESET vacuum_cost_delay; RESET vacuum_cost_limit"); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) //nolint:errcheck // the pool drops a closed connection
		}
	}()
	for _, table := range tables {
		var vacuum, analyze bool
		err := conn.QueryRow(ctx, `SELECT
				n_dead_tup > $2 + $3 * greatest(c.reltuples, 0)
					OR n_ins_since_vacuum > $4 + $5 * greatest(c.reltuples, 0),
				n_mod_since_analyze > $6 + $7 * greatest(c.reltuples, 0)
			FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
			WHERE s.schemaname = current_schema() AND s.relname = $1`,
			table, s.vacThreshold, s.vacScale, s.insThreshold, s.insScale, s.anaThreshold, s.anaScale).Scan(&vacuum, &analyze)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		name := pgx.Identifier{table}.Sanitize()
		switch {
		case vacuum && analyze:
			_, err = conn.Exec(ctx, "VACUUM (ANALYZE) "+name)
		case vacuum:
			_, err = conn.Exec(ctx, "VACUUM "+name)
		case analyze:
			_, err = conn.Exec(ctx, "ANALYZE "+name)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}
