package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/taskmodel/taskmodel/backends"
)

const leasesTable = `CREATE TABLE IF NOT EXISTS taskmodel_leases (
    name text PRIMARY KEY,
    owner text NOT NULL,
    expires_at timestamptz NOT NULL
)`

// Leases are backends.Leases shared by every process using the database.
type Leases struct{ pool *pgxpool.Pool }

var _ backends.Leases = (*Leases)(nil)

// NewLeases returns the leases of a pool opened by Open.
func NewLeases(pool *pgxpool.Pool) *Leases { return &Leases{pool: pool} }

// Acquire implements backends.Leases: one upsert that only takes the row
// over when the owner is the same or the lease has expired.
func (l *Leases) Acquire(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	var got string
	err := l.pool.QueryRow(ctx, `INSERT INTO taskmodel_leases (name, owner, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
		WHERE taskmodel_leases.owner = excluded.owner OR taskmodel_leases.expires_at <= $4
		RETURNING owner`, name, owner, now.Add(ttl), now).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if errors.Is(err, puddle.ErrClosedPool) {
		return false, closedPool(err)
	}
	return err == nil, err
}

// Release implements backends.Leases.
func (l *Leases) Release(ctx context.Context, name, owner string) error {
	_, err := l.pool.Exec(ctx, `DELETE FROM taskmodel_leases WHERE name = $1 AND owner = $2`, name, owner)
	return err
}
