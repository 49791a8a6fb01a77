package auth

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// sqlTokens is the token backend over database/sql, for SQLite and MySQL:
// the same statements run on both.
type sqlTokens struct {
	db *sql.DB
	// queryRow runs the lookup, which runs on every request (SQLite's
	// prepares it once).
	queryRow func(ctx context.Context, query string, args ...any) *sql.Row
	// matchedRows is true when the engine counts the rows an UPDATE
	// matched (SQLite), false when only those it changed (MySQL).
	matchedRows bool
}

const (
	sqlInsert = `INSERT INTO taskmodel_token (id, user_name, admin, secret_hash, created_at, worker_models) VALUES (?, ?, ?, ?, ?, ?)`
	sqlLookup = `SELECT id, user_name, admin, created_at, last_used_at, revoked_at, secret_hash, worker_models FROM taskmodel_token WHERE id = ?`
	sqlTouch  = `UPDATE taskmodel_token SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`
	sqlList   = `SELECT id, user_name, admin, created_at, last_used_at, revoked_at, worker_models FROM taskmodel_token ORDER BY created_at, id`
	sqlRevoke = `UPDATE taskmodel_token SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`
	sqlExists = `SELECT 1 FROM taskmodel_token WHERE id = ?`
)

func (s *sqlTokens) insert(ctx context.Context, r record) error {
	_, err := s.db.ExecContext(ctx, sqlInsert, r.ID, r.User, r.Admin, r.hash, r.CreatedAt, joinModels(r.Models))
	return err
}

func (s *sqlTokens) lookup(ctx context.Context, id string) (record, bool, error) {
	var r record
	var used, revoked sql.NullTime
	var models *string
	err := s.queryRow(ctx, sqlLookup, id).Scan(&r.ID, &r.User, &r.Admin, &r.CreatedAt, &used, &revoked, &r.hash, &models)
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

func (s *sqlTokens) touch(ctx context.Context, id string, at, stale time.Time) error {
	_, err := s.db.ExecContext(ctx, sqlTouch, at, id, stale)
	return err
}

func (s *sqlTokens) list(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, sqlList)
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

// revoke reports whether the token exists: from the count of rows the
// UPDATE matched where the engine gives it; else (a token revoked already
// is changed by nothing) by reading whether it exists.
func (s *sqlTokens) revoke(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, sqlRevoke, at, id)
	if err != nil {
		return false, err
	}
	if s.matchedRows {
		n, err := res.RowsAffected()
		return n > 0, err
	}
	var one int
	err = s.db.QueryRowContext(ctx, sqlExists, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
