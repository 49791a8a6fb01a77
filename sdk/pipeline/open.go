package pipeline

import (
	"context"
	"fmt"

	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/config"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/mysqlstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/pgstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/sqlitestore"
)

// Open opens the database a configuration names (see package config) and
// returns a Tracker over it; Close closes the database. db may come from
// config.Load or be written directly: Open resolves it (config's
// Database.Resolve), so config.Database{URL: "postgres://…"} is PostgreSQL,
// config.Database{URL: "sqlite:/tmp/p.db"} that SQLite file, and the zero
// Database the default SQLite file.
func Open(ctx context.Context, db config.Database, opts ...Option) (*Tracker, error) {
	st, err := OpenStorage(ctx, db)
	if err != nil {
		return nil, err
	}
	return New(st, opts...), nil
}

// OpenStorage opens the database a configuration names, creating what is
// missing (the SQLite file and its directory, the PostgreSQL schema) and
// applying the migrations. A MySQL or MariaDB database must exist. It
// resolves db as Open does.
func OpenStorage(ctx context.Context, db config.Database) (storage.Storage, error) {
	db, err := db.Resolve()
	if err != nil {
		return nil, err
	}
	switch db.Driver {
	case config.SQLite:
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
	case config.MySQL:
		st, err := openMySQL(ctx, db)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", db, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("database driver %q: allowed: %s, %s, %s", db.Driver, config.PostgreSQL, config.MySQL, config.SQLite)
}

func openPostgres(ctx context.Context, db config.Database) (storage.Storage, error) {
	dsn, err := db.PostgresURL()
	if err != nil {
		return nil, err
	}
	cfg, err := postgres.SchemaConfig(ctx, dsn, db.Schema)
	if err != nil {
		return nil, err
	}
	return pgstore.Open(ctx, cfg)
}

func openMySQL(ctx context.Context, db config.Database) (storage.Storage, error) {
	dsn, err := db.MySQLURL()
	if err != nil {
		return nil, err
	}
	return mysqlstore.OpenURL(ctx, dsn)
}
