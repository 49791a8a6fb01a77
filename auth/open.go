package auth

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/config"
)

// Open opens the database a configuration names (see package config), as
// sdk/pipeline.OpenStorage does — creating what is missing: the SQLite file
// and its directory, the PostgreSQL schema (a MySQL database must exist) —
// and returns a Store over it and the function that closes the database.
// It resolves db first (config's Database.Resolve), so a Database written
// directly, such as config.Database{URL: "sqlite:/srv/auth.db"}, opens what
// it names.
func Open(ctx context.Context, db config.Database) (Store, func() error, error) {
	db, err := db.Resolve()
	if err != nil {
		return nil, nil, err
	}
	switch db.Driver {
	case config.SQLite:
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
	case config.MySQL:
		dsn, err := db.MySQLURL()
		if err != nil {
			return nil, nil, fmt.Errorf("database %s: %w", db, err)
		}
		mdb, err := mysql.Open(ctx, dsn)
		if err != nil {
			return nil, nil, fmt.Errorf("database %s: %w", db, err)
		}
		st, err := NewMySQL(ctx, mdb)
		if err != nil {
			mdb.Close()
			return nil, nil, fmt.Errorf("database %s: %w", db, err)
		}
		return st, mdb.Close, nil
	}
	return nil, nil, fmt.Errorf("database driver %q: allowed: %s, %s, %s", db.Driver, config.PostgreSQL, config.MySQL, config.SQLite)
}

func openPostgres(ctx context.Context, db config.Database) (*pgxpool.Pool, error) {
	dsn, err := db.PostgresURL()
	if err != nil {
		return nil, err
	}
	cfg, err := postgres.SchemaConfig(ctx, dsn, db.Schema)
	if err != nil {
		return nil, err
	}
	return postgres.OpenConfig(ctx, cfg)
}
