package backends

import (
	"bytes"
	"context"
	"time"

	"github.com/google/uuid"
)

// Lease identifies one hold of a task by a worker. A task's lease is taken
// over when it expires, and every take-over increments Attempt: a
// worker that lost its lease can no longer heartbeat it, because the
// (Owner, Attempt) pair it holds is stale.
type Lease struct {
	Owner   string
	Attempt int
}

// Claim is a task with the lease a worker holds, or held, on it.
type Claim[T any] struct {
	Task  *T
	Lease Lease
}

// WorkDriver is the Driver of a model whose spec has a worker section: it
// also keeps each task's lease (in the task row, for the generated drivers:
// migration <model>/0008_lease_in_row). Generated drivers of such models and
// the memory driver implement it; sdk/worker is its caller.
type WorkDriver[T any] interface {
	Driver[T]
	// Reserve leases up to limit tasks in status queue that no live lease
	// holds (none, or one that expired by now) to owner until expires,
	// oldest first, and returns them with their lease. Their status, version
	// and fields are unchanged: the worker then fires the claim event,
	// guarded by the version it read. Concurrent callers never reserve the
	// same task.
	Reserve(ctx context.Context, queue, owner string, now, expires time.Time, limit int) ([]Claim[T], error)
	// Heartbeat extends a lease to expires while its holder still has it and
	// the task is still in status running; false tells the worker to stop.
	// It sets the expiry whatever it is: sdk/worker's Release ends a lease
	// with it, passing the queue status (the task was just requeued) and
	// now, which makes the task claimable at once.
	Heartbeat(ctx context.Context, id uuid.UUID, lease Lease, running string, expires time.Time) (bool, error)
	// Lost returns up to limit tasks in status running whose lease expired by
	// now, with the lease that expired: their worker is gone. running must be
	// the worker section's running status: the generated PostgreSQL drivers
	// have it written in their query (for its plan) and refuse another with
	// ErrValidation.
	Lost(ctx context.Context, running string, now time.Time, limit int) ([]Claim[T], error)
}

// Claimer is a WorkDriver that fires the worker section's claim event in the
// statement that reserves: one round trip and one commit for a whole batch
// of claims, instead of a reservation and then a guarded Fire per task.
// Generated PostgreSQL drivers implement it when the claim event requires no
// fields; sdk/worker uses it when the driver has it, and Reserve with Fire
// otherwise.
type Claimer[T any] interface {
	WorkDriver[T]
	// Claim leases tasks as Reserve does (in the worker section's queue) and
	// moves each one with the claim event exactly as the model's Fire would at
	// now — status, version + 1, updated_at, the entry timestamp and the
	// progress the status maps — appending its history row (actor owner,
	// attempt the lease's, message "claimed by <owner> (attempt <n>)"). It
	// claims only tasks that come after after in the claim order (all of
	// them when after is zero), and returns the claimed tasks, in that order,
	// with their leases, and the position of the last one (zero when it
	// claimed none).
	Claim(ctx context.Context, owner string, now, expires time.Time, limit int, after QueuePosition) ([]Claim[T], QueuePosition, error)
}

// QueuePosition is a task's place in the order workers claim a queue in:
// oldest first, by creation time, then id. The zero QueuePosition comes
// before every task.
//
// A claim that starts after the last task a worker claimed does not step over
// the index entries of the tasks claimed before: on PostgreSQL those stay,
// dead, at the head of the queue's range of the status index until VACUUM
// removes them, and a claim from the head read all of them. Claim from the
// zero position now and then: a task can become claimable behind a
// position (requeued, queued again by an event, or created by a process
// whose clock is behind).
type QueuePosition struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// IsZero reports whether p is the zero position.
func (p QueuePosition) IsZero() bool { return p.CreatedAt.IsZero() && p.ID == uuid.Nil }

// Before reports whether p comes before q in the claim order.
func (p QueuePosition) Before(q QueuePosition) bool { return p.Compare(q) < 0 }

// Compare returns -1, 0 or +1 as p comes before, at or after q in the
// claim order: by creation time, then by id.
func (p QueuePosition) Compare(q QueuePosition) int {
	if c := p.CreatedAt.Compare(q.CreatedAt); c != 0 {
		return c
	}
	return bytes.Compare(p.ID[:], q.ID[:])
}

// Waker is a WorkDriver that can tell a worker pool when tasks were queued
// by other processes, so that an idle pool claims them at once instead of at
// its next poll. Generated PostgreSQL drivers implement it with LISTEN/NOTIFY
// (backends/postgres.WakeListener), generated SQLite drivers by watching the
// database file for commits (backends/sqlite.Wake); sdk/worker's Pool uses
// it when its driver has it.
type Waker interface {
	// Wake calls wake, from one goroutine, when tasks may have become
	// claimable in the worker section's queue, until ctx ends, and then
	// returns ctx's error. Connection failures are retried, not returned;
	// after each (re)connection Wake calls wake once, since what was queued
	// meanwhile was not heard.
	//
	// The caller sends on idle when it found nothing to claim and has waited
	// since: only then does a source start to watch (PostgreSQL arms its
	// trigger, SQLite checks the queue on the next commit), and it calls wake
	// at once if tasks were queued between the caller's last look and that
	// moment. A source watches from one idle signal to the wake that follows:
	// while the caller keeps busy, writers notify nothing.
	Wake(ctx context.Context, idle <-chan struct{}, wake func()) error
}

// ClaimWarmer is a Claimer whose first claim of a while pays for work the
// claims after it reuse: on PostgreSQL, a claim prepares its statement and
// makes its plan on the connection it runs on, anew every
// postgres.ReplanEvery (postgres.Replanned), which made the claim that
// follows a wake-up after such a moment a round trip and a plan slower. An
// idle pool warms its claims at the moments ClaimsCold gives, so that the
// claim that follows a wake-up usually finds them ready (when it runs on
// the connection the warming ran on, which a pool hands out first). A warm
// claim changes no row, but it is a statement like a claim: it takes the
// same table locks, and statement-level triggers of the task and history
// tables fire for it.
type ClaimWarmer interface {
	// ClaimsCold returns the first moment after t at which the claims
	// need warming again; the zero time when they never do.
	ClaimsCold(t time.Time) time.Time
	// WarmClaims runs a claim that claims nothing, preparing what the
	// next claims reuse.
	WarmClaims(ctx context.Context) error
}

// WarmTimeout bounds a WarmClaims call: a warming that takes longer is of
// no use.
const WarmTimeout = time.Second

// NextWarm returns how long to wait, from now, before warming w's claims:
// a millisecond after the moment they go cold, and never less than 10 ms
// (should w give a moment already past); false when they never go cold.
func NextWarm(w ClaimWarmer, now time.Time) (time.Duration, bool) {
	at := w.ClaimsCold(now)
	if at.IsZero() {
		return 0, false
	}
	return max(at.Sub(now)+time.Millisecond, 10*time.Millisecond), true
}
