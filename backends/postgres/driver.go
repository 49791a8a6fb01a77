package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/groupcommit"
	"github.com/taskmodel/taskmodel/backends/sqltable"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Driver stores the tasks of one model in PostgreSQL, through the
// statements of its Table: what every generated model's pgdb package used
// to repeat. Concurrent creates and transitions are group-committed
// (Group): written together in one round trip and one transaction. It
// implements backends.Driver, BatchInserter, KeyReader, and for a model
// with a worker section WorkDriver and Waker; ClaimingDriver adds
// backends.Claimer.
type Driver[T any] struct {
	t         *sqltable.Compiled[T]
	db        DBTX
	replanned DBTX // claims and periodic statements (Replanned)
	group     *groupcommit.Group[sqltable.Call[T]]
	inserts   *groupcommit.Group[sqltable.Call[T]]
}

// ClaimingDriver is a Driver whose model's claim event can be fired in the
// statement that reserves tasks: it implements backends.Claimer.
type ClaimingDriver[T any] struct {
	*Driver[T]
}

// placeholder matches sqlc's PostgreSQL placeholders.
var placeholder = regexp.MustCompile(`\$(\d+)`)

// NewDriver returns a Driver over db (a pgx pool) for the model t
// describes. It panics if a statement has a parameter it cannot fill: t is
// generated, and every model's tests build its driver.
func NewDriver[T any](db DBTX, t *sqltable.Table[T]) *Driver[T] {
	c, err := sqltable.Compile(t, placeholder)
	if err != nil {
		panic("postgres: " + err.Error())
	}
	d := &Driver[T]{t: c, db: db, replanned: Replanned(db)}
	d.group = groupcommit.NewGroup(d.flush, d.transitionOne, func(c sqltable.Call[T]) uuid.UUID { return c.From.ID })
	d.inserts = groupcommit.NewGroup(d.flushInserts, d.insertOne, func(c sqltable.Call[T]) uuid.UUID { return t.Key(c.Task).ID })
	return d
}

// NewClaimingDriver returns NewDriver's driver with backends.Claimer: t has
// a Claim statement.
func NewClaimingDriver[T any](db DBTX, t *sqltable.Table[T]) *ClaimingDriver[T] {
	return &ClaimingDriver[T]{NewDriver(db, t)}
}

var (
	_ backends.Driver[struct{}]        = (*Driver[struct{}])(nil)
	_ backends.BatchInserter[struct{}] = (*Driver[struct{}])(nil)
	_ backends.KeyReader               = (*Driver[struct{}])(nil)
	_ backends.WorkDriver[struct{}]    = (*Driver[struct{}])(nil)
	_ backends.Waker                   = (*Driver[struct{}])(nil)
	_ backends.Claimer[struct{}]       = (*ClaimingDriver[struct{}])(nil)
)

