package backends

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Notice says that a task changed: enough to read it, not the task itself.
type Notice struct {
	ID      uuid.UUID
	Version int64  // the version the change wrote
	Status  string // the status after the change
	From    string // the status before it, when the source knows it (PostgreSQL updates)
	At      time.Time
}

// ChangeSource streams notices of the changes made to the tasks of one
// model by any process: backends/postgres.Notifier (LISTEN/NOTIFY) and
// Poller (polling). sdk/engine turns them into Changes
// (engine.WithChanges).
type ChangeSource interface {
	// Listen calls fn with each notice, from one goroutine, until ctx ends,
	// and then returns ctx's error. Connection failures are retried, not
	// returned. A notice may repeat, or be for a version older than one
	// already seen: the receiver keeps what is new.
	Listen(ctx context.Context, fn func(Notice)) error
}

// ChangeLister is a Driver that lists the tasks changed since a point in
// (updated_at, id) order: generated SQLite drivers implement it for
// Poller.
type ChangeLister interface {
	ChangedSince(ctx context.Context, since time.Time, afterID uuid.UUID, limit int) ([]Notice, error)
}
