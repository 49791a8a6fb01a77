// Package memory is a backends.Driver that keeps tasks in a map: for unit
// tests of code that uses a Store, and for programs that need no persistence.
// It works for any generated model; tasks are deep-copied in and out through
// their JSON form, so callers never share memory with the driver.
package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Task is what the driver needs of a generated model struct *T.
type Task[T any] interface {
	*T
	Key() tasktype.Key
	TimeoutAt() (time.Time, bool)
}

type entry struct {
	task    []byte // JSON
	key     tasktype.Key
	history []backends.History
	lease   *taskLease // a worker's lease, for models with a worker section
	// traceparent is the trace context the task was created with, which its
	// JSON does not hold (set once, at insert).
	traceparent string
}

// traced is a generated model's stored trace context (tm_traceparent).
type traced interface {
	Traceparent() string
	SetTraceparent(string)
}

// Driver stores tasks of one model in memory.
type Driver[T any, PT Task[T]] struct {
	mu    sync.Mutex
	tasks map[uuid.UUID]*entry
	order []uuid.UUID // creation order
}

// New returns an empty Driver.
func New[T any, PT Task[T]]() *Driver[T, PT] {
	return &Driver[T, PT]{tasks: map[uuid.UUID]*entry{}}
}

func (d *Driver[T, PT]) decode(e *entry) (*T, error) {
	t := new(T)
	if err := json.Unmarshal(e.task, t); err != nil {
		return nil, err
	}
	if tr, ok := any(t).(traced); ok && e.traceparent != "" {
		tr.SetTraceparent(e.traceparent)
	}
	return t, nil
}

// Insert implements backends.Driver.
func (d *Driver[T, PT]) Insert(ctx context.Context, task *T, h backends.History) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.InsertMany(ctx, []*T{task}, []backends.History{h})
}

// Keys implements backends.KeyReader.
func (d *Driver[T, PT]) Keys(ctx context.Context, ids []uuid.UUID) ([]backends.Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]backends.Key, 0, len(ids))
	for _, id := range ids {
		if e, ok := d.tasks[id]; ok {
			out = append(out, e.key)
		}
	}
	return out, nil
}

// InsertMany implements backends.BatchInserter: all the tasks under one
// lock, or none.
func (d *Driver[T, PT]) InsertMany(ctx context.Context, tasks []*T, hs []backends.History) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(tasks) != len(hs) {
		return fmt.Errorf("memory: InsertMany: %d tasks and %d history rows", len(tasks), len(hs))
	}
	data := make([][]byte, len(tasks))
	for i, task := range tasks {
		var err error
		if data[i], err = json.Marshal(task); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := make(map[uuid.UUID]bool, len(tasks))
	for _, task := range tasks {
		id := PT(task).Key().ID
		if _, ok := d.tasks[id]; ok || seen[id] {
			return tasktype.ErrDuplicate
		}
		seen[id] = true
	}
	for i, task := range tasks {
		k := PT(task).Key()
		h := hs[i]
		h.Seq = 1
		e := &entry{task: data[i], key: k, history: []backends.History{h}}
		if tr, ok := any(task).(traced); ok {
			e.traceparent = tr.Traceparent()
		}
		d.tasks[k.ID] = e
		d.order = append(d.order, k.ID)
	}
	return nil
}

// Get implements backends.Driver.
func (d *Driver[T, PT]) Get(ctx context.Context, id uuid.UUID) (*T, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	e, ok := d.tasks[id]
	var snapshot entry
	if ok {
		// write replaces e.task under the lock: read it under the lock too.
		snapshot.task, snapshot.traceparent = e.task, e.traceparent
	}
	d.mu.Unlock()
	if !ok {
		return nil, tasktype.ErrNotFound
	}
	return d.decode(&snapshot)
}

func (d *Driver[T, PT]) write(from tasktype.Key, next *T, h *backends.History) (bool, error) {
	data, err := json.Marshal(next)
	if err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.tasks[from.ID]
	if !ok || e.key != from {
		return false, nil
	}
	e.task, e.key = data, PT(next).Key()
	if h != nil {
		h.Seq = int64(len(e.history) + 1)
		e.history = append(e.history, *h)
	}
	return true, nil
}

// Transition implements backends.Driver.
func (d *Driver[T, PT]) Transition(ctx context.Context, from tasktype.Key, next *T, h backends.History) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return d.write(from, next, &h)
}

// Update implements backends.Driver.
func (d *Driver[T, PT]) Update(ctx context.Context, from tasktype.Key, next *T) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return d.write(from, next, nil)
}

