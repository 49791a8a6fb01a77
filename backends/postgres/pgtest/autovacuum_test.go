package pgtest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestAutovacuumSettings: the emulation runs at the server's pace and with
// its thresholds, not at a pace of its own.
func TestAutovacuumSettings(t *testing.T) {
	ctx := context.Background()
	pool := schemaPool(t)
	set, err := readAutovacuumSettings(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	var naptime, scale, delay string
	if err := pool.QueryRow(ctx, `SELECT setting FROM pg_settings WHERE name = 'autovacuum_naptime'`).Scan(&naptime); err != nil {
		t.Fatal(err)
	}
	if secs, err := strconv.Atoi(naptime); err != nil || set.naptime != time.Duration(secs)*time.Second {
		t.Errorf("naptime %s, server says %s s", set.naptime, naptime)
	}
	if err := pool.QueryRow(ctx, `SELECT current_setting('autovacuum_vacuum_scale_factor'), current_setting('autovacuum_vacuum_cost_delay')`).Scan(&scale, &delay); err != nil {
		t.Fatal(err)
	}
	if want, err := strconv.ParseFloat(scale, 64); err != nil || set.vacScale != want {
		t.Errorf("vacuum scale factor %v, server says %v", set.vacScale, want)
	}
	if delay != "-1" && set.costDelay != delay {
		t.Errorf("cost delay %q, server says %q", set.costDelay, delay)
	}
	if set.costDelay == "-1" || set.costLimit == "-1" {
		t.Errorf("cost delay %q and limit %q: -1 should resolve to vacuum_cost_*", set.costDelay, set.costLimit)
	}
}

// TestAutovacuumVisit: one visit vacuums the table whose dead rows pass the
// threshold, analyzes the one whose changes do, leaves a quiet one alone,
// and hands its connection back unthrottled.
func TestAutovacuumVisit(t *testing.T) {
	ctx := context.Background()
	pool := schemaPool(t)
	set, err := readAutovacuumSettings(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE churned (n int)`,
		`CREATE TABLE quiet (n int)`,
		`INSERT INTO churned SELECT generate_series(1, 5000)`,
		`INSERT INTO quiet VALUES (1)`,
		`VACUUM ANALYZE churned, quiet`,
		`DELETE FROM churned WHERE n <= 4000`,
	} {
		// A session's counts reach the shared statistics when it next goes
		// idle after a forced flush: the inserts must count before the
		// vacuum, or they would count as inserted since it.
		if _, err := pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		t.Fatal(err)
	}
	counts := func(table string) (vacuums, analyzes int64) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT vacuum_count, analyze_count FROM pg_stat_user_tables
			WHERE schemaname = current_schema() AND relname = $1`, table).Scan(&vacuums, &analyzes); err != nil {
			t.Fatal(err)
		}
		return vacuums, analyzes
	}
	cv, ca := counts("churned")
	qv, qa := counts("quiet")
	if err := set.visit(ctx, pool, []string{"churned", "quiet", "missing"}); err != nil {
		t.Fatal(err)
	}
	if v, a := counts("churned"); v != cv+1 || a != ca+1 {
		t.Errorf("churned: %d vacuums and %d analyzes after the visit, want %d and %d", v, a, cv+1, ca+1)
	}
	if v, a := counts("quiet"); v != qv || a != qa {
		t.Errorf("quiet: %d vacuums and %d analyzes after the visit, want %d and %d", v, a, qv, qa)
	}
	var delay string
	if err := pool.QueryRow(ctx, `SELECT current_setting('vacuum_cost_delay')`).Scan(&delay); err != nil {
		t.Fatal(err)
	}
	if delay != "0" {
		t.Errorf("the pool's connection kept vacuum_cost_delay %s", delay)
	}
}

// schemaPool is a one-connection pool on a fresh schema.
func schemaPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	cfg := Schema(t)
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
