package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/config"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/pgstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/sqlitestore"
)

// Open opens the database a configuration names (see package config) and
// returns a Tracker over it; Close closes the database.
func Open(ctx context.Context, db config.Database, opts ...Option) (*Tracker, error) {
	st, err := OpenStorage(ctx, db)
	if err != nil {
		return nil, err
	}
	return New(st, opts...), nil
}

// OpenStorage opens the database a configuration names, creating what is
// missing (the SQLite file and its directory, the PostgreSQL schema) and
// applying the migrations.
func OpenStorage(ctx context.Context, db config.Database) (storage.Storage, error) {
	switch db.Driver {
	case config.SQLite:
		if db.Name != ":memory:" {
			if err := os.MkdirAll(filepath.Dir(db.Name), 0o755); err != nil {
				return nil, fmt.Errorf("database %s: %w", db, err)
			}
		}
		st, err := sqlitestore.Open(ctx, db.Name)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", db, err)
		}
		return st, nil
	case config.PostgreSQL:
		st, err := openPostgres(ctx, db)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", db, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("database driver %q: allowed: %s, %s", db.Driver, config.PostgreSQL, config.SQLite)
}

func openPostgres(ctx context.Context, db config.Database) (storage.Storage, error) {
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
	return pgstore.Open(ctx, cfg)
}
