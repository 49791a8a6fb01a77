package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/tasktype"
)

// ErrNoRequeue is Release's answer for a model whose worker section names
// no requeue event: nothing leads a claimed task back to the queue, so it
// cannot be given back (complete or fail it instead).
var ErrNoRequeue = errors.New("worker: the model's worker section has no requeue event, so a claimed task cannot go back to the queue")

// ErrNotHeld is Release's answer when the lease does not hold the task as
// read: the task left the running status (ended, cancelled, released
// already) or another claim took it over.
var ErrNotHeld = errors.New("worker: the lease does not hold the task")

// MaxReleaseReason is the longest reason a Release takes, in bytes.
const MaxReleaseReason = 1000

// releasedBy starts the history message of a release: "released by
// <owner> (attempt <n>, not counted)", then ": <reason>" when one was
// given. Rescue counts the rows that start so (see released).
const releasedBy = "released by "

// releaseMessage is the history message of the release of lease.
func releaseMessage(lease backends.Lease, reason string) string {
	msg := fmt.Sprintf("%s%s (attempt %d, not counted)", releasedBy, lease.Owner, lease.Attempt)
	if reason != "" {
		msg += ": " + reason
	}
	return msg
}

// Release gives back a task that lease holds but whose work has not
// started — the worker cannot run it (its command is missing, it is
// shutting down, it claimed more than it can take): the worker section's
// requeue event moves it back to the queue, as Rescue does for a lost
// lease, and the lease ends at once, so that any worker can claim the task
// right away instead of after the lease expires. The claim is not counted
// as an attempt: Rescue's max_attempts count leaves released claims out
// (the lease's attempt number itself still grows with every claim, so a
// released lease never matches a later claim, even the same owner's).
//
// cur is the task as read; the move is guarded by its version, and made
// only while lease holds it (Holds): otherwise Release returns ErrNotHeld,
// and tasktype.ErrConflict when the task moved meanwhile. The history row
// names the lease's owner and attempt, with the message "released by
// <owner> (attempt <n>, not counted)" and ": <reason>" when reason is not
// empty (at most MaxReleaseReason bytes). A model without a requeue event
// gets ErrNoRequeue.
//
// It returns the task in the queue. If the lease could not be ended after
// the move (the database went away), the task is returned with an error:
// it is back in the queue, and claimable once the lease expires.
func (l *Leases[T, E, PT]) Release(ctx context.Context, cur *T, lease backends.Lease, reason string) (*T, error) {
	if cur == nil {
		return nil, backends.ErrNilTask
	}
	if l.spec.Requeue == "" {
		return nil, ErrNoRequeue
	}
	if len(reason) > MaxReleaseReason {
		return nil, &tasktype.FieldError{Field: "reason", Rule: "max_len", Message: fmt.Sprintf("must be at most %d bytes", MaxReleaseReason)}
	}
	held, err := l.Holds(ctx, cur, lease)
	if err != nil {
		return nil, err
	}
	if !held {
		return nil, ErrNotHeld
	}
	meta := engine.Meta{Actor: lease.Owner, Attempt: lease.Attempt, Message: releaseMessage(lease, reason)}
	x, err := l.end(ctx, cur, E(l.spec.Requeue), nil, meta)
	if errors.Is(err, tasktype.ErrConflict) {
		// The task moved since it was read; perhaps by this very release,
		// a try whose answer was lost: then the lease is still to end.
		id := PT(cur).Key().ID
		if ok, rerr := l.Released(ctx, id, lease); rerr == nil && ok {
			if y, gerr := l.eng.Get(ctx, id); gerr == nil && PT(y).Key().Status == l.spec.Queue {
				x, err = y, nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	// The lease ends once the task is queued, guarded by its holder and by
	// the queue status (the move came first: a running task whose lease
	// ended would be Lost, and a rescue could fail it). Until then the
	// task is queued under a live lease, which no claim takes.
	k := PT(x).Key()
	now := l.eng.Now().UTC().Truncate(time.Microsecond)
	err = l.retry(ctx, func() error {
		_, err := l.driver.Heartbeat(ctx, k.ID, lease, l.spec.Queue, now)
		return err
	})
	if err != nil {
		return x, fmt.Errorf("worker: the task is back in the queue, but its lease could not be ended (it is claimable when the lease expires): %w", err)
	}
	// The next claim of these leases starts at the task (as for a task
	// this process queued): it lies at or behind their position. (The
	// requeue event told FollowLocal so too, but a claim it woke found the
	// lease still live.)
	if at := l.created(x); !at.IsZero() {
		l.pos.behind(backends.QueuePosition{CreatedAt: at, ID: k.ID})
	}
	return x, nil
}

// Released reports whether lease released the task: its history has the
// release row of lease's owner and attempt (an attempt number belongs to
// one claim), whatever happened to the task since.
func (l *Leases[T, E, PT]) Released(ctx context.Context, id uuid.UUID, lease backends.Lease) (bool, error) {
	hs, err := l.eng.History(ctx, id)
	if err != nil {
		return false, err
	}
	for _, h := range slices.Backward(hs) {
		if h.Actor == lease.Owner && h.Attempt == lease.Attempt && l.isRelease(h) {
			return true, nil
		}
	}
	return false, nil
}

// Ended reports whether lease ended task id: its history holds the end
// event a Finish with outcome writes (complete for nil, else fail) out of
// the running status, by the lease's owner at the lease's attempt. A
// worker that retries an end whose answer it lost (a dropped connection,
// a server restart) learns from it that the first try was written.
func (l *Leases[T, E, PT]) Ended(ctx context.Context, id uuid.UUID, lease backends.Lease, outcome error) (bool, error) {
	ev := l.spec.Complete
	if outcome != nil {
		ev = l.spec.Fail
	}
	hs, err := l.eng.History(ctx, id)
	if err != nil {
		return false, err
	}
	for _, h := range slices.Backward(hs) {
		if h.Actor == lease.Owner && h.Attempt == lease.Attempt {
			return h.Event == ev && h.From == l.spec.Running, nil
		}
	}
	return false, nil
}

// isRelease tells the history row of a Release: the requeue event out of
// the running status, by the lease's owner, with the release's message.
func (l *Leases[T, E, PT]) isRelease(h backends.History) bool {
	return l.spec.Requeue != "" && h.Event == l.spec.Requeue && h.From == l.spec.Running &&
		strings.HasPrefix(h.Message, fmt.Sprintf("%s%s (attempt %d,", releasedBy, h.Actor, h.Attempt))
}

// released counts the releases in a task's history: the claims that are
// not counted as attempts.
func (l *Leases[T, E, PT]) released(hs []backends.History) int {
	n := 0
	for _, h := range hs {
		if l.isRelease(h) {
			n++
		}
	}
	return n
}
