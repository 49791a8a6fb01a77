package worker_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

// warming is a memory driver that says its claims go cold every 20 ms
// (backends.ClaimWarmer) and counts the warmings; fail makes them fail.
type warming struct {
	*memory.Driver[analysis.Task, *analysis.Task]
	warms atomic.Int32
	fail  bool
}

func (d *warming) ClaimsCold(t time.Time) time.Time {
	return t.Truncate(20 * time.Millisecond).Add(20 * time.Millisecond)
}

func (d *warming) WarmClaims(context.Context) error {
	d.warms.Add(1)
	if d.fail {
		return errors.New("the database is away")
	}
	return nil
}

// TestPoolWarmsIdleClaims: a pool whose driver is a backends.ClaimWarmer
// warms its claims at the moments the driver gives while it waits for
// work, not while all its slots are busy, and a warming that fails
// changes nothing: the pool still runs what is queued.
func TestPoolWarmsIdleClaims(t *testing.T) {
	for _, fail := range []bool{false, true} {
		d := &warming{Driver: memory.New[analysis.Task](), fail: fail}
		e := newEngine(d, backendtest.NewClock())
		release := make(chan struct{})
		running := make(chan struct{}, 1)
		p := newPool(t, e, func(context.Context, *analysis.Task, *worker.Progress[analysis.Task]) error {
			running <- struct{}{}
			<-release
			return nil
		}, worker.Config{Concurrency: 1, PollInterval: time.Hour})
		stop := start(t, p)

		time.Sleep(200 * time.Millisecond)
		if n := d.warms.Load(); n < 3 {
			t.Errorf("fail=%v: %d warmings in 200 ms of idleness at one per 20 ms, want several", fail, n)
		}

		queued(t, e, 2)
		p.Wake()
		<-running
		before := d.warms.Load()
		time.Sleep(200 * time.Millisecond) // the one slot is busy: no claim, no warming
		if n := d.warms.Load() - before; n != 0 {
			t.Errorf("fail=%v: %d warmings while every slot was busy, want none", fail, n)
		}
		release <- struct{}{}
		<-running // the second task, claimed once the slot freed
		release <- struct{}{}
		stop()
	}
}
