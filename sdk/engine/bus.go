package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Change is one change of a task: its creation (From and Event empty), an
// event, or a progress update (Event empty, From equal to the status).
type Change[T any] struct {
	Task  *T
	Key   tasktype.Key
	From  string
	Event string
}

// Subscription is a stream of changes. Its channel is closed by Close, or
// when the context given to Subscribe or Watch ends.
type Subscription[T any] struct {
	C <-chan Change[T]
	c chan Change[T]

	mu      sync.Mutex
	dropped int
	err     error
	stop    func()
	once    sync.Once
}

// Err tells why a Watch subscription's channel closed, once it has: nil
// when its task finished, its context ended or it was closed; the read
// error otherwise: tasktype.ErrNotFound for a task deleted, a
// *backends.UndeclaredValueError for a task a newer spec moved to a status
// this program does not know (a rolling deploy), or the error of the
// store's last reads (WatchRetries in a row failed).
func (s *Subscription[T]) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// WatchRetries is how many polls in a row a Watch retries a read that
// failed (a connection lost) before it ends with the error.
const WatchRetries = 3

// Dropped returns how many changes were dropped because the subscriber did
// not keep up (its buffer was full). A subscriber that sees it grow should
// re-read the tasks it shows.
func (s *Subscription[T]) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Close ends the subscription and closes its channel.
func (s *Subscription[T]) Close() { s.once.Do(s.stop) }

func (s *Subscription[T]) send(ch Change[T]) {
	select {
	case s.c <- ch:
	default:
		s.mu.Lock()
		s.dropped++
		s.mu.Unlock()
	}
}

// bus fans the changes an engine makes out to in-process subscribers.
type bus[T any] struct {
	mu   sync.Mutex
	subs map[*Subscription[T]]interest
	// last is what was delivered, when other processes' changes are
	// delivered too (WithChanges); nil otherwise.
	last *delivered
	// pending holds the versions this engine is writing (WithChanges only).
	pending map[pendingKey]chan struct{}
}

// interest is what a subscription asks for: one task's changes or, with
// uuid.Nil, every task's; local: this engine's changes only.
type interest struct {
	id    uuid.UUID
	local bool
}

func (i interest) wants(id uuid.UUID) bool { return i.id == uuid.Nil || i.id == id }

func newBus[T any]() *bus[T] { return &bus[T]{subs: map[*Subscription[T]]interest{}} }

// publish delivers a change this engine made. With a change source, a
// version already delivered (or older than one delivered, from another
// process) reaches local subscriptions only: they see each change this
// engine makes, once.
func (b *bus[T]) publish(ch Change[T]) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fresh := true
	if b.last != nil {
		_, fresh = b.last.admit(ch.Key.ID, ch.Key.Version, ch.Key.Status)
	}
	for s, in := range b.subs {
		if in.wants(ch.Key.ID) && (fresh || in.local) {
			s.send(ch)
		}
	}
}

// publishRemote delivers a change another process made, if it is newer than
// what was delivered; guessFrom sets From to the status last delivered.
func (b *bus[T]) publishRemote(ch Change[T], guessFrom bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	prev, ok := b.last.admit(ch.Key.ID, ch.Key.Version, ch.Key.Status)
	if !ok {
		return
	}
	if guessFrom {
		ch.From = prev
	}
	for s, in := range b.subs {
		if in.wants(ch.Key.ID) && !in.local {
			s.send(ch)
		}
	}
}

// SubscriptionBuffer is how many changes a subscription holds before it
// drops.
const SubscriptionBuffer = 256

func (e *Engine[T, E, PT]) publish(x *T, from, event string) {
	e.bus.publish(Change[T]{Task: x, Key: PT(x).Key(), From: from, Event: event})
}

// Announce publishes to this engine's subscribers a change its store did not
// make through Create or Fire: sdk/worker calls it for tasks a
// backends.Claimer moved with event ev in SQL.
func (e *Engine[T, E, PT]) Announce(x *T, from string, ev E) { e.publish(x, from, string(ev)) }

