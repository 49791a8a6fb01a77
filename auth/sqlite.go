package auth

import (
	"context"
	"database/sql"

	"github.com/taskmodel/taskmodel/backends/sqlite"
)

// NewSQLite returns a Store over a SQLite database opened by
// backends/sqlite.Open, after applying its migration (auth/0001_tokens)
// with sqlite.Migrate: idempotent, so every process may call it at start.
// The Store does not close db.
func NewSQLite(ctx context.Context, db *sql.DB) (Store, error) {
	if err := sqlite.Migrate(ctx, db, Migrations(sqlite.Engine)); err != nil {
		return nil, err
	}
	// The lookup runs on every request: prepared once.
	return newStore(&sqlTokens{db: db, queryRow: sqlite.NewStmts(db).QueryRowContext, matchedRows: true}), nil
}
