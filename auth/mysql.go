package auth

import (
	"context"
	"database/sql"
	"errors"
	"time"

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
	return newStore(&mysqlTokens{db: db}), nil
}

type mysqlTokens struct{ db *sql.DB }

const (
	mysqlInsert = `INSERT INTO taskmodel_token (id, user_name, admin, secret_hash, created_at, worker_models) VALUES (?, ?, ?, ?, ?, ?)`
	mysqlLookup = `SELECT id, user_name, admin, created_at, last_used_at, revoked_at, secret_hash, worker_models FROM taskmodel_token WHERE id = ?`
	mysqlTouch  = `UPDATE taskmodel_token SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`
	mysqlList   = `SELECT id, user_name, admin, created_at, last_used_at, revoked_at, worker_models FROM taskmodel_token ORDER BY created_at, id`
	mysqlRevoke = `UPDATE taskmodel_token SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`
)

func (m *mysqlTokens) insert(ctx context.Context, r record) error {
	_, err := m.db.ExecContext(ctx, mysqlInsert, r.ID, r.User, r.Admin, r.hash, r.CreatedAt, joinModels(r.Models))
	return err
}

func (m *mysqlTokens) lookup(ctx context.Context, id string) (record, bool, error) {
	var r record
	var used, revoked sql.NullTime
	var models *string
	err := m.db.QueryRowContext(ctx, mysqlLookup, id).Scan(&r.ID, &r.User, &r.Admin, &r.CreatedAt, &used, &revoked, &r.hash, &models)
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

func (m *mysqlTokens) touch(ctx context.Context, id string, at, stale time.Time) error {
	_, err := m.db.ExecContext(ctx, mysqlTouch, at, id, stale)
	return err
}

func (m *mysqlTokens) list(ctx context.Context) ([]Token, error) {
	rows, err := m.db.QueryContext(ctx, mysqlList)
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

// revoke reports whether the token exists. MySQL counts the rows a
// statement changed, not those it matched: a token revoked already is
// changed by nothing, so the count says nothing and existence is read.
func (m *mysqlTokens) revoke(ctx context.Context, id string, at time.Time) (bool, error) {
	if _, err := m.db.ExecContext(ctx, mysqlRevoke, at, id); err != nil {
		return false, err
	}
	var one int
	err := m.db.QueryRowContext(ctx, `SELECT 1 FROM taskmodel_token WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
