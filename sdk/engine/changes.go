package engine

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
)

// WithChanges gives the engine a stream of the changes other processes make
// to the model's tasks (backends/postgres.Notifier, backends.Poller):
// Subscribe and Watch then deliver them too. The engine listens while it
// has Subscribe or Watch subscribers; SubscribeLocal subscriptions neither
// start nor keep the listener. WithChanges(nil) removes a change source
// given by an earlier option.
func WithChanges(src backends.ChangeSource) Option { return func(o *options) { o.changes = src } }

// remote follows a ChangeSource for the engine's subscribers: it runs while
// there is at least one subscription.
type remote struct {
	src  backends.ChangeSource
	mu   sync.Mutex
	subs int
	stop func()
}

// delivered remembers the newest version delivered of each task, so that a
// change is delivered once and never after a newer one. Entries older than
// deliveredTTL are forgotten once the map grows past its bound.
type delivered struct {
	m       map[uuid.UUID]seen
	pruneAt int
}

type seen struct {
	version int64
	status  string
	at      time.Time
}

const (
	deliveredTTL   = time.Minute
	deliveredBound = 10000
)

// admit reports whether version is newer than the task's last delivered
// one, and records it if so, with the status it had before (empty if none
// was delivered). The bus lock is held.
func (d *delivered) admit(id uuid.UUID, version int64, status string) (prev string, ok bool) {
	if d.m == nil {
		d.m = map[uuid.UUID]seen{}
		d.pruneAt = deliveredBound
	}
	old, had := d.m[id]
	if had && version <= old.version {
		return "", false
	}
	now := time.Now()
	d.m[id] = seen{version: version, status: status, at: now}
	if len(d.m) > d.pruneAt {
		for k, s := range d.m {
			if now.Sub(s.at) > deliveredTTL {
				delete(d.m, k)
			}
		}
		d.pruneAt = max(deliveredBound, 2*len(d.m))
	}
	return old.status, true
}

// newer reports whether version is newer than the last delivered one,
// without recording it.
func (d *delivered) newer(id uuid.UUID, version int64) bool {
	s, had := d.m[id]
	return !had || version > s.version
}

// pendingKey is a version of a task this engine is writing.
type pendingKey struct {
	id      uuid.UUID
	version int64
}

// writing marks version of task id as being written by this engine, when it
// has a change source: a notice of that version then waits for the write to
// return and be published here, with its event. The returned func ends the
// mark.
func (e *Engine[T, E, PT]) writing(id uuid.UUID, version int64) func() {
	if e.remote == nil {
		return func() {}
	}
	k := pendingKey{id, version}
	b := e.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[pendingKey]chan struct{}{}
	}
	if _, busy := b.pending[k]; busy {
		return func() {} // a concurrent write of the same version marked it
	}
	c := make(chan struct{})
	b.pending[k] = c
	return func() {
		b.mu.Lock()
		delete(b.pending, k)
		b.mu.Unlock()
		close(c)
	}
}

// follow counts a new subscriber and starts listening on the first.
func (e *Engine[T, E, PT]) follow() {
	r := e.remote
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs++
	if r.subs > 1 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r.stop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		_ = r.src.Listen(ctx, func(n backends.Notice) { e.receive(ctx, n) })
	}()
}

// unfollow counts a subscriber gone and stops listening after the last.
func (e *Engine[T, E, PT]) unfollow() {
	r := e.remote
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs--
	if r.subs == 0 {
		stop := r.stop
		r.stop = nil
		go stop() // Listen may be inside receive, which takes the bus lock
	}
}

// receive turns a notice into a Change: the task is read, unless a version
// at least as new was already delivered (this engine's own changes come
// back as notices too).
func (e *Engine[T, E, PT]) receive(ctx context.Context, n backends.Notice) {
	e.bus.mu.Lock()
	fresh := e.bus.last.newer(n.ID, n.Version)
	e.bus.mu.Unlock()
	if !fresh {
		return
	}
	x, err := e.store.Get(ctx, n.ID)
	if err != nil {
		return // deleted since, or the listener is stopping
	}
	k := PT(x).Key()
	e.bus.mu.Lock()
	wait := e.bus.pending[pendingKey{k.ID, k.Version}]
	e.bus.mu.Unlock()
	if wait != nil {
		select { // this engine wrote it: its own publish carries the event
		case <-wait:
		case <-ctx.Done():
			return
		}
	}
	from := n.From
	if k.Version != n.Version {
		from = "" // a later change: the status before it is the last delivered one
	}
	e.bus.publishRemote(Change[T]{Task: x, Key: k, From: from}, from == "" && k.Version != 1)
}