// Delete implements backends.Driver.
func (d *Driver[T, PT]) Delete(ctx context.Context, id uuid.UUID) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.tasks[id]; !ok {
		return false, nil
	}
	delete(d.tasks, id)
	for i, o := range d.order {
		if o == id {
			d.order = append(d.order[:i:i], d.order[i+1:]...)
			break
		}
	}
	return true, nil
}

// History implements backends.Driver.
func (d *Driver[T, PT]) History(ctx context.Context, id uuid.UUID) ([]backends.History, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.tasks[id]
	if !ok {
		return nil, nil
	}
	return append([]backends.History(nil), e.history...), nil
}

// scan returns up to limit tasks, oldest first, that keep(task) accepts.
func (d *Driver[T, PT]) scan(limit int, keep func(*entry, *T) bool) ([]*T, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*T
	for _, id := range d.order {
		if len(out) >= limit {
			break
		}
		e := d.tasks[id]
		t, err := d.decode(e)
		if err != nil {
			return nil, err
		}
		if keep(e, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// ListByStatus implements backends.Driver.
func (d *Driver[T, PT]) ListByStatus(ctx context.Context, status string, limit int) ([]*T, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return d.scan(limit, func(e *entry, _ *T) bool { return e.key.Status == status })
}

// Due implements backends.Driver.
func (d *Driver[T, PT]) Due(ctx context.Context, now time.Time, limit int) ([]*T, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return d.scan(limit, func(_ *entry, t *T) bool {
		at, ok := PT(t).TimeoutAt()
		return ok && !at.After(now)
	})
}

// DeleteFinished implements backends.Driver.
func (d *Driver[T, PT]) DeleteFinished(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	type old struct {
		id uuid.UUID
		at time.Time
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var olds []old
	for _, id := range d.order {
		t, err := d.decode(d.tasks[id])
		if err != nil {
			return 0, err
		}
		f, ok := any(PT(t)).(interface{ RetentionTime() (time.Time, bool) })
		if !ok {
			return 0, nil
		}
		if at, done := f.RetentionTime(); done && at.Before(before) {
			olds = append(olds, old{id, at})
		}
	}
	slices.SortFunc(olds, func(a, b old) int { return a.at.Compare(b.at) })
	if len(olds) > limit {
		olds = olds[:limit]
	}
	for _, o := range olds {
		delete(d.tasks, o.id)
		d.order = slices.DeleteFunc(d.order, func(id uuid.UUID) bool { return id == o.id })
	}
	return len(olds), nil
}

// listed is a task as the memory Lister sees it.
type listed struct {
	row      tasktype.Row
	status   string
	finished bool
	owner    string // "" when the model has no owner field or it is unset
}

// ListSource is a driver whose tasks the memory Lister can list: a
// memory.Driver of a model in the unified listing.
type ListSource interface {
	listed() ([]listed, error)
}

type listable interface {
	ListRow() tasktype.Row
	IsFinished() bool
	Owner() string
}

func (d *Driver[T, PT]) listed() ([]listed, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]listed, 0, len(d.order))
	for _, id := range d.order {
		e := d.tasks[id]
		t, err := d.decode(e)
		if err != nil {
			return nil, err
		}
		l, ok := any(PT(t)).(listable)
		if !ok {
			return nil, nil // the model is not in the unified listing
		}
		out = append(out, listed{row: l.ListRow(), status: e.key.Status, finished: l.IsFinished(), owner: l.Owner()})
	}
	return out, nil
}

// Lister is the unified listing over memory drivers.
type Lister struct{ sources []ListSource }

// NewLister returns a Lister over the given drivers.
func NewLister(sources ...ListSource) *Lister { return &Lister{sources: sources} }

var _ backends.Lister = (*Lister)(nil)

// List implements backends.Lister with the same rules as the SQL listers.
func (l *Lister) List(ctx context.Context, q backends.ListQuery) ([]tasktype.Row, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rows []tasktype.Row
	for _, src := range l.sources {
		all, err := src.listed()
		if err != nil {
			return nil, err
		}
		for _, x := range all {
			statuses, ok := q.Statuses[x.row.TaskType]
			switch {
			case !ok || !slices.Contains(statuses, x.status):
			case q.Tag != nil && (x.row.Tag == nil || *x.row.Tag != *q.Tag):
			case q.Owner != nil && (x.owner == "" || x.owner != *q.Owner):
			case x.row.CreatedAt.Before(q.Since) && x.finished:
			default:
				rows = append(rows, x.row)
			}
		}
	}
	slices.SortFunc(rows, func(a, b tasktype.Row) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return slices.Compare(b.ID[:], a.ID[:])
	})
	if q.Offset >= len(rows) {
		return []tasktype.Row{}, nil
	}
	rows = rows[q.Offset:]
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
	}
	return rows, nil
}
