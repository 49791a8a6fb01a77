package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/taskmodel/taskmodel/backends"
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
	t         *Table[T]
	cols      []column
	createdAt int // the index of created_at in cols
	db        DBTX
	replanned DBTX // claims and periodic statements (Replanned)
	plans     map[*Stmt][]arg
	group     *Group[transitionItem[T]]
	inserts   *Group[insertItem[T]]
}

// ClaimingDriver is a Driver whose model's claim event can be fired in the
// statement that reserves tasks: it implements backends.Claimer.
type ClaimingDriver[T any] struct {
	*Driver[T]
}

// transitionItem is one transition of a group-committed batch.
type transitionItem[T any] struct {
	x    *T
	from backends.Key
	h    backends.History
}

// insertItem is one create of a group-committed batch.
type insertItem[T any] struct {
	x *T
	h backends.History
}

// call holds the values a statement's framework parameters take.
type call[T any] struct {
	x                    *T
	from                 backends.Key
	h                    backends.History
	id                   uuid.UUID
	ids                  []uuid.UUID
	now, expires, before time.Time
	owner, status        string
	limit                int
	after                backends.QueuePosition
}

// NewDriver returns a Driver over db (a pgx pool) for the model t
// describes. It panics if a statement has a parameter it cannot fill: t is
// generated, and taskgen's tests build every model's driver.
func NewDriver[T any](db DBTX, t *Table[T]) *Driver[T] {
	cols, err := parseColumns(t.Columns)
	if err != nil {
		panic(fmt.Errorf("postgres: model %q: %w", t.Model, err))
	}
	d := &Driver[T]{t: t, cols: cols, createdAt: columnIndex(cols, "created_at"), db: db, replanned: Replanned(db), plans: map[*Stmt][]arg{}}
	for name, s := range map[string]*Stmt{
		"Create": &t.Create, "CreateMany": &t.CreateMany, "Transition": &t.Transition, "TransitionMany": &t.TransitionMany,
		"Update": &t.Update, "Get": &t.Get, "Keys": &t.Keys, "Delete": &t.Delete, "History": &t.History,
		"ListByStatus": &t.ListByStatus, "DeleteFinished": &t.DeleteFinished, "Due": &t.Due,
		"Reserve": &t.Reserve, "Claim": &t.Claim, "Heartbeat": &t.Heartbeat, "Lost": &t.Lost,
	} {
		if s.SQL == "" {
			continue
		}
		p, err := t.plan(cols, name, *s)
		if err != nil {
			panic(err)
		}
		d.plans[s] = p
	}
	d.group = NewGroup(d.flush, d.transitionOne, func(it transitionItem[T]) uuid.UUID { return it.from.ID })
	d.inserts = NewGroup(d.flushInserts, d.insertOne, func(it insertItem[T]) uuid.UUID { return t.ID(it.x) })
	return d
}

