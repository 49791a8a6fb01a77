package auth

import (
	"context"
	"database/sql"

	"github.com/taskmodel/taskmodel/backends/mysql"
)

// NewMySQL returns a Store over a MySQL or MariaDB database opened by
// backends/mysql.Open, after applying its migrations (auth/0001_tokens,
// auth/0002_worker_tokens) with mysql.Migrate, under its named lock:
// idempotent, so every process may call it at start. The Store does not
// close db.
func NewMySQL(ctx context.Context, db *sql.DB) (Store, error) {
	if err := mysql.Migrate(ctx, db, Migrations(mysql.Engine)); err != nil {
		return nil, err
	}
	return newStore(&sqlTokens{db: db, queryRow: db.QueryRowContext}), nil
}