// flushInserts writes a batch of creates in one statement: one round trip,
// one commit. An error aborts the whole batch, which the group then writes
// item by item.
func (d *Driver[T]) flushInserts(ctx context.Context, calls []sqltable.Call[T]) []error {
	errs := make([]error, len(calls))
	err := d.insertMany(ctx, calls)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func (d *Driver[T]) insertMany(ctx context.Context, calls []sqltable.Call[T]) error {
	sql, args, err := d.t.BindMany("CreateMany", calls)
	if err != nil {
		return err
	}
	tag, err := d.db.Exec(ctx, sql, arrayArgs(args)...)
	if err == nil && tag.RowsAffected() != int64(len(calls)) {
		err = fmt.Errorf("create: %d of %d tasks written", tag.RowsAffected(), len(calls))
	}
	return err
}

// insertOne writes one create with the single-row statement.
func (d *Driver[T]) insertOne(ctx context.Context, c sqltable.Call[T]) error {
	_, err := d.exec(ctx, d.db, "Create", &c)
	return err
}

// flush writes a batch of transitions in one statement; a row whose guard
// failed gets groupcommit.ErrNotApplied.
func (d *Driver[T]) flush(ctx context.Context, calls []sqltable.Call[T]) []error {
	errs := make([]error, len(calls))
	sql, args, err := d.t.BindMany("TransitionMany", calls)
	if err == nil {
		var rows pgx.Rows
		rows, err = d.db.Query(ctx, sql, arrayArgs(args)...)
		if err == nil {
			applied := make(map[uuid.UUID]bool, len(calls))
			var id uuid.UUID
			_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
				applied[id] = true
				return nil
			})
			if err == nil {
				for i, c := range calls {
					if !applied[c.From.ID] {
						errs[i] = groupcommit.ErrNotApplied
					}
				}
				return errs
			}
		}
	}
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// transitionOne writes one transition with the single-row statement; a
// failed guard is groupcommit.ErrNotApplied, as in a batch.
func (d *Driver[T]) transitionOne(ctx context.Context, c sqltable.Call[T]) error {
	sql, args, err := d.t.Bind("Transition", &c)
	if err != nil {
		return err
	}
	tag, err := d.db.Exec(ctx, sql, args...)
	if err == nil && tag.RowsAffected() != 1 {
		return groupcommit.ErrNotApplied
	}
	return err
}

