package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/sqltable"
)

// Leases are backends.Leases shared by every process using the database.
type Leases struct{ db *sql.DB }

var _ backends.Leases = (*Leases)(nil)

// NewLeases returns the leases of a database opened by Open.
func NewLeases(db *sql.DB) *Leases { return &Leases{db: db} }

// acquireSQL takes the row over only when the owner is the same or the
// lease has expired. MySQL assigns left to right, each assignment seeing
// the ones before: owner goes first, so that afterwards "owner is the
// caller" holds exactly when the condition did. VALUES(col), deprecated
// by MySQL 8.0.20 for a row alias that MariaDB lacks, works on both.
const acquireSQL = `INSERT INTO taskmodel_leases (name, owner, expires_at) VALUES (?, ?, ?)
	ON DUPLICATE KEY UPDATE
		owner = IF(owner = VALUES(owner) OR expires_at <= ?, VALUES(owner), owner),
		expires_at = IF(owner = VALUES(owner), VALUES(expires_at), expires_at)`

// Acquire implements backends.Leases: the upsert, then a read of the row
// it locked, in one transaction (MySQL's upsert returns no row, and the
// count of rows it changed is 0 for a renewal that changes nothing). A
// deadlock between concurrent first takers is retried.
func (l *Leases) Acquire(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	for attempt := 1; ; attempt++ {
		got, err := l.acquire(ctx, name, owner, now, ttl)
		if err != nil && IsRetryable(err) && attempt < 10 && ctx.Err() == nil {
			continue
		}
		return got, sqltable.Closed(err) // a closed database: tasktype.ErrClosed
	}
}

func (l *Leases) acquire(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("mysql: lease %s: %w", name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, acquireSQL, name, owner, now.Add(ttl).UTC(), now.UTC()); err != nil {
		return false, fmt.Errorf("mysql: lease %s: %w", name, err)
	}
	var holder string
	if err := tx.QueryRowContext(ctx, `SELECT owner FROM taskmodel_leases WHERE name = ? FOR UPDATE`, name).Scan(&holder); err != nil {
		return false, fmt.Errorf("mysql: lease %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("mysql: lease %s: %w", name, err)
	}
	return holder == owner, nil
}

// Release implements backends.Leases.
func (l *Leases) Release(ctx context.Context, name, owner string) error {
	_, err := l.db.ExecContext(ctx, `DELETE FROM taskmodel_leases WHERE name = ? AND owner = ?`, name, owner)
	return err
}