// NewClaimingDriver returns NewDriver's driver with backends.Claimer: t has
// a Claim statement.
func NewClaimingDriver[T any](db DBTX, t *Table[T]) *ClaimingDriver[T] {
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

// args returns a statement's parameters for one task.
func (d *Driver[T]) args(s *Stmt, c *call[T]) ([]any, error) {
	plan, ok := d.plans[s]
	if !ok {
		return nil, fmt.Errorf("postgres: model %q has no such statement", d.t.Model)
	}
	var vals []any
	if c.x != nil {
		vals = make([]any, len(d.cols))
		if err := d.t.Values(c.x, vals); err != nil {
			return nil, err
		}
	}
	out := make([]any, len(plan))
	for i, a := range plan {
		switch {
		case a.fw == fwDeadline:
			out[i] = c.now.Add(-d.t.Deadlines[a.col].After).UTC()
		case a.fw == fwID && c.x == nil:
			out[i] = c.id
		case a.col >= 0:
			out[i] = vals[a.col]
		default:
			out[i] = c.framework(a.fw)
		}
	}
	return out, nil
}

// framework returns the value of a framework parameter.
func (c *call[T]) framework(fw fwArg) any {
	switch fw {
	case fwFromStatus:
		return c.from.Status
	case fwFromVersion:
		return c.from.Version
	case fwEvent:
		return c.h.Event
	case fwAttempt:
		return int32(c.h.Attempt)
	case fwActor:
		return c.h.Actor
	case fwMessage:
		return c.h.Message
	case fwNow:
		return c.now.UTC()
	case fwOwner:
		return c.owner
	case fwExpires:
		return c.expires.UTC()
	case fwMaxRows:
		return int32(min(c.limit, 1<<31-1))
	case fwStatus:
		return c.status
	case fwBefore:
		return c.before.UTC()
	case fwAfterCreatedAt:
		return c.after.CreatedAt.UTC()
	case fwAfterID:
		return c.after.ID
	case fwTaskID:
		return c.id
	case fwIDs:
		return c.ids
	}
	return nil
}

// batchArgs returns a batch statement's parameters: an array per column,
// per NULL mark and per framework value, an element per item.
func (d *Driver[T]) batchArgs(s *Stmt, n int, item func(i int) *call[T]) ([]any, error) {
	plan := d.plans[s]
	vals := make([][]any, n)
	all := make([]any, n*len(d.cols))
	for j := range n {
		vals[j] = all[j*len(d.cols) : (j+1)*len(d.cols)]
		if err := d.t.Values(item(j).x, vals[j]); err != nil {
			return nil, err
		}
	}
	out := make([]any, len(plan))
	for i, a := range plan {
		switch {
		case a.col >= 0 && a.null:
			nulls := make([]bool, n)
			for j := range n {
				nulls[j] = vals[j][a.col] == nil
			}
			out[i] = nulls
		case a.col >= 0:
			arr, err := d.column(a.col, vals)
			if err != nil {
				return nil, err
			}
			out[i] = arr
		default:
			arr, err := frameworkArray(a.fw, n, item)
			if err != nil {
				return nil, fmt.Errorf("postgres: model %q: %w", d.t.Model, err)
			}
			out[i] = arr
		}
	}
	return out, nil
}

// column collects a column's values into an array of its kind; a NULL is
// the zero value (its tm_null_ array marks it) or, for JSON, nil.
func (d *Driver[T]) column(col int, vals [][]any) (any, error) {
	c := d.cols[col]
	var err error
	switch c.kind {
	case KindText:
		return collect[string](c.name, col, vals, &err), err
	case KindInt:
		return collect[int64](c.name, col, vals, &err), err
	case KindFloat:
		return collect[float64](c.name, col, vals, &err), err
	case KindBool:
		return collect[bool](c.name, col, vals, &err), err
	case KindTime:
		return collect[time.Time](c.name, col, vals, &err), err
	case KindUUID:
		return collect[uuid.UUID](c.name, col, vals, &err), err
	case KindJSON:
		return collect[[]byte](c.name, col, vals, &err), err
	}
	return nil, fmt.Errorf("postgres: column %s: unknown kind %d", c.name, c.kind)
}

// collect copies column col of every item's values (each a V or nil) into
// a []V.
func collect[V any](name string, col int, vals [][]any, err *error) []V {
	out := make([]V, len(vals))
	for i, v := range vals {
		if v[col] == nil {
			continue
		}
		x, ok := v[col].(V)
		if !ok {
			*err = fmt.Errorf("postgres: column %s: a value of type %T, want %T", name, v[col], x)
			return nil
		}
		out[i] = x
	}
	return out
}

// frameworkArray collects a framework parameter of a batch into an array.
func frameworkArray[T any](fw fwArg, n int, item func(i int) *call[T]) (any, error) {
	switch fw {
	case fwFromStatus, fwEvent, fwActor, fwMessage:
		out := make([]string, n)
		for i := range n {
			out[i] = item(i).framework(fw).(string)
		}
		return out, nil
	case fwFromVersion:
		out := make([]int64, n)
		for i := range n {
			out[i] = item(i).from.Version
		}
		return out, nil
	case fwAttempt:
		out := make([]int32, n)
		for i := range n {
			out[i] = int32(item(i).h.Attempt)
		}
		return out, nil
	}
	return nil, fmt.Errorf("parameter %d has no array form", fw)
}

// flushInserts writes a batch of creates in one statement: one round trip,
// one commit. An error aborts the whole batch, which the group then writes
// item by item.
func (d *Driver[T]) flushInserts(ctx context.Context, items []insertItem[T]) []error {
	errs := make([]error, len(items))
	err := d.insertMany(ctx, items)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func (d *Driver[T]) insertMany(ctx context.Context, items []insertItem[T]) error {
	calls := make([]call[T], len(items))
	for i, it := range items {
		calls[i] = call[T]{x: it.x, h: it.h}
	}
	args, err := d.batchArgs(&d.t.CreateMany, len(items), func(i int) *call[T] { return &calls[i] })
	if err != nil {
		return err
	}
	tag, err := d.db.Exec(ctx, d.t.CreateMany.SQL, args...)
	if err == nil && tag.RowsAffected() != int64(len(items)) {
		err = fmt.Errorf("create: %d of %d tasks written", tag.RowsAffected(), len(items))
	}
	return err
}

// insertOne writes one create with the single-row statement.
func (d *Driver[T]) insertOne(ctx context.Context, it insertItem[T]) error {
	args, err := d.args(&d.t.Create, &call[T]{x: it.x, h: it.h})
	if err != nil {
		return err
	}
	_, err = d.db.Exec(ctx, d.t.Create.SQL, args...)
	return err
}

// flush writes a batch of transitions in one statement; a row whose guard
// failed gets pgx.ErrNoRows.
func (d *Driver[T]) flush(ctx context.Context, items []transitionItem[T]) []error {
	errs := make([]error, len(items))
	calls := make([]call[T], len(items))
	for i, it := range items {
		calls[i] = call[T]{x: it.x, from: it.from, h: it.h}
	}
	args, err := d.batchArgs(&d.t.TransitionMany, len(items), func(i int) *call[T] { return &calls[i] })
	if err == nil {
		var rows pgx.Rows
		rows, err = d.db.Query(ctx, d.t.TransitionMany.SQL, args...)
		if err == nil {
			applied := make(map[uuid.UUID]bool, len(items))
			var id uuid.UUID
			_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
				applied[id] = true
				return nil
			})
			if err == nil {
				for i, it := range items {
					if !applied[it.from.ID] {
						errs[i] = pgx.ErrNoRows
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
// failed guard is pgx.ErrNoRows, as in a batch.
func (d *Driver[T]) transitionOne(ctx context.Context, it transitionItem[T]) error {
	args, err := d.args(&d.t.Transition, &call[T]{x: it.x, from: it.from, h: it.h})
	if err != nil {
		return err
	}
	tag, err := d.db.Exec(ctx, d.t.Transition.SQL, args...)
	if err == nil && tag.RowsAffected() != 1 {
		return pgx.ErrNoRows
	}
	return err
}

// Insert writes a new task and its first history row.
func (d *Driver[T]) Insert(ctx context.Context, x *T, h backends.History) error {
	return classify(d.inserts.Do(ctx, insertItem[T]{x: x, h: h}))
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
	items := make([]insertItem[T], len(xs))
	for i, x := range xs {
		items[i] = insertItem[T]{x: x, h: hs[i]}
	}
	return classify(d.insertMany(ctx, items))
}

// Get reads a task.
func (d *Driver[T]) Get(ctx context.Context, id uuid.UUID) (*T, error) {
	args, err := d.args(&d.t.Get, &call[T]{id: id})
	if err != nil {
		return nil, err
	}
	x, _, err := d.t.Scan(d.db.QueryRow(ctx, d.t.Get.SQL, args...))
	if err != nil {
		return nil, classify(err)
	}
	return x, nil
}

// Keys reads the keys (status and version) of those of the tasks that
// exist, in one query; it implements backends.KeyReader.
func (d *Driver[T]) Keys(ctx context.Context, ids []uuid.UUID) ([]backends.Key, error) {
	args, err := d.args(&d.t.Keys, &call[T]{ids: ids})
	if err != nil {
		return nil, err
	}
	rows, err := d.replanned.Query(ctx, d.t.Keys.SQL, args...)
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
	err := d.group.Do(ctx, transitionItem[T]{x: x, from: from, h: h})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, classify(err)
}

// Update writes x over the task if it still has from's status and version.
func (d *Driver[T]) Update(ctx context.Context, from backends.Key, x *T) (bool, error) {
	return d.exec(ctx, d.db, &d.t.Update, &call[T]{x: x, from: from})
}

// exec runs a statement that writes at most one row: true if it did.
func (d *Driver[T]) exec(ctx context.Context, db DBTX, s *Stmt, c *call[T]) (bool, error) {
	args, err := d.args(s, c)
	if err != nil {
		return false, err
	}
	tag, err := db.Exec(ctx, s.SQL, args...)
	return err == nil && tag.RowsAffected() == 1, classify(err)
}

// Delete removes a task and its history.
func (d *Driver[T]) Delete(ctx context.Context, id uuid.UUID) (bool, error) {
	return d.exec(ctx, d.db, &d.t.Delete, &call[T]{id: id})
}

// DeleteFinished removes up to limit finished tasks, and their history,
// whose last change is older than before; it returns how many it removed.
func (d *Driver[T]) DeleteFinished(ctx context.Context, before time.Time, limit int) (int, error) {
	if d.t.DeleteFinished.SQL == "" {
		return 0, nil
	}
	args, err := d.args(&d.t.DeleteFinished, &call[T]{before: before, limit: limit})
	if err != nil {
		return 0, err
	}
	tag, err := d.replanned.Exec(ctx, d.t.DeleteFinished.SQL, args...)
	return int(tag.RowsAffected()), classify(err)
}

// History returns a task's history in order.
func (d *Driver[T]) History(ctx context.Context, id uuid.UUID) ([]backends.History, error) {
	args, err := d.args(&d.t.History, &call[T]{id: id})
	if err != nil {
		return nil, err
	}
	rows, err := d.db.Query(ctx, d.t.History.SQL, args...)
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
func (d *Driver[T]) tasks(ctx context.Context, s *Stmt, c *call[T]) ([]backends.Claim[T], error) {
	args, err := d.args(s, c)
	if err != nil {
		return nil, err
	}
	rows, err := d.replanned.Query(ctx, s.SQL, args...)
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

// onlyTasks drops the leases of tasks.
func onlyTasks[T any](cs []backends.Claim[T], err error) ([]*T, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*T, len(cs))
	for i, c := range cs {
		out[i] = c.Task
	}
	return out, nil
}

// ListByStatus returns up to limit tasks in a status, oldest first.
func (d *Driver[T]) ListByStatus(ctx context.Context, status string, limit int) ([]*T, error) {
	return onlyTasks(d.tasks(ctx, &d.t.ListByStatus, &call[T]{status: status, limit: limit}))
}

// Due returns up to limit tasks whose status timeout has passed at now.
func (d *Driver[T]) Due(ctx context.Context, now time.Time, limit int) ([]*T, error) {
	if d.t.Due.SQL == "" {
		return nil, nil
	}
	return onlyTasks(d.tasks(ctx, &d.t.Due, &call[T]{now: now, limit: limit}))
}

// errNoWorker is the error of a worker method on a model without a worker
// section (NewLeases refuses such a model before any call).
func (d *Driver[T]) errNoWorker() error {
	return fmt.Errorf("model %q has no worker section: %w", d.t.Model, tasktype.ErrValidation)
}

// Reserve leases up to limit tasks in status queue that no live lease
// holds to owner until expires; it implements backends.WorkDriver.
func (d *Driver[T]) Reserve(ctx context.Context, queue, owner string, now, expires time.Time, limit int) ([]backends.Claim[T], error) {
	if d.t.Reserve.SQL == "" {
		return nil, d.errNoWorker()
	}
	return d.tasks(ctx, &d.t.Reserve, &call[T]{status: queue, owner: owner, now: now, expires: expires, limit: limit})
}

// Heartbeat extends a lease its holder still has on a task still in status
// running; it implements backends.WorkDriver.
func (d *Driver[T]) Heartbeat(ctx context.Context, id uuid.UUID, lease backends.Lease, running string, expires time.Time) (bool, error) {
	if d.t.Heartbeat.SQL == "" {
		return false, d.errNoWorker()
	}
	return d.exec(ctx, d.db, &d.t.Heartbeat, &call[T]{id: id, owner: lease.Owner, h: backends.History{Attempt: lease.Attempt}, status: running, expires: expires})
}

// Lost returns up to limit tasks in status running whose lease expired by
// now; it implements backends.WorkDriver.
func (d *Driver[T]) Lost(ctx context.Context, running string, now time.Time, limit int) ([]backends.Claim[T], error) {
	if d.t.Lost.SQL == "" {
		return nil, d.errNoWorker()
	}
	if running != d.t.Running {
		return nil, fmt.Errorf("lost tasks: status %q is not the worker section's running status %q: %w", running, d.t.Running, tasktype.ErrValidation)
	}
	return d.tasks(ctx, &d.t.Lost, &call[T]{now: now, limit: limit})
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
	claims, err := d.tasks(ctx, &d.t.Claim, &call[T]{owner: owner, now: now, expires: expires, limit: limit, after: after})
	if err != nil || len(claims) == 0 {
		return claims, backends.QueuePosition{}, err
	}
	// The rows come in claim order: the last one is the furthest.
	last := claims[len(claims)-1].Task
	vals := make([]any, len(d.cols))
	if err := d.t.Values(last, vals); err != nil {
		return nil, backends.QueuePosition{}, err
	}
	createdAt, _ := vals[d.createdAt].(time.Time)
	return claims, backends.QueuePosition{CreatedAt: createdAt, ID: d.t.ID(last)}, nil
}

// classify maps driver errors to the tasktype error values.
func classify(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return tasktype.ErrNotFound
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		return fmt.Errorf("%w: %s", tasktype.ErrDuplicate, pgErr.Detail)
	}
	return err
}