// exec runs a statement that writes rows: how many it wrote.
func (d *Driver[T]) exec(ctx context.Context, db DBTX, name string, c *sqltable.Call[T]) (int64, error) {
	sql, args, err := d.t.Bind(name, c)
	if err != nil {
		return 0, err
	}
	tag, err := db.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

// Insert writes a new task and its first history row.
func (d *Driver[T]) Insert(ctx context.Context, x *T, h backends.History) error {
	return classify(d.inserts.Do(ctx, sqltable.Call[T]{Task: x, History: h}))
}

// InsertMany writes new tasks and their first history rows in one statement,
// all or none (the statement group-committed creates use); it implements
// backends.BatchInserter.
func (d *Driver[T]) InsertMany(ctx context.Context, xs []*T, hs []backends.History) error {
	if len(xs) != len(hs) {
		return fmt.Errorf("InsertMany: %d tasks and %d history rows", len(xs), len(hs))
	}
	if len(xs) == 0 {
		return nil
	}
	calls := make([]sqltable.Call[T], len(xs))
	for i, x := range xs {
		calls[i] = sqltable.Call[T]{Task: x, History: hs[i]}
	}
	return classify(d.insertMany(ctx, calls))
}

// Get reads a task.
func (d *Driver[T]) Get(ctx context.Context, id uuid.UUID) (*T, error) {
	sql, args, err := d.t.Bind("Get", &sqltable.Call[T]{ID: id})
	if err != nil {
		return nil, err
	}
	x, _, err := d.t.Scan(d.db.QueryRow(ctx, sql, args...))
	if err != nil {
		return nil, classify(err)
	}
	return x, nil
}

// Keys reads the keys (status and version) of those of the tasks that
// exist, in one query; it implements backends.KeyReader.
func (d *Driver[T]) Keys(ctx context.Context, ids []uuid.UUID) ([]backends.Key, error) {
	sql, args, err := d.t.Bind("Keys", &sqltable.Call[T]{IDs: ids})
	if err != nil {
		return nil, err
	}
	rows, err := d.replanned.Query(ctx, sql, args...)
	if err != nil {
		return nil, classify(err)
	}
	var k backends.Key
	var out []backends.Key
	_, err = pgx.ForEachRow(rows, []any{&k.ID, &k.Status, &k.Version}, func() error {
		out = append(out, k)
		return nil
	})
	return out, classify(err)
}

// Transition writes x over the task if it still has from's status and
// version, and appends its history row, atomically; false when the guard
// fails.
func (d *Driver[T]) Transition(ctx context.Context, from backends.Key, x *T, h backends.History) (bool, error) {
	err := d.group.Do(ctx, sqltable.Call[T]{Task: x, From: from, History: h})
	if errors.Is(err, groupcommit.ErrNotApplied) {
		return false, nil
	}
	return err == nil, classify(err)
}

// Update writes x over the task if it still has from's status and version.
func (d *Driver[T]) Update(ctx context.Context, from backends.Key, x *T) (bool, error) {
	n, err := d.exec(ctx, d.db, "Update", &sqltable.Call[T]{Task: x, From: from})
	return n == 1, classify(err)
}

// Delete removes a task and its history.
func (d *Driver[T]) Delete(ctx context.Context, id uuid.UUID) (bool, error) {
	n, err := d.exec(ctx, d.db, "Delete", &sqltable.Call[T]{ID: id})
	return n == 1, classify(err)
}

// DeleteFinished removes up to limit finished tasks, and their history,
// whose last change is older than before; it returns how many it removed.
func (d *Driver[T]) DeleteFinished(ctx context.Context, before time.Time, limit int) (int, error) {
	if !d.t.Has("DeleteFinished") {
		return 0, nil
	}
	n, err := d.exec(ctx, d.replanned, "DeleteFinished", &sqltable.Call[T]{Before: before, Limit: limit})
	return int(n), classify(err)
}

// History returns a task's history in order.
func (d *Driver[T]) History(ctx context.Context, id uuid.UUID) ([]backends.History, error) {
	sql, args, err := d.t.Bind("History", &sqltable.Call[T]{ID: id})
	if err != nil {
		return nil, err
	}
	rows, err := d.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, classify(err)
	}
	out := []backends.History{}
	var (
		taskID      uuid.UUID
		h           backends.History
		from, event *string
		attempt     int32
	)
	_, err = pgx.ForEachRow(rows, []any{&taskID, &h.Seq, &from, &h.To, &event, &h.At, &attempt, &h.Actor, &h.Message}, func() error {
		h.From, h.Event, h.Attempt, h.At = backends.Deref(from), backends.Deref(event), int(attempt), h.At.UTC()
		out = append(out, h)
		return nil
	})
	if err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// tasks runs a statement that returns task rows.
func (d *Driver[T]) tasks(ctx context.Context, name string, c *sqltable.Call[T]) ([]backends.Claim[T], error) {
	sql, args, err := d.t.Bind(name, c)
	if err != nil {
		return nil, err
	}
	rows, err := d.replanned.Query(ctx, sql, args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []backends.Claim[T]
	for rows.Next() {
		x, l, err := d.t.Scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, backends.Claim[T]{Task: x, Lease: l})
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// ListByStatus returns up to limit tasks in a status, oldest first.
func (d *Driver[T]) ListByStatus(ctx context.Context, status string, limit int) ([]*T, error) {
	return sqltable.Tasks(d.tasks(ctx, "ListByStatus", &sqltable.Call[T]{Status: status, Limit: limit}))
}

// Due returns up to limit tasks whose status timeout has passed at now.
func (d *Driver[T]) Due(ctx context.Context, now time.Time, limit int) ([]*T, error) {
	if !d.t.Has("Due") {
		return nil, nil
	}
	return sqltable.Tasks(d.tasks(ctx, "Due", &sqltable.Call[T]{Now: now, Limit: limit}))
}

// Reserve leases up to limit tasks in status queue that no live lease
// holds to owner until expires; it implements backends.WorkDriver.
func (d *Driver[T]) Reserve(ctx context.Context, queue, owner string, now, expires time.Time, limit int) ([]backends.Claim[T], error) {
	return d.tasks(ctx, "Reserve", &sqltable.Call[T]{Status: queue, Owner: owner, Now: now, Expires: expires, Limit: limit})
}

// Heartbeat extends a lease its holder still has on a task still in status
// running; it implements backends.WorkDriver.
func (d *Driver[T]) Heartbeat(ctx context.Context, id uuid.UUID, lease backends.Lease, running string, expires time.Time) (bool, error) {
	n, err := d.exec(ctx, d.db, "Heartbeat", &sqltable.Call[T]{ID: id, Owner: lease.Owner, History: backends.History{Attempt: lease.Attempt}, Status: running, Expires: expires})
	return n == 1, classify(err)
}

// Lost returns up to limit tasks in status running whose lease expired by
// now; it implements backends.WorkDriver.
func (d *Driver[T]) Lost(ctx context.Context, running string, now time.Time, limit int) ([]backends.Claim[T], error) {
	if err := d.t.CheckRunning(running); err != nil {
		return nil, err
	}
	return d.tasks(ctx, "Lost", &sqltable.Call[T]{Now: now, Limit: limit})
}

// Wake calls wake when another process queues a task while idle has armed
// the model's wake trigger (WakeListener); it implements backends.Waker.
func (d *Driver[T]) Wake(ctx context.Context, idle <-chan struct{}, wake func()) error {
	return Wake(ctx, d.db, d.t.Model, idle, wake)
}

// Claim reserves like Reserve, after a position in the queue, and fires the
// claim event on every reserved task in the same statement, with its
// history row; it implements backends.Claimer.
func (d *ClaimingDriver[T]) Claim(ctx context.Context, owner string, now, expires time.Time, limit int, after backends.QueuePosition) ([]backends.Claim[T], backends.QueuePosition, error) {
	claims, err := d.tasks(ctx, "Claim", &sqltable.Call[T]{Owner: owner, Now: now, Expires: expires, Limit: limit, After: after})
	if err != nil || len(claims) == 0 {
		return claims, backends.QueuePosition{}, err
	}
	// The rows come in claim order: the last one is the furthest.
	return claims, d.t.Position(claims[len(claims)-1].Task), nil
}

// ClaimsCold implements backends.ClaimWarmer: the start of the first
// period of Replanned after t, when the claim statement is prepared and
// planned anew.
func (d *ClaimingDriver[T]) ClaimsCold(t time.Time) time.Time {
	return time.Unix(0, (t.UnixNano()/int64(ReplanEvery)+1)*int64(ReplanEvery))
}

// WarmClaims implements backends.ClaimWarmer: it runs the claim statement
// with a limit of 0, which claims nothing and writes nothing, so that its
// connection holds the current period's statement and plan.
func (d *ClaimingDriver[T]) WarmClaims(ctx context.Context) error {
	_, err := d.tasks(ctx, "Claim", &sqltable.Call[T]{Now: time.Now(), Expires: time.Now(), Limit: 0})
	return err
}

var _ backends.ClaimWarmer = (*ClaimingDriver[struct{}])(nil)

// closedPool is err, pgxpool's refusal of a call on a closed pool, wrapped
// with tasktype.ErrClosed.
func closedPool(err error) error { return fmt.Errorf("%w: %w", tasktype.ErrClosed, err) }

// classify maps driver errors to the tasktype error values: a broken CHECK
// constraint or a NULL in a NOT NULL column is a *tasktype.ValidationError
// naming the constraint or column, as on MySQL (mysql.Classify). The
// generated code validates a task before writing it, so the database
// refuses a write only when its schema is newer than the program: a
// program built from an older spec, still running while a newer one's
// migration narrowed a limit or added a required column (a rolling
// deploy; see docs/spec-language.md).
func classify(err error) error {
	if err == nil {
		return nil // before pgErr, which escapes: no allocation for a success
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return tasktype.ErrNotFound
	case errors.Is(err, puddle.ErrClosedPool):
		return closedPool(err)
	case !errors.As(err, &pgErr):
		return err
	}
	field := func(col, rule, msg string) error {
		return &tasktype.ValidationError{Fields: []*tasktype.FieldError{{Field: col, Rule: rule, Message: msg}}}
	}
	switch pgErr.Code {
	case "23505": // unique_violation
		return fmt.Errorf("%w: %s", tasktype.ErrDuplicate, pgErr.Detail)
	case "23514": // check_violation
		return backends.CheckViolation(pgErr.TableName, pgErr.ConstraintName, "")
	case "23502": // not_null_violation
		return field(pgErr.ColumnName, "required", "must not be null")
	}
	return err
}
