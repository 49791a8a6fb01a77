package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/sqltable"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Driver stores the tasks of one model in SQLite, through the statements
// of its sqltable.Table: what every generated model's sqlitedb package used
// to repeat. Every write goes through the database's Writer (group commit);
// reads run as prepared statements (Stmts). It implements backends.Driver,
// BatchInserter, KeyReader and ChangeLister, and for a model with a worker
// section WorkDriver and Waker; ClaimingDriver adds backends.Claimer.
type Driver[T any] struct {
	t  *sqltable.Compiled[T]
	db *sql.DB
	q  *Stmts
	w  *Writer
}

// ClaimingDriver is a Driver whose model has a Claim statement: it
// implements backends.Claimer.
type ClaimingDriver[T any] struct {
	*Driver[T]
}

// placeholder matches sqlc's SQLite placeholders.
var placeholder = regexp.MustCompile(`\?(\d+)`)

// NewDriver returns a Driver over a database opened by Open for the model t
// describes. It panics if a statement has a parameter it cannot fill: t is
// generated, and every model's tests build its driver.
func NewDriver[T any](db *sql.DB, t *sqltable.Table[T]) *Driver[T] {
	c, err := sqltable.Compile(t, placeholder)
	if err != nil {
		panic("sqlite: " + err.Error())
	}
	return &Driver[T]{t: c, db: db, q: NewStmts(db), w: WriterFor(db)}
}

// NewClaimingDriver returns NewDriver's driver with backends.Claimer.
func NewClaimingDriver[T any](db *sql.DB, t *sqltable.Table[T]) *ClaimingDriver[T] {
	return &ClaimingDriver[T]{NewDriver(db, t)}
}

var (
	_ backends.Driver[struct{}]        = (*Driver[struct{}])(nil)
	_ backends.BatchInserter[struct{}] = (*Driver[struct{}])(nil)
	_ backends.KeyReader               = (*Driver[struct{}])(nil)
	_ backends.ChangeLister            = (*Driver[struct{}])(nil)
	_ backends.WorkDriver[struct{}]    = (*Driver[struct{}])(nil)
	_ backends.Waker                   = (*Driver[struct{}])(nil)
	_ backends.Claimer[struct{}]       = (*ClaimingDriver[struct{}])(nil)
)

