package backends

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/tasktype"
	"github.com/taskmodel/taskmodel/validation"
)

// Key is what a guarded write compares (an alias of tasktype.Key, which
// generated models return from their Key method).
type Key = tasktype.Key

// History is one status change of a task, the creation included (Seq 1,
// empty From and Event).
type History struct {
	Seq     int64     `json:"seq"`
	From    string    `json:"from_status,omitempty"`
	To      string    `json:"to_status"`
	Event   string    `json:"event,omitempty"`
	At      time.Time `json:"at"`
	Attempt int       `json:"attempt"`
	Actor   string    `json:"actor"`
	Message string    `json:"message"`
}

// KeyReader is a Driver that reads the keys of many tasks in one query:
// sdk/worker polls it for the tasks a pool runs, to see cancellations made
// by other processes. Every driver of this module implements it.
type KeyReader interface {
	// Keys returns the keys of those of the ids whose task exists, in no
	// particular order.
	Keys(ctx context.Context, ids []uuid.UUID) ([]Key, error)
}

// BatchInserter is a Driver that writes many new tasks at once, all or
// none: one statement on PostgreSQL, one transaction on SQLite, one lock in
// memory. Every driver of this module implements it; Store.CreateMany needs
// it.
type BatchInserter[T any] interface {
	// InsertMany writes the tasks and their first history rows (hs[i] is
	// tasks[i]'s). ErrDuplicate, and nothing written, if an id exists or
	// repeats.
	InsertMany(ctx context.Context, tasks []*T, hs []History) error
}

// Driver stores the tasks of one model in one engine. Implementations are
// generated (PostgreSQL, SQLite) or generic (memory); Store is their only
// caller. Every method is safe for concurrent use.
type Driver[T any] interface {
	// Insert writes a new task and its first history row. ErrDuplicate if the
	// id exists.
	Insert(ctx context.Context, task *T, h History) error
	// Get reads a task. ErrNotFound if there is none.
	Get(ctx context.Context, id uuid.UUID) (*T, error)
	// Transition writes next over the task if it still has from's status and
	// version, and appends h (its Seq is assigned by the driver). It reports
	// false, and writes nothing, when the guard fails or the task is gone.
	Transition(ctx context.Context, from Key, next *T, h History) (bool, error)
	// Update writes next over the task if it still has from's status and
	// version, without a history row (the status does not change).
	Update(ctx context.Context, from Key, next *T) (bool, error)
	// Delete removes a task and its history; false if there was none.
	Delete(ctx context.Context, id uuid.UUID) (bool, error)
	// History returns a task's history in order.
	History(ctx context.Context, id uuid.UUID) ([]History, error)
	// ListByStatus returns up to limit tasks in a status, oldest first.
	ListByStatus(ctx context.Context, status string, limit int) ([]*T, error)
	// Due returns up to limit tasks whose status timeout has passed at now.
	Due(ctx context.Context, now time.Time, limit int) ([]*T, error)
	// DeleteFinished removes up to limit finished tasks, with their history,
	// whose last change is older than before, oldest first, and returns how
	// many it removed.
	DeleteFinished(ctx context.Context, before time.Time, limit int) (int, error)
}

// Model is what Store needs of a generated model struct: PT is *T, with the
// methods taskgen generates on every model.
type Model[T any, E ~string] interface {
	*T
	// Fire applies an event in memory: lifecycle, required fields, entry
	// timestamp, updated_at and version.
	Fire(ev E, at time.Time) error
	// Validate checks every limit of the spec.
	Validate() error
	// Key returns the task's id, status and version.
	Key() Key
	// Init makes a new task: id, initial status, version 1, created_at and
	// updated_at.
	Init(id uuid.UUID, at time.Time)
	// Touch records a change that keeps the status: version + 1, updated_at.
	Touch(at time.Time)
}

// Meta describes a change for its history row. Its text is stored as
// every backend can keep it, not refused: a NUL or a byte that is not
// UTF-8 becomes U+FFFD, the actor is made one line
// (validation.StorableText), and each is cut to MaxHistoryText bytes, its
// middle left out. A message is often an error's text, which the program
// did not choose; refusing it would lose the change it describes.
type Meta struct {
	Actor   string // who made the change: a user, a worker id, "sweeper"
	Message string
	Attempt int
}

// MaxHistoryText is the most bytes of a history row's actor and message:
// the size of MySQL's TEXT column, the smallest of the engines'. Longer
// text loses its middle (tasktype.CutMiddleBytes): a failure's detail keeps
// its summary and the end of its stack trace.
const MaxHistoryText = 65_535

