package sqltable

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
)

// The read paths the database/sql drivers (SQLite's and MySQL's) share:
// the statement is bound, run on a Querier, its rows read, and the
// driver's classify maps the errors.

// Querier runs a query: a *sql.DB, a *sql.Tx, or a cache of prepared
// statements.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Query runs statement name with call on db and calls each for each row.
func (c *Compiled[T]) Query(ctx context.Context, db Querier, classify func(error) error, name string, call *Call[T], each func(*sql.Rows) error) error {
	query, args, err := c.Bind(name, call)
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return classify(err)
	}
	return classify(rows.Err())
}

// Claims runs a statement that returns task rows: the tasks and their
// leases.
func (c *Compiled[T]) Claims(ctx context.Context, db Querier, classify func(error) error, name string, call *Call[T]) ([]backends.Claim[T], error) {
	var out []backends.Claim[T]
	err := c.Query(ctx, db, classify, name, call, func(rows *sql.Rows) error {
		x, l, err := c.Scan(rows)
		if err != nil {
			return err
		}
		out = append(out, backends.Claim[T]{Task: x, Lease: l})
		return nil
	})
	return out, err
}

// Keys reads the keys (status and version) of those of the tasks that
// exist, with the Keys statement, which takes the ids as a JSON array.
func (c *Compiled[T]) Keys(ctx context.Context, db Querier, classify func(error) error, ids []uuid.UUID) ([]backends.Key, error) {
	js, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	var out []backends.Key
	err = c.Query(ctx, db, classify, "Keys", &Call[T]{IDs: string(js)}, func(rows *sql.Rows) error {
		var k backends.Key
		if err := rows.Scan(&k.ID, &k.Status, &k.Version); err != nil {
			return err
		}
		out = append(out, k)
		return nil
	})
	return out, err
}

// History reads a task's history in order, with the History statement.
func (c *Compiled[T]) History(ctx context.Context, db Querier, classify func(error) error, id uuid.UUID) ([]backends.History, error) {
	out := []backends.History{}
	err := c.Query(ctx, db, classify, "History", &Call[T]{ID: id}, func(rows *sql.Rows) error {
		var (
			taskID      uuid.UUID
			h           backends.History
			from, event *string
			attempt     int64
		)
		if err := rows.Scan(&taskID, &h.Seq, &from, &h.To, &event, &h.At, &attempt, &h.Actor, &h.Message); err != nil {
			return err
		}
		h.From, h.Event, h.Attempt, h.At = backends.Deref(from), backends.Deref(event), int(attempt), h.At.UTC()
		out = append(out, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ChangedSince reads up to limit tasks changed since (since, afterID), in
// (updated_at, id) order, as notices, with the ChangedSince statement.
func (c *Compiled[T]) ChangedSince(ctx context.Context, db Querier, classify func(error) error, since time.Time, afterID uuid.UUID, limit int) ([]backends.Notice, error) {
	out := []backends.Notice{}
	err := c.Query(ctx, db, classify, "ChangedSince", &Call[T]{Before: since, AfterID: afterID, Limit: limit}, func(rows *sql.Rows) error {
		var n backends.Notice
		if err := rows.Scan(&n.ID, &n.Version, &n.Status, &n.At); err != nil {
			return err
		}
		n.At = n.At.UTC()
		out = append(out, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
