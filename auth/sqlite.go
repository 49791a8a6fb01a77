package auth

import (
	"context"
	"database/sql"
	"errors"
	"time"

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
	return newStore(&sqliteTokens{db: db, stmts: sqlite.NewStmts(db)}), nil
}

type sqliteTokens struct {
	db    *sql.DB
	stmts *sqlite.Stmts // the lookup runs on every request: prepared once
}

const (
	sqliteInsert = `INSERT INTO taskmodel_token (id, user_name, admin, secret_hash, created_at, worker_models) VALUES (?, ?, ?, ?, ?, ?)`
	sqliteLookup = `SELECT id, user_name, admin, created_at, last_used_at, revoked_at, secret_hash, worker_models FROM taskmodel_token WHERE id = ?`
	sqliteTouch  = `UPDATE taskmodel_token SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?3)`
	sqliteList   = `SELECT id, user_name, admin, created_at, last_used_at, revoked_at, worker_models FROM taskmodel_token ORDER BY created_at, id`
	sqliteRevoke = `UPDATE taskmodel_token SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1`
)

func (s *sqliteTokens) insert(ctx context.Context, r record) error {
	_, err := s.db.ExecContext(ctx, sqliteInsert, r.ID, r.User, r.Admin, r.hash, r.CreatedAt, joinModels(r.Models))
	return err
}

func (s *sqliteTokens) lookup(ctx context.Context, id string) (record, bool, error) {
	var r record
	var used, revoked sql.NullTime
	var models *string
	err := s.stmts.QueryRowContext(ctx, sqliteLookup, id).Scan(&r.ID, &r.User, &r.Admin, &r.CreatedAt, &used, &revoked, &r.hash, &models)
	if errors.Is(err, sql.ErrNoRows) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, err
	}
	r.LastUsedAt, r.RevokedAt, r.Models = nullTime(used), nullTime(revoked), splitModels(models)
	r.CreatedAt = r.CreatedAt.UTC()
	return r, true, nil
}

func (s *sqliteTokens) touch(ctx context.Context, id string, at, stale time.Time) error {
	_, err := s.db.ExecContext(ctx, sqliteTouch, id, at, stale)
	return err
}

func (s *sqliteTokens) list(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, sqliteList)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		var used, revoked sql.NullTime
		var models *string
		if err := rows.Scan(&t.ID, &t.User, &t.Admin, &t.CreatedAt, &used, &revoked, &models); err != nil {
			return nil, err
		}
		t.CreatedAt, t.LastUsedAt, t.RevokedAt, t.Models = t.CreatedAt.UTC(), nullTime(used), nullTime(revoked), splitModels(models)
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *sqliteTokens) revoke(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, sqliteRevoke, id, at)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
