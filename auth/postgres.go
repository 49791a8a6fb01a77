package auth

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends/postgres"
)

// NewPostgres returns a Store over a PostgreSQL pool, after applying its
// migration (auth/0001_tokens) with postgres.Migrate, under its advisory
// lock: idempotent, so every process may call it at start. The Store does
// not close pool.
func NewPostgres(ctx context.Context, pool *pgxpool.Pool) (Store, error) {
	if err := postgres.Migrate(ctx, pool, Migrations(postgres.Engine)); err != nil {
		return nil, err
	}
	return newStore(&pgTokens{pool: pool}), nil
}

type pgTokens struct{ pool *pgxpool.Pool }

const (
	pgInsert = `INSERT INTO taskmodel_token (id, user_name, admin, secret_hash, created_at, worker_models) VALUES ($1, $2, $3, $4, $5, $6)`
	pgLookup = `SELECT id, user_name, admin, created_at, last_used_at, revoked_at, secret_hash, worker_models FROM taskmodel_token WHERE id = $1`
	pgTouch  = `UPDATE taskmodel_token SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)`
	pgList   = `SELECT id, user_name, admin, created_at, last_used_at, revoked_at, worker_models FROM taskmodel_token ORDER BY created_at, id`
	pgRevoke = `UPDATE taskmodel_token SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`
)

func (p *pgTokens) insert(ctx context.Context, r record) error {
	_, err := p.pool.Exec(ctx, pgInsert, r.ID, r.User, r.Admin, r.hash, r.CreatedAt, joinModels(r.Models))
	return err
}

func (p *pgTokens) lookup(ctx context.Context, id string) (record, bool, error) {
	var r record
	var models *string
	err := p.pool.QueryRow(ctx, pgLookup, id).Scan(&r.ID, &r.User, &r.Admin, &r.CreatedAt, &r.LastUsedAt, &r.RevokedAt, &r.hash, &models)
	if errors.Is(err, pgx.ErrNoRows) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, err
	}
	utc(&r.Token)
	r.Models = splitModels(models)
	return r, true, nil
}

func (p *pgTokens) touch(ctx context.Context, id string, at, stale time.Time) error {
	_, err := p.pool.Exec(ctx, pgTouch, id, at, stale)
	return err
}

func (p *pgTokens) list(ctx context.Context) ([]Token, error) {
	rows, err := p.pool.Query(ctx, pgList)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		var models *string
		if err := rows.Scan(&t.ID, &t.User, &t.Admin, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt, &models); err != nil {
			return nil, err
		}
		t.Models = splitModels(models)
		utc(&t)
		out = append(out, t)
	}
	return out, rows.Err()
}

func (p *pgTokens) revoke(ctx context.Context, id string, at time.Time) (bool, error) {
	tag, err := p.pool.Exec(ctx, pgRevoke, id, at)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}

// utc puts a token's times in UTC (pgx returns them in local time).
func utc(t *Token) {
	t.CreatedAt = t.CreatedAt.UTC()
	for _, p := range []**time.Time{&t.LastUsedAt, &t.RevokedAt} {
		if *p != nil {
			u := (**p).UTC()
			*p = &u
		}
	}
}