// storable is m with text every backend stores (validation.StorableText):
// the actor single-line, the message multi-line (a failure's detail holds
// a stack trace), both at most MaxHistoryText bytes. A message built from
// an error's text may hold a NUL or bytes that are not UTF-8, which
// PostgreSQL refuses and SQLite would keep, and be longer than MySQL
// stores (which refused the whole write).
func (m Meta) storable() Meta {
	m.Actor = tasktype.CutMiddleBytes(validation.StorableText(m.Actor, false), MaxHistoryText)
	m.Message = tasktype.CutMiddleBytes(validation.StorableText(m.Message, true), MaxHistoryText)
	return m
}

// Store applies the lifecycle rules over a Driver. T is a generated model
// struct, E its Event type.
type Store[T any, E ~string, PT Model[T, E]] struct {
	driver Driver[T]
	now    func() time.Time
	newID  func() uuid.UUID
}

// Option configures a Store.
type Option func(*options)

type options struct {
	now   func() time.Time
	newID func() uuid.UUID
}

// WithClock sets the clock (tests use a fake one). The default is time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithIDs sets how new task ids are made. The default is uuid.NewV7, which
// sorts by creation time and keeps B-tree inserts local.
func WithIDs(newID func() uuid.UUID) Option { return func(o *options) { o.newID = newID } }

// NewStore returns a Store over driver.
func NewStore[T any, E ~string, PT Model[T, E]](driver Driver[T], opts ...Option) *Store[T, E, PT] {
	o := options{now: time.Now, newID: func() uuid.UUID { return uuid.Must(uuid.NewV7()) }}
	for _, opt := range opts {
		opt(&o)
	}
	return &Store[T, E, PT]{driver: driver, now: o.now, newID: o.newID}
}

// Driver returns the store's driver.
func (s *Store[T, E, PT]) Driver() Driver[T] { return s.driver }

func (s *Store[T, E, PT]) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// ErrNilTask is the error of a call given a nil task ("task: must not be
// nil"); the engine and the worker leases return it too.
var ErrNilTask error = &tasktype.FieldError{Field: "task", Rule: "required", Message: "must not be nil"}

// Create stamps task (a new id unless it has one, the initial status,
// version 1, created_at and updated_at), validates it and writes it. It
// returns the stored task.
func (s *Store[T, E, PT]) Create(ctx context.Context, task *T, meta Meta) (*T, error) {
	if task == nil {
		return nil, ErrNilTask
	}
	next, h, err := s.stamp(task, s.clock(), meta)
	if err != nil {
		return nil, err
	}
	if err := s.driver.Insert(ctx, next, h); err != nil {
		return nil, err
	}
	return next, nil
}

// stamp returns a copy of task as Create stores it (its id, or a new one,
// the initial status, version 1, created at at), validated, with its first
// history row.
func (s *Store[T, E, PT]) stamp(task *T, at time.Time, meta Meta) (*T, History, error) {
	next := *task
	id := PT(&next).Key().ID
	if id == uuid.Nil {
		id = s.newID()
	}
	PT(&next).Init(id, at)
	if err := PT(&next).Validate(); err != nil {
		return nil, History{}, err
	}
	meta = meta.storable()
	return &next, History{Seq: 1, To: PT(&next).Key().Status, At: at, Attempt: meta.Attempt, Actor: meta.Actor, Message: meta.Message}, nil
}

