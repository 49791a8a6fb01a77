// Package postgres opens the PostgreSQL backend: a pgx/v5 pool from a DSN,
// with the models' migrations applied under an advisory lock so that any
// number of processes may start at once.
//
// Each generated model has a Driver over the pool in gen/<model>/pgdb:
//
//	pool, err := postgres.Open(ctx, dsn, analysis.Migrations(postgres.Engine))
//	store := backends.NewStore[analysis.Task, analysis.Event](pgdb.NewDriver(pool))
//
// The pool's connections use plan_cache_mode=force_generic_plan unless the
// DSN sets it: every query taskmodel generates has a fixed shape, and the
// unified listing (one branch per model and status, each gated by a
// parameter-only condition) costs more to plan than to run — with custom
// plans each call spent about 1.5 ms planning it over 1,000,000 tasks.
//
// A session makes a generic plan with the statistics of the moment and keeps
// it until PostgreSQL invalidates it (an ANALYZE, a VACUUM, a schema change).
// Keep autovacuum on, PostgreSQL's default: with it off and no ANALYZE, the
// plans made while a table was empty (sequential scans) stay for as long as
// the sessions live, and a worker that measured 2,845 tasks/s over 100,000
// tasks did 379. Autovacuum visits a database once a minute
// (autovacuum_naptime), so a table that fills from empty within that minute
// runs on such plans until then; generated drivers therefore run their
// claims and periodic statements through Replanned, which plans them anew
// every second (ReplanEvery). (pgtest.Autovacuum stands in for autovacuum, at its pace, in
// this project's tests, whose server runs without it.)
//
// Change streams (Notifier) need the migrations 0003_changes and
// 0004_listen_gate of each model, which generated Migrations include.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Engine is the engine name generated Migrations functions take.
const Engine = "postgresql"

// migrationLock is the advisory lock key migrations hold ("taskmodel" in ASCII, truncated).
const migrationLock int64 = 0x7461736b6d6f64

// Open connects a pool to dsn and applies migrations.
func Open(ctx context.Context, dsn string, migrations ...[]tasktype.Migration) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return OpenConfig(ctx, cfg, migrations...)
}

