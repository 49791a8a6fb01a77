package auth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/config"
)

// Open opens the database a configuration names (see package config), as
// sdk/pipeline.OpenStorage does — creating what is missing: the SQLite file
// and its directory, the PostgreSQL schema — and returns a Store over it
// and the function that closes the database.
func Open(ctx context.Context, db config.Database) (Store, func() error, error) {
	switch db.Driver {
	case config.SQLite:
		if db.Name != ":memory:" {
			if err := os.MkdirAll(filepath.Dir(db.Name), 0o755); err != nil {
				return nil, nil, fmt.Errorf("database %s: %w", db, err)
			}
		}
		sdb, err := sqlite.Open(ctx, db.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("database %s: %w", db, err)
		}
		st, err := NewSQLite(ctx, sdb)
		if err != nil {
			sdb.Close()
			return nil, nil, fmt.Errorf("database %s: %w", db, err)
		}
		return st, sdb.Close, nil
	case config.PostgreSQL:
		pool, err := openPostgres(ctx, db)
		if err != nil {
			return nil, nil, fmt.Errorf("database %s: %w", db, err)
		}
		st, err := NewPostgres(ctx, pool)
		if err != nil {
			pool.Close()
			return nil, nil, fmt.Errorf("database %s: %w", db, err)
		}
		return st, func() error { pool.Close(); return nil }, nil
	}
	return nil, nil, fmt.Errorf("database driver %q: allowed: %s, %s", db.Driver, config.PostgreSQL, config.SQLite)
}

func openPostgres(ctx context.Context, db config.Database) (*pgxpool.Pool, error) {
	dsn, err := db.PostgresURL()
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if db.Schema != "" {
		conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
		if err != nil {
			return nil, err
		}
		_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{db.Schema}.Sanitize())
		conn.Close(ctx)
		if err != nil {
			return nil, fmt.Errorf("create schema %s: %w", db.Schema, err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = db.Schema
	}
	return postgres.OpenConfig(ctx, cfg)
}