// exec runs a statement that writes rows on db: how many it wrote.
func (d *Driver[T]) exec(ctx context.Context, db DBTX, name string, c *sqltable.Call[T]) (int64, error) {
	query, args, err := d.t.Bind(name, c)
	if err != nil {
		return 0, err
	}
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// write runs a statement that writes rows through the Writer.
func (d *Driver[T]) write(ctx context.Context, name string, c *sqltable.Call[T]) (int64, error) {
	n, err := Write(ctx, d.w, func(tx DBTX) (int64, error) { return d.exec(ctx, tx, name, c) })
	return n, classify(err)
}

// history appends a history row to a task, in the caller's transaction.
func (d *Driver[T]) history(ctx context.Context, tx DBTX, id uuid.UUID, from backends.Key, to string, h backends.History) error {
	_, err := d.exec(ctx, tx, "InsertHistory", &sqltable.Call[T]{ID: id, From: from, ToStatus: to, History: h})
	return err
}

// Insert writes a new task and its first history row.
func (d *Driver[T]) Insert(ctx context.Context, x *T, h backends.History) error {
	return d.InsertMany(ctx, []*T{x}, []backends.History{h})
}

// InsertMany writes new tasks and their first history rows in one
// transaction, all or none; it implements backends.BatchInserter.
func (d *Driver[T]) InsertMany(ctx context.Context, xs []*T, hs []backends.History) error {
	if len(xs) != len(hs) {
		return fmt.Errorf("InsertMany: %d tasks and %d history rows", len(xs), len(hs))
	}
	if len(xs) == 0 {
		return nil
	}
	return d.w.Do(ctx, func(tx DBTX) error {
		for i, x := range xs {
			if _, err := d.exec(ctx, tx, "Insert", &sqltable.Call[T]{Task: x}); err != nil {
				return classify(err)
			}
			if err := d.history(ctx, tx, d.t.Key(x).ID, backends.Key{}, d.t.Key(x).Status, hs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Get reads a task.
func (d *Driver[T]) Get(ctx context.Context, id uuid.UUID) (*T, error) {
	query, args, err := d.t.Bind("Get", &sqltable.Call[T]{ID: id})
	if err != nil {
		return nil, err
	}
	x, _, err := d.t.Scan(d.q.QueryRowContext(ctx, query, args...))
	if err != nil {
		return nil, classify(err)
	}
	return x, nil
}

// Keys reads the keys (status and version) of those of the tasks that
// exist, in one query; it implements backends.KeyReader.
func (d *Driver[T]) Keys(ctx context.Context, ids []uuid.UUID) ([]backends.Key, error) {
	return d.t.Keys(ctx, d.q, classify, ids)
}

// Transition writes x over the task if it still has from's status and
// version, and appends its history row, atomically; false when the guard
// fails.
func (d *Driver[T]) Transition(ctx context.Context, from backends.Key, x *T, h backends.History) (bool, error) {
	to := d.t.Key(x).Status
	ok := false
	err := d.w.Do(ctx, func(tx DBTX) error {
		ok = false // the writer may run this again, alone
		n, err := d.exec(ctx, tx, "UpdateGuarded", &sqltable.Call[T]{Task: x, From: from})
		if err != nil || n != 1 {
			return classify(err)
		}
		ok = true
		return d.history(ctx, tx, from.ID, from, to, h)
	})
	return ok && err == nil, err
}

// Update writes x over the task if it still has from's status and version.
func (d *Driver[T]) Update(ctx context.Context, from backends.Key, x *T) (bool, error) {
	n, err := d.write(ctx, "Update", &sqltable.Call[T]{Task: x, From: from})
	return n == 1, err
}

// Delete removes a task and its history.
func (d *Driver[T]) Delete(ctx context.Context, id uuid.UUID) (bool, error) {
	n, err := d.write(ctx, "Delete", &sqltable.Call[T]{ID: id})
	return n == 1, err
}

// DeleteFinished removes up to limit finished tasks, and their history,
// whose last change is older than before; it returns how many it removed.
func (d *Driver[T]) DeleteFinished(ctx context.Context, before time.Time, limit int) (int, error) {
	if !d.t.Has("DeleteFinished") {
		return 0, nil
	}
	n, err := d.write(ctx, "DeleteFinished", &sqltable.Call[T]{Before: before, Limit: limit})
	return int(n), err
}

// History returns a task's history in order.
func (d *Driver[T]) History(ctx context.Context, id uuid.UUID) ([]backends.History, error) {
	return d.t.History(ctx, d.q, classify, id)
}

// tasks runs a statement that returns task rows.
func (d *Driver[T]) tasks(ctx context.Context, db DBTX, name string, c *sqltable.Call[T]) ([]backends.Claim[T], error) {
	return d.t.Claims(ctx, db, classify, name, c)
}

// ListByStatus returns up to limit tasks in a status, oldest first.
func (d *Driver[T]) ListByStatus(ctx context.Context, status string, limit int) ([]*T, error) {
	return sqltable.Tasks(d.tasks(ctx, d.q, "ListByStatus", &sqltable.Call[T]{Status: status, Limit: limit}))
}

// Due returns up to limit tasks whose status timeout has passed at now.
func (d *Driver[T]) Due(ctx context.Context, now time.Time, limit int) ([]*T, error) {
	if !d.t.Has("Due") {
		return nil, nil
	}
	return sqltable.Tasks(d.tasks(ctx, d.q, "Due", &sqltable.Call[T]{Now: now, Limit: limit}))
}

// ChangedSince returns up to limit tasks changed since (since, afterID), in
// (updated_at, id) order, as notices; it implements backends.ChangeLister.
func (d *Driver[T]) ChangedSince(ctx context.Context, since time.Time, afterID uuid.UUID, limit int) ([]backends.Notice, error) {
	return d.t.ChangedSince(ctx, d.q, classify, since, afterID, limit)
}

// inClaimOrder sorts claimed tasks oldest first, as the statement chose
// them (RETURNING has no order).
func (d *Driver[T]) inClaimOrder(cs []backends.Claim[T]) {
	slices.SortFunc(cs, func(a, b backends.Claim[T]) int {
		p, q := d.t.Position(a.Task), d.t.Position(b.Task)
		if c := p.CreatedAt.Compare(q.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(p.ID[:], q.ID[:])
	})
}

// Reserve leases up to limit tasks in status queue that no live lease
// holds to owner until expires; it implements backends.WorkDriver.
func (d *Driver[T]) Reserve(ctx context.Context, queue, owner string, now, expires time.Time, limit int) ([]backends.Claim[T], error) {
	cs, err := Write(ctx, d.w, func(tx DBTX) ([]backends.Claim[T], error) {
		return d.tasks(ctx, tx, "Reserve", &sqltable.Call[T]{Status: queue, Owner: owner, Now: now, Expires: expires, Limit: limit})
	})
	if err != nil {
		return nil, classify(err)
	}
	d.inClaimOrder(cs)
	return cs, nil
}

// Heartbeat extends a lease its holder still has on a task still in status
// running; it implements backends.WorkDriver.
func (d *Driver[T]) Heartbeat(ctx context.Context, id uuid.UUID, lease backends.Lease, running string, expires time.Time) (bool, error) {
	n, err := d.write(ctx, "Heartbeat", &sqltable.Call[T]{ID: id, Owner: lease.Owner, History: backends.History{Attempt: lease.Attempt}, Status: running, Expires: expires})
	return n == 1, err
}

// Lost returns up to limit tasks in status running whose lease expired by
// now; it implements backends.WorkDriver.
func (d *Driver[T]) Lost(ctx context.Context, running string, now time.Time, limit int) ([]backends.Claim[T], error) {
	return d.tasks(ctx, d.q, "Lost", &sqltable.Call[T]{Status: running, Now: now, Limit: limit})
}

// Wake calls wake when, after idle, another connection commits and a task
// is claimable (Wake); it implements backends.Waker.
func (d *Driver[T]) Wake(ctx context.Context, idle <-chan struct{}, wake func()) error {
	return Wake(ctx, d.db, func(ctx context.Context, now time.Time) (bool, error) {
		query, args, err := d.t.Bind("Claimable", &sqltable.Call[T]{Status: d.t.Queue, Now: now})
		if err != nil {
			return false, err
		}
		var ok bool
		err = d.q.QueryRowContext(ctx, query, args...).Scan(&ok)
		return ok, err
	}, idle, wake)
}

// Claim reserves like Reserve, after a position in the queue, and fires the
// claim event on every reserved task in the same transaction, with its
// history row; it implements backends.Claimer.
func (d *ClaimingDriver[T]) Claim(ctx context.Context, owner string, now, expires time.Time, limit int, after backends.QueuePosition) ([]backends.Claim[T], backends.QueuePosition, error) {
	now = now.UTC()
	from := backends.Key{Status: d.t.Queue}
	cs, err := Write(ctx, d.w, func(tx DBTX) ([]backends.Claim[T], error) {
		cs, err := d.tasks(ctx, tx, "Claim", &sqltable.Call[T]{Owner: owner, Now: now, Expires: expires, Limit: limit, After: after})
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if err := d.history(ctx, tx, d.t.Key(c.Task).ID, from, d.t.Running, backends.History{
				Event: d.t.ClaimEvent, At: now, Attempt: c.Lease.Attempt, Actor: owner,
				Message: fmt.Sprintf("claimed by %s (attempt %d)", owner, c.Lease.Attempt),
			}); err != nil {
				return nil, err
			}
		}
		return cs, nil
	})
	if err != nil {
		return nil, backends.QueuePosition{}, classify(err)
	}
	if len(cs) == 0 {
		return nil, backends.QueuePosition{}, nil
	}
	d.inClaimOrder(cs)
	return cs, d.t.Position(cs[len(cs)-1].Task), nil
}

// classify maps driver errors to the tasktype error values: a broken CHECK
// constraint or a NULL in a NOT NULL column is a *tasktype.ValidationError
// (see constraintError), as on MySQL and PostgreSQL.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return tasktype.ErrNotFound
	case IsUniqueViolation(err):
		return fmt.Errorf("%w: %v", tasktype.ErrDuplicate, err)
	}
	if ve := constraintError(err); ve != nil {
		return ve
	}
	return sqltable.Closed(err)
}
