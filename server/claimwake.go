package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/taskmodel/taskmodel/backends"
)

// claimArmAfter is how long a waiting claim waits, having found nothing,
// before it asks its models' wakers to watch for tasks queued by other
// processes: the pause sdk/worker's pools take before arming, for the same
// reason (on PostgreSQL an armed trigger makes the next queued task NOTIFY,
// which serializes commits; a worker kept busy claims again before it arms).
const claimArmAfter = 10 * time.Millisecond

// claimWakerLinger is how long a model's waker keeps listening after its
// last waiting claim ended: workers that long-poll one claim after another
// keep one listener, and a server whose workers went away holds none.
const claimWakerLinger = time.Minute

// claimWakers wake the waiting worker claims of the server when another
// process queues a task: one backends.Waker per model whose driver has one
// (generated PostgreSQL and SQLite drivers), started when the model's first
// claim waits and shared by every claim waiting on the model — on
// PostgreSQL one LISTEN connection per model, never one per request. A
// waker stops claimWakerLinger after the model's last waiting claim, and
// when the server closes. Tasks queued in the server's process wake claims
// without it (typedWork.queued); Config.ClaimPoll stays the safety net.
type claimWakers struct {
	log    *slog.Logger
	linger time.Duration

	mu      sync.Mutex
	closed  bool
	byModel map[string]*claimWaker
	running sync.WaitGroup // the Wake calls
}

// claimWaker is the shared waker of one model.
type claimWaker struct {
	model string
	w     backends.Waker
	// warm, when the model's driver has it, warms the model's claims
	// while claims wait, at the moments it gives (as an idle sdk/worker
	// pool does): the claim after a wake-up then does not pay for
	// preparing and planning its statement; warms counts the warmings that
	// succeeded.
	warm  backends.ClaimWarmer
	warms int
	// idle tells the waker that a claim found nothing and waits (the
	// Waker's idle signal).
	idle chan struct{}
	// waiting are the wake channels of the claims waiting on the model
	// (guarded by claimWakers.mu).
	waiting map[chan struct{}]struct{}
	// stop ends the running Wake call, nil while none runs; starts counts
	// the calls started.
	stop   context.CancelFunc
	starts int
	// idles counts the idle signals of claims.
	idles int
	// linger stops the Wake call once no claim has waited for a while.
	linger *time.Timer
}

func newClaimWakers(log *slog.Logger) *claimWakers {
	return &claimWakers{log: log, linger: claimWakerLinger, byModel: map[string]*claimWaker{}}
}

// join registers a claim's wake channel (buffered, one slot) with the
// shared waker of model, starting it if none runs: w's wake-ups then send
// on wake until leave is called. idle is called when the claim found
// nothing to claim and has waited claimArmAfter. Without a Waker (w nil),
// or once the server closed, join registers nothing and idle does nothing.
func (cw *claimWakers) join(model string, w backends.Waker, warm backends.ClaimWarmer, wake chan struct{}) (idle, leave func()) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if w == nil || cw.closed {
		return func() {}, func() {}
	}
	m := cw.byModel[model]
	if m == nil {
		m = &claimWaker{model: model, w: w, warm: warm, idle: make(chan struct{}, 1), waiting: map[chan struct{}]struct{}{}}
		cw.byModel[model] = m
	}
	m.waiting[wake] = struct{}{}
	if m.linger != nil {
		m.linger.Stop()
		m.linger = nil
	}
	if m.stop == nil {
		cw.start(m)
	}
	idle = func() {
		cw.mu.Lock()
		m.idles++
		cw.mu.Unlock()
		select {
		case m.idle <- struct{}{}:
		default:
		}
	}
	leave = func() {
		cw.mu.Lock()
		defer cw.mu.Unlock()
		delete(m.waiting, wake)
		if len(m.waiting) > 0 || m.stop == nil || m.linger != nil {
			return
		}
		stop := m.stop
		var t *time.Timer
		t = time.AfterFunc(cw.linger, func() {
			cw.mu.Lock()
			defer cw.mu.Unlock()
			if m.linger != t {
				return // a claim joined since
			}
			m.linger = nil
			if m.stop != nil && len(m.waiting) == 0 {
				m.stop = nil
				stop()
			}
		})
		m.linger = t
	}
	return idle, leave
}

// start runs m's Wake until it is stopped; cw.mu is held.
func (cw *claimWakers) start(m *claimWaker) {
	ctx, stop := context.WithCancel(context.Background())
	m.stop = stop
	m.starts++
	if m.warm != nil {
		cw.running.Go(func() { cw.warming(ctx, m) })
	}
	cw.running.Go(func() {
		defer stop()
		err := m.w.Wake(ctx, m.idle, func() { cw.wake(m) })
		if err != nil && ctx.Err() == nil {
			cw.log.Error("listening for tasks queued by other processes failed; waiting claims poll", "model", m.model, "error", err)
		}
		cw.mu.Lock()
		defer cw.mu.Unlock()
		if ctx.Err() == nil && m.stop != nil {
			// Wake gave up on its own: the next claim to wait starts it
			// again.
			m.stop = nil
		}
	})
}

// warming warms m's claims at the moments m.warm gives while claims wait
// on m, until ctx ends.
func (cw *claimWakers) warming(ctx context.Context, m *claimWaker) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		d, ok := backends.NextWarm(m.warm, time.Now())
		if !ok {
			return
		}
		t.Reset(d)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cw.mu.Lock()
		waiting := len(m.waiting) > 0
		cw.mu.Unlock()
		if !waiting {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, backends.WarmTimeout)
		err := m.warm.WarmClaims(wctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				cw.log.Debug("warming the claims failed", "model", m.model, "error", err)
			}
			continue
		}
		cw.mu.Lock()
		m.warms++
		cw.mu.Unlock()
	}
}

// wake tells every claim waiting on m to look again.
func (cw *claimWakers) wake(m *claimWaker) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	for c := range m.waiting {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// close stops every waker and waits for them to return (a PostgreSQL
// listener unregisters as it stops); claims that wait afterwards poll.
func (cw *claimWakers) close() {
	cw.mu.Lock()
	cw.closed = true
	for _, m := range cw.byModel {
		if m.linger != nil {
			m.linger.Stop()
			m.linger = nil
		}
		if m.stop != nil {
			m.stop()
			m.stop = nil
		}
	}
	cw.mu.Unlock()
	cw.running.Wait()
}

// stats returns, for tests, how many claims wait on model, how many times
// its waker was started, how many idle signals claims gave it (a claim
// gives one after it found nothing and waited claimArmAfter), and how many
// times its claims were warmed with success.
func (cw *claimWakers) stats(model string) (waiting, starts, idles, warms int) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if m := cw.byModel[model]; m != nil {
		return len(m.waiting), m.starts, m.idles, m.warms
	}
	return 0, 0, 0, 0
}
