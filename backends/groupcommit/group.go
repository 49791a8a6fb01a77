// Package groupcommit commits concurrent writes of a SQL driver together:
// one round trip and one transaction for the writes that arrive while the
// previous batch is written (Group). The PostgreSQL and MySQL drivers use
// it for guarded transitions and creates.
package groupcommit

import (
	"context"
	"errors"
	"sync"
)

// ErrNotApplied is the result of an item whose guard failed: its write
// changed nothing, and the batch is not aborted.
var ErrNotApplied = errors.New("groupcommit: the guard of the write failed")

// Group commits concurrent writes together: calls to Do that arrive while a
// batch is being written wait and go out as the next batch, one round trip
// and one commit for all of them (the pattern of River's batch completer).
// No call waits for a timer: a lone call is written at once, and batches grow
// only as fast as calls arrive. The SQL drivers use it for guarded
// transitions and creates; P is a write's parameters.
type Group[P any] struct {
	// flush writes a batch in one transaction and reports each item's error:
	// nil when it was applied, ErrNotApplied when its guard failed.
	flush func(ctx context.Context, items []P) []error
	// single writes one item on its own, with the caller's context: used
	// when nothing else is pending, so a lone write pays no batching cost.
	single func(ctx context.Context, item P) error
	// split takes the next batch from the queue, under mu: up to
	// groupMaxBatch calls, in order, with distinct keys (one statement cannot
	// update a row twice); the others wait for the next batch.
	split func(queue []*groupCall[P]) (batch, rest []*groupCall[P])

	// maxInFlight bounds the batches written at once (groupMaxInFlight
	// unless SetMaxInFlight changed it).
	maxInFlight int

	mu       sync.Mutex
	queue    []*groupCall[P]
	inFlight int
	// calls keeps answered calls, with their channels, for reuse: a call
	// per write was a fifth of the bytes the worker benchmark allocated
	// outside pgx.
	calls sync.Pool
}

type groupCall[P any] struct {
	p    P
	done chan error
}

// groupMaxBatch bounds the items of one batch: 256 did 3 % more than 128
// in the worker benchmark at concurrency 1000.
const groupMaxBatch = 256

// groupMaxInFlight bounds the batches written at once by default: one.
// Two concurrent batches update the same index pages (the newest entries
// of the status and history-time indexes) and each commits about half as
// many rows. On 2 cores against PostgreSQL, three alternated runs of each
// (bench/, the training model's burn-down of 50,000 tasks on a private
// server): at concurrency 100 one batch ran 18.4k–19.3k tasks/s against
// 14.9k–16.3k for two, the server spending 57–58 µs of CPU a task against
// 71–78 (a transition batch of 50 tasks against 27); at 1000 and 4000 as
// fast or faster with less server CPU; creation while working (8 producers,
// one create at a time) 3.33k–3.78k against 2.42k–3.12k. MySQL measured the
// same. SetMaxInFlight changes it for a group.
const groupMaxInFlight = 1

// NewGroup returns a Group writing batches with flush and lone items with
// single; key identifies the row each item writes.
func NewGroup[P any, K comparable](flush func(ctx context.Context, items []P) []error, single func(ctx context.Context, item P) error, key func(P) K) *Group[P] {
	g := &Group[P]{flush: flush, single: single, maxInFlight: groupMaxInFlight}
	seen := make(map[K]struct{}, groupMaxBatch)
	g.split = func(queue []*groupCall[P]) (batch, rest []*groupCall[P]) {
		clear(seen)
		batch = make([]*groupCall[P], 0, min(len(queue), groupMaxBatch))
		for _, c := range queue {
			k := key(c.p)
			if _, dup := seen[k]; len(batch) < groupMaxBatch && !dup {
				seen[k] = struct{}{}
				batch = append(batch, c)
			} else {
				rest = append(rest, c)
			}
		}
		return batch, rest
	}
	return g
}

// SetMaxInFlight bounds the batches written at once to n (at least 1);
// call it before the group's first Do. A lone write (Do with nothing
// pending) counts as a batch.
func (g *Group[P]) SetMaxInFlight(n int) {
	g.mu.Lock()
	g.maxInFlight = max(n, 1)
	g.mu.Unlock()
}

// Do writes p with the next batch and returns its own result. If ctx ends
// while p waits its turn, Do returns ctx.Err(), and p may or may not have
// been written (as with any write whose reply is lost).
func (g *Group[P]) Do(ctx context.Context, p P) error {
	g.mu.Lock()
	if g.inFlight == 0 && len(g.queue) == 0 {
		// Nothing else is being written: write this one now, in the caller's
		// goroutine. Calls arriving meanwhile queue and go as a batch.
		g.inFlight++
		g.mu.Unlock()
		err := g.single(ctx, p)
		g.mu.Lock()
		if len(g.queue) > 0 {
			g.mu.Unlock()
			go g.run() // keeps this in-flight slot for the queued calls
		} else {
			g.inFlight--
			g.mu.Unlock()
		}
		return err
	}
	c, _ := g.calls.Get().(*groupCall[P])
	if c == nil {
		c = &groupCall[P]{done: make(chan error, 1)}
	}
	c.p = p
	g.queue = append(g.queue, c)
	lead := g.inFlight < g.maxInFlight
	if lead {
		g.inFlight++
	}
	g.mu.Unlock()
	if lead {
		go g.run()
	}
	select {
	case err := <-c.done:
		var zero P
		c.p = zero
		g.calls.Put(c)
		return err
	case <-ctx.Done():
		// The call is answered later, into its buffered channel: it is
		// not reused.
		return ctx.Err()
	}
}

// run writes batches until the queue is empty.
func (g *Group[P]) run() {
	for {
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.inFlight--
			g.mu.Unlock()
			return
		}
		batch, rest := g.split(g.queue)
		g.queue = rest
		g.mu.Unlock()
		g.write(batch)
	}
}

func (g *Group[P]) write(batch []*groupCall[P]) {
	items := make([]P, len(batch))
	for i, c := range batch {
		items[i] = c.p
	}
	// The batch is written on its own: a caller that gives up must not
	// abort the others' transaction.
	errs := g.flush(context.Background(), items)
	failed := false
	for _, err := range errs {
		if err != nil && !errors.Is(err, ErrNotApplied) {
			failed = true
		}
	}
	if failed && len(batch) > 1 {
		// One item's error aborted the shared transaction: nothing of it was
		// committed. Write each item alone, so only the culprit fails.
		for _, c := range batch {
			c.done <- g.flush(context.Background(), []P{c.p})[0]
		}
		return
	}
	for i, c := range batch {
		c.done <- errs[i]
	}
}