// Subscribe streams the changes this engine makes, to the task id or, with
// uuid.Nil, to every task, until ctx ends or Close. It sees changes made in
// this process through this engine at once and, when the engine has a
// change source (WithChanges), other processes' changes too: each task's
// changes then arrive once each, in version order, but versions written in
// quick succession by another process may coalesce into the latest (its
// Change has no Event, and From is the status last delivered). While it
// lasts the engine listens to its change source (for PostgreSQL, a
// connection of its own, and a trigger that notifies on every write): a
// subscriber that wants this process's changes only, such as per-process
// metrics, uses SubscribeLocal. Watch polls one task when there is no
// change source.
//
// Writes through the engine's Store are not the engine's own: the
// sweeper of package sdk/sweep, built on Store(), times tasks out and
// deletes them there, and Subscribe delivers those changes only through a
// change source, as another process's.
func (e *Engine[T, E, PT]) Subscribe(ctx context.Context, id uuid.UUID) *Subscription[T] {
	return e.subscribe(ctx, interest{id: id})
}

// SubscribeLocal streams the changes this engine makes — through Create,
// Fire and the other writes, and Announce — to the task id or, with
// uuid.Nil, to every task, until ctx ends or Close: every one of them, at
// once, with its event, and none made by other processes, even when the
// engine has a change source. It does not start the change source, nor keep
// it running (WithChanges listens while there are Subscribe or Watch
// subscribers only); without a change source it is Subscribe.
func (e *Engine[T, E, PT]) SubscribeLocal(ctx context.Context, id uuid.UUID) *Subscription[T] {
	return e.subscribe(ctx, interest{id: id, local: true})
}

func (e *Engine[T, E, PT]) subscribe(ctx context.Context, in interest) *Subscription[T] {
	c := make(chan Change[T], SubscriptionBuffer)
	s := &Subscription[T]{C: c, c: c}
	ctx, cancel := context.WithCancel(ctx)
	e.bus.mu.Lock()
	e.bus.subs[s] = in
	e.bus.mu.Unlock()
	if !in.local {
		e.follow()
	}
	done := make(chan struct{})
	s.stop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		<-ctx.Done()
		if !in.local {
			e.unfollow()
		}
		e.bus.mu.Lock()
		delete(e.bus.subs, s)
		close(c)
		e.bus.mu.Unlock()
	}()
	return s
}

// Watch streams every change to one task, made by any process: it sends
// the task as it is now, then each new version, from this engine's changes
// at once and from other processes' at the poll interval (WithPollInterval)
// or, with a change source (WithChanges), as soon as the source delivers
// them; the poll then remains a safety net for what the source misses.
// Versions coalesce: a watcher sees the latest state, not every step (the
// history has every step). The stream ends after a terminal status, when
// the task is deleted, when it can no longer be read, or when ctx ends;
// the subscription's Err tells which.
func (e *Engine[T, E, PT]) Watch(ctx context.Context, id uuid.UUID) (*Subscription[T], error) {
	cur, err := e.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	local := e.Subscribe(ctx, id)
	c := make(chan Change[T], SubscriptionBuffer)
	s := &Subscription[T]{C: c, c: c}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	s.stop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		defer close(c)
		defer local.Close()
		var last tasktype.Key // versions start at 1: the first emit always sends
		emit := func(x *T, from, event string) bool {
			k := PT(x).Key()
			if k.Version <= last.Version {
				return true // not newer than what the watcher has
			}
			if from == "" && event == "" && last.Version > 0 {
				from = last.Status // a polled change: the event is unknown
			}
			last = k
			select {
			case c <- Change[T]{Task: x, Key: k, From: from, Event: event}:
			case <-ctx.Done():
				return false
			}
			return !finished(x)
		}
		if !emit(cur, "", "") {
			return
		}
		tick := time.NewTicker(e.poll)
		defer tick.Stop()
		failed := 0 // reads failed in a row
		for {
			select {
			case <-ctx.Done():
				return
			case ch, ok := <-local.C:
				if !ok {
					return
				}
				if !emit(ch.Task, ch.From, ch.Event) {
					return
				}
			case <-tick.C:
				x, err := e.store.Get(ctx, id)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					var ue *backends.UndeclaredValueError
					var sv *backends.StoredValueError
					if failed++; failed < WatchRetries && !errors.Is(err, tasktype.ErrNotFound) && !errors.As(err, &ue) && !errors.As(err, &sv) {
						continue // the next poll reads again
					}
					s.mu.Lock()
					s.err = err
					s.mu.Unlock()
					return
				}
				failed = 0
				if !emit(x, "", "") {
					return
				}
			}
		}
	}()
	return s, nil
}

func finished(x any) bool {
	f, ok := x.(interface{ IsFinished() bool })
	return ok && f.IsFinished()
}