// CreateMany creates many tasks as Create does, all or none, at one time
// (their created_at): a bulk create costs one round trip and one commit on
// PostgreSQL. It validates every task before it writes any: a validation
// error names the task's index ("tasks[3]: ...") and wraps the task's own
// error. The driver must be a BatchInserter (every driver of this module
// is; a wrapper must forward InsertMany): with another, CreateMany writes
// nothing and says so, rather than write one by one and leave a part
// written.
func (s *Store[T, E, PT]) CreateMany(ctx context.Context, tasks []*T, meta Meta) ([]*T, error) {
	b, ok := s.driver.(BatchInserter[T])
	if !ok {
		return nil, fmt.Errorf("create many: driver %T writes one task at a time (it is not a backends.BatchInserter); create the tasks one by one", s.driver)
	}
	out := make([]*T, len(tasks))
	hs := make([]History, len(tasks))
	at := s.clock()
	for i, task := range tasks {
		if task == nil {
			return nil, &tasktype.FieldError{Field: fmt.Sprintf("tasks[%d]", i), Rule: "required", Message: "must not be nil"}
		}
		var err error
		if out[i], hs[i], err = s.stamp(task, at, meta); err != nil {
			return nil, fmt.Errorf("tasks[%d]: %w", i, err)
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	if err := b.InsertMany(ctx, out, hs); err != nil {
		return nil, err
	}
	return out, nil
}

// Get reads a task; tasktype.ErrNotFound if there is none.
func (s *Store[T, E, PT]) Get(ctx context.Context, id uuid.UUID) (*T, error) {
	return s.driver.Get(ctx, id)
}

// Fire reads the task and fires ev on it. mutate, if not nil, sets the
// fields the event carries (an error message, say) on a copy before the
// event is applied. A concurrent change makes it fail with ErrConflict.
func (s *Store[T, E, PT]) Fire(ctx context.Context, id uuid.UUID, ev E, mutate func(*T), meta Meta) (*T, error) {
	cur, err := s.driver.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.FireFrom(ctx, cur, ev, mutate, meta)
}

// FireFrom fires ev on a task the caller has already read, guarded by the
// status and version it was read with: no extra read.
func (s *Store[T, E, PT]) FireFrom(ctx context.Context, cur *T, ev E, mutate func(*T), meta Meta) (*T, error) {
	if cur == nil {
		return nil, ErrNilTask
	}
	from := PT(cur).Key()
	next := *cur
	if mutate != nil {
		mutate(&next)
		if err := keyChanged(from, PT(&next).Key(), "the event's mutate function", "the event sets the status"); err != nil {
			return nil, err
		}
	}
	at := s.clock()
	if err := PT(&next).Fire(ev, at); err != nil {
		return nil, err
	}
	if err := s.validateChange(ctx, from.ID, &next); err != nil {
		return nil, err
	}
	meta = meta.storable()
	h := History{From: from.Status, To: PT(&next).Key().Status, Event: string(ev), At: at, Attempt: meta.Attempt, Actor: meta.Actor, Message: meta.Message}
	ok, err := s.driver.Transition(ctx, from, &next, h)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.lost(ctx, from, func(now *T) error { return PT(now).Fire(ev, at) })
	}
	return &next, nil
}

// Update changes fields of a task the caller has read, without changing its
// status (progress, details): mutate edits a copy, which is validated and
// written guarded by the status and version cur was read with.
func (s *Store[T, E, PT]) Update(ctx context.Context, cur *T, mutate func(*T)) (*T, error) {
	if cur == nil {
		return nil, ErrNilTask
	}
	from := PT(cur).Key()
	next := *cur
	mutate(&next)
	if err := keyChanged(from, PT(&next).Key(), "Update", "fire an event to change the status"); err != nil {
		return nil, err
	}
	PT(&next).Touch(s.clock())
	if err := s.validateChange(ctx, from.ID, &next); err != nil {
		return nil, err
	}
	ok, err := s.driver.Update(ctx, from, &next)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.lost(ctx, from, nil)
	}
	return &next, nil
}

// keyChanged is the error for a mutate function (of who) that changed the
// task's id, status or version, which the store keeps to guard the write,
// naming the field; nil when none changed. instead says what to do.
func keyChanged(from, to tasktype.Key, who, instead string) error {
	field := ""
	switch {
	case to.ID != from.ID:
		field = "id"
	case to.Status != from.Status:
		field = "status"
	case to.Version != from.Version:
		field = "version"
	default:
		return nil
	}
	return &tasktype.FieldError{Field: field, Rule: "immutable", Message: who + " cannot change the task's id, status or version; " + instead}
}

// lost tells a failed guard apart: the task is gone (ErrNotFound), or it
// changed (a *ConflictError). refire, when not nil, tries the write's
// event on a copy of the task as it is now: its transition refusal
// becomes the ConflictError's Refused.
func (s *Store[T, E, PT]) lost(ctx context.Context, from tasktype.Key, refire func(now *T) error) error {
	cur, err := s.driver.Get(ctx, from.ID)
	if err != nil {
		return err
	}
	out := &ConflictError{ID: from.ID, Read: from, Now: PT(cur).Key()}
	if refire != nil && out.Now != from {
		now := *cur
		if err := refire(&now); errors.Is(err, tasktype.ErrTransitionNotAllowed) {
			out.Refused = err
		}
	}
	return out
}

// Delete removes a task and its history.
func (s *Store[T, E, PT]) Delete(ctx context.Context, id uuid.UUID) error {
	ok, err := s.driver.Delete(ctx, id)
	if err == nil && !ok {
		err = tasktype.ErrNotFound
	}
	return err
}

// History returns the status changes of a task, oldest first.
func (s *Store[T, E, PT]) History(ctx context.Context, id uuid.UUID) ([]History, error) {
	h, err := s.driver.History(ctx, id)
	if err == nil && len(h) == 0 {
		return nil, tasktype.ErrNotFound
	}
	return h, err
}
