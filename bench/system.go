package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// store is where a system keeps its jobs for one run: a fresh PostgreSQL
// schema of the private cluster, or a fresh SQLite file.
type store struct {
	sqlite bool
	// url is the cluster's URL (PostgreSQL); schema the run's schema.
	url, schema string
	// path is the SQLite file.
	path string
}

// system is one queue under comparison: taskmodel, River, River tuned.
type system struct {
	name string
	// open prepares st (migrations included) and returns the system over it.
	open func(ctx context.Context, st store) (instance, error)
	// sqlite tells whether the system runs on SQLite too.
	sqlite bool
	// burnOnly marks a reference that runs only the PostgreSQL burn-downs
	// (SQL alone).
	burnOnly bool
}

// instance is a system over one store, for one run.
type instance interface {
	// fill inserts n no-op jobs in bulk, before a run's clock starts.
	fill(ctx context.Context, n int) error
	// insert inserts one no-op job carrying at, the moment its insert was
	// asked for (Unix nanoseconds).
	insert(ctx context.Context, at int64) error
	// work starts workers of concurrency conc. started is called as each
	// job's handler starts, with the job's at (0 for a filled job); the
	// returned counter counts the jobs whose completion was committed.
	work(ctx context.Context, conc int, started func(at int64)) (*counter, error)
	// countDone reads how many jobs are completed in the store: the
	// fallback when completions were not all seen (a dropped event).
	countDone(ctx context.Context) (int, error)
	// analyze refreshes the planner's statistics of the job tables
	// (PostgreSQL), as autovacuum does after a bulk insert.
	analyze(ctx context.Context) error
	// close stops the workers and closes the store.
	close() error
}

// counter counts completions and tells when a target is reached.
type counter struct {
	done    atomic.Int64
	poke    chan struct{} // signalled after each completion
	dropped func() int    // completions the system did not tell (events dropped)
}

func newCounter(dropped func() int) *counter {
	return &counter{poke: make(chan struct{}, 1), dropped: dropped}
}

// add counts one completion.
func (c *counter) add() {
	c.done.Add(1)
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

// wait returns once target completions were counted — or, when the system
// dropped some of its completion events, once the store shows them — and
// fails after limit.
func (c *counter) wait(ctx context.Context, inst instance, target int, limit time.Duration) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(limit)
	for c.done.Load() < int64(target) {
		select {
		case <-c.poke:
		case <-tick.C:
			if c.dropped() == 0 {
				continue
			}
			done, err := inst.countDone(ctx)
			if err != nil {
				return err
			}
			if done >= target {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("%d of %d jobs completed after %s", c.done.Load(), target, limit)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
