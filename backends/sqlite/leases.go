package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/sqltable"
)

const leasesTable = `CREATE TABLE IF NOT EXISTS taskmodel_leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at DATETIME NOT NULL
)`

// Leases are backends.Leases shared by every process using the database.
type Leases struct{ db *sql.DB }

var _ backends.Leases = (*Leases)(nil)

// NewLeases returns the leases of a database opened by Open.
func NewLeases(db *sql.DB) *Leases { return &Leases{db: db} }

// Acquire implements backends.Leases: one upsert that only takes the row
// over when the owner is the same or the lease has expired.
func (l *Leases) Acquire(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	var got string
	err := l.db.QueryRowContext(ctx, `INSERT INTO taskmodel_leases (name, owner, expires_at) VALUES (?1, ?2, ?3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
		WHERE taskmodel_leases.owner = excluded.owner OR taskmodel_leases.expires_at <= ?4
		RETURNING owner`, name, owner, now.Add(ttl).UTC(), now.UTC()).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, sqltable.Closed(err) // a closed database: tasktype.ErrClosed
}

// Release implements backends.Leases.
func (l *Leases) Release(ctx context.Context, name, owner string) error {
	_, err := l.db.ExecContext(ctx, `DELETE FROM taskmodel_leases WHERE name = ? AND owner = ?`, name, owner)
	return err
}