// OpenConfig is Open with a parsed pool configuration (tests set the search
// path through it). It sets plan_cache_mode to force_generic_plan unless the
// configuration sets it, and registers RegisterUUID and RegisterArrays on
// every connection.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config, migrations ...[]tasktype.Migration) (*pgxpool.Pool, error) {
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	registerTypesOnConnect(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	var all []tasktype.Migration
	for _, m := range migrations {
		all = append(all, m...)
	}
	if err := Migrate(ctx, pool, all); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS taskmodel_migrations (
    name text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies the migrations not applied yet, each in a transaction,
// while holding a session advisory lock; it fails if an applied migration's
// SQL has changed since.
//
// A CHECK a migration adds NOT VALID is validated after the commit, and at
// every later start while it is not. When stored rows break it (a program
// of the earlier spec wrote them while the migration ran, after its data
// check), Migrate does not fail: it logs a warning with slog.Default that
// names the rule, how many rows break it, an example task and the SQL that
// finds them, and the constraint, unvalidated, still refuses new rows and
// changes that break it.
func Migrate(ctx context.Context, pool *pgxpool.Pool, migrations []tasktype.Migration) error {
	return MigrateReport(ctx, pool, migrations, nil)
}

// MigrateReport is Migrate calling report, when not nil, after each
// migration it applied itself (not those applied before, by it or another
// process), with the time the migration took, its validation included.
func MigrateReport(ctx context.Context, pool *pgxpool.Pool, migrations []tasktype.Migration, report func(m tasktype.Migration, took time.Duration)) (err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer func() {
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock); uerr != nil && err == nil {
			err = uerr
		}
	}()
	for _, table := range []string{migrationsTable, leasesTable, listenersTable} {
		if _, err := conn.Exec(ctx, table); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	applied, err := applied(ctx, conn.Conn())
	if err != nil {
		return err
	}
	if err := tasktype.CheckApplied(migrations, applied); err != nil {
		return err
	}
	v := newValidations()
	var now []string // applied by this run: a refusal after them says so
	for _, m := range migrations {
		if _, ok := applied[m.Name]; ok {
			continue // CheckApplied compared its checksum
		}
		start := time.Now()
		done, err := apply(ctx, conn.Conn(), m, v)
		if done && report != nil { // committed, even when a validation then failed
			report(m, time.Since(start))
		}
		if err != nil {
			return tasktype.RefusedAfter(err, now)
		}
		if done {
			now = append(now, m.Name)
		}
	}
	return v.pending(ctx, conn.Conn(), migrations)
}

// Applied returns the migrations the database has applied, by name, with
// their checksums.
func Applied(ctx context.Context, pool *pgxpool.Pool) (map[string]string, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, migrationsTable); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return applied(ctx, conn.Conn())
}

func applied(ctx context.Context, conn *pgx.Conn) (map[string]string, error) {
	rows, err := conn.Query(ctx, `SELECT name, checksum FROM taskmodel_migrations`)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	out := map[string]string{}
	var name, sum string
	_, err = pgx.ForEachRow(rows, []any{&name, &sum}, func() error {
		out[name] = sum
		return nil
	})
	return out, err
}

// AppliedMigrations returns the migrations the database has applied, in
// name order, with when each was applied. Unlike Migrate and Applied it
// writes nothing (it also works in a read-only transaction or session):
// a schema never migrated (without the bookkeeping table, or missing) has
// applied none.
func AppliedMigrations(ctx context.Context, pool *pgxpool.Pool) ([]tasktype.AppliedMigration, error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('taskmodel_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := pool.Query(ctx, `SELECT name, checksum, applied_at FROM taskmodel_migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (tasktype.AppliedMigration, error) {
		var a tasktype.AppliedMigration
		var at *time.Time
		err := row.Scan(&a.Name, &a.Checksum, &at)
		if at != nil {
			a.AppliedAt = *at
		}
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return out, nil
}

// apply applies m unless the database has applied it already, and says
// whether it did.
func apply(ctx context.Context, conn *pgx.Conn, m tasktype.Migration, v *validations) (bool, error) {
	parts, err := m.Parts()
	if err != nil {
		return false, err
	}
	want := m.Checksum()
	var applied string
	err = conn.QueryRow(ctx, `SELECT checksum FROM taskmodel_migrations WHERE name = $1`, m.Name).Scan(&applied)
	switch {
	case err == nil:
		if applied != want {
			return false, &tasktype.ChangedMigrationError{Migration: m.Name, Applied: applied, Program: want}
		}
		return false, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return false, err
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var broken []tasktype.BrokenCheck
		for _, c := range parts.Checks {
			var n int64
			var example *string
			if err := tx.QueryRow(ctx, c.Query).Scan(&n, &example); err != nil {
				return fmt.Errorf("postgres: migration %s: check of %s: %w", m.Name, c.Subject, err)
			}
			if n > 0 {
				broken = append(broken, tasktype.BrokenCheck{Check: c, Count: n, Example: backends.Deref(example)})
			}
		}
		if err := tasktype.RefuseMigration(m.Name, broken); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, parts.Body); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO taskmodel_migrations (name, checksum) VALUES ($1, $2)`, m.Name, want)
		return err
	})
	if err != nil {
		return false, err
	}
	for _, stmt := range parts.Validate {
		if err := v.run(ctx, conn, m, parts.Checks, stmt); err != nil {
			return true, err
		}
	}
	return true, nil
}

// pending validates the constraints a migration added NOT VALID and
// whose validation did not run (the process stopped after the migration
// committed) or failed (stored rows break them: see validations), each by
// the newest of migrations that validates it.
func (v *validations) pending(ctx context.Context, conn *pgx.Conn, migrations []tasktype.Migration) error {
	rows, err := conn.Query(ctx, `SELECT conrelid::regclass::text || '.' || conname FROM pg_constraint
		WHERE NOT convalidated AND connamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())`)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	pending, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(pending) == 0 {
		return err
	}
	for _, m := range slices.Backward(migrations) {
		parts, err := m.Parts()
		if err != nil {
			return err
		}
		for _, stmt := range parts.Validate {
			table, constraint, ok := validateStatement(stmt)
			if !ok || !slices.Contains(pending, table+"."+constraint) {
				continue
			}
			pending = slices.DeleteFunc(pending, func(p string) bool { return p == table+"."+constraint })
			if err := v.run(ctx, conn, m, parts.Checks, stmt); err != nil {
				return err
			}
		}
	}
	return nil
}

// SchemaConfig parses dsn into a pool configuration whose connections use
// schema as their search path, creating the schema if it is missing; an
// empty schema leaves the DSN's own search path. The name is taken exactly
// as written, case included: "Tasks" is the schema "Tasks", not tasks.
// Open the pool with OpenConfig.
func SchemaConfig(ctx context.Context, dsn, schema string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if schema == "" {
		return cfg, nil
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	// CREATE SCHEMA IF NOT EXISTS wants CREATE on the database even when
	// the schema exists: a role that may only use the schema looks first.
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look up schema %s: %w", schema, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return nil, fmt.Errorf("create schema %s: %w", schema, err)
		}
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = SearchPath(schema)
	return cfg, nil
}

// SearchPath is the search_path setting that names schema exactly: quoted,
// so that PostgreSQL keeps its case (an unquoted ReviewMixed would be the
// schema reviewmixed) and takes a keyword (user) as a name.
func SearchPath(schema string) string {
	return pgx.Identifier{schema}.Sanitize()
}
