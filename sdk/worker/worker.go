package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/tasktype"
	"github.com/taskmodel/taskmodel/validation"
)

// Model is what a pool needs of a generated model struct with a worker
// section: PT is *T.
type Model[T any, E ~string] interface {
	engine.Model[T, E]
	// PrepareFailure fills the fields the fail event requires.
	PrepareFailure(code, message string) E
}

// Handler runs one task. It returns nil when the work succeeded, and an
// error otherwise: an *Error carries a code of the spec's error codes, any
// other error fails the task with the worker section's error_code. A
// failure is final: the pool does not run the task again (the worker
// section's max_attempts counts the claims whose lease expired, a worker
// that vanished). A nil *Error returned as an error is success.
//
// ctx is cancelled when the task leaves the running status (cancelled,
// timed out by the sweeper, deleted), when the pool loses the task's
// lease, and when a shutdown's grace period ends: a handler must return
// soon after. context.Cause(ctx) tells which: ErrTaskEnded (a
// *TaskEndedError naming the task's status now), ErrLeaseLost,
// ErrShutdown, or tasktype.ErrClosed when the database was closed under
// the pool (see Run).
//
// task is the task as claimed, in the worker section's running status. Fields
// the handler sets on it (its results) are written with the task's end, by
// the complete or the fail event, and validated then: a value its field's
// limits refuse fails the task at once, from its stored copy, with the
// worker section's error code and a message that starts "the handler's
// result was refused:". A handler may set every field but the task's id,
// status and version, which the pool needs to end the task: a task whose
// handler changed one of them fails the same way, the message saying which.
// (Workers over HTTP may set fewer: the result fields of the worker
// protocol.) p.Report writes the task too, with the fields set
// on it so far, and refreshes task in place (its version, its progress):
// fields set after a report are written with the end as well.
//
// The pool enforces none of the spec's status timeouts: the sweeper of
// package sdk/sweep does (for the analysis model, 30 minutes in PROCESSING
// fail the task with TIMEOUT_ERROR), and the pool then cancels ctx as it
// does for a cancelled task.
type Handler[T any] func(ctx context.Context, task *T, p *Progress[T]) error

// Error is a handler failure with an error code of the spec. A code the
// spec does not declare is replaced by the worker section's error_code, and
// the task's message starts with "[error code X is not one of the model's]".
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	switch {
	case e == nil:
		return "<nil>"
	case e.Code == "":
		return e.Message
	case e.Message == "":
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Fail returns an *Error with a code and a message.
func Fail(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Config tunes a pool. Zero values take the defaults.
type Config struct {
	// Owner names the pool in leases and history (default host/pid/random).
	Owner string
	// Concurrency is how many handlers run at once (default 10). A slot
	// whose handler has returned takes its next task while the task's end
	// (completed or failed) is committed; up to Concurrency such ends (512
	// at most) may be in flight, and Run returns once they are written.
	Concurrency int
	// PollInterval is how long an idle pool waits before it looks for queued
	// tasks again (default 1s). Tasks queued through the pool's engine wake
	// it at once (engine.SubscribeLocal); tasks queued by other processes
	// wake it too when its driver is a backends.Waker (the generated
	// PostgreSQL and SQLite drivers: a NOTIFY from the model's wake trigger,
	// or a watch of the SQLite file), within milliseconds (figures in
	// docs/benchmarks.md). The poll remains the safety net: a wake-up lost
	// while the listener reconnects, or a driver that cannot wake.
	PollInterval time.Duration
	// NoWake turns off the wake-up by tasks queued in other processes
	// (backends.Waker): the pool then finds them by its poll alone, and
	// holds no listening connection.
	NoWake bool
	// CancelCheck is how often the pool reads its running tasks' statuses
	// (one query for up to 1000 tasks) to see a cancellation made by another
	// process (default 250ms): a handler sees its context cancelled within
	// two CancelChecks. A task is first read at the second check after it
	// started, so one that ends sooner costs no read.
	CancelCheck time.Duration
	// Heartbeat is how often the pool renews a running task's lease
	// (default a third of the lease).
	Heartbeat time.Duration
	// RescueInterval is how often the pool looks for tasks whose lease
	// expired (default the lease).
	RescueInterval time.Duration
	// NoRescue turns the pool's rescue loop off (Rescue can still be called).
	NoRescue bool
	// ShutdownGrace is how long Run lets running handlers finish after its
	// context ends before it cancels theirs (default 10s).
	ShutdownGrace time.Duration
	// Logger receives the pool's log lines (default slog.Default()).
	Logger *slog.Logger
}

// Pool claims queued tasks of one model and runs a handler on each, under a
// lease it renews by heartbeats. Many pools, in many processes, may work on
// one database: a task is reserved by one worker at a time (SKIP LOCKED on
// PostgreSQL), and a worker that loses its lease stops.
type Pool[T any, E ~string, PT Model[T, E]] struct {
	eng     *engine.Engine[T, E, PT]
	driver  backends.WorkDriver[T]
	leases  *Leases[T, E, PT]
	spec    tasktype.Worker
	handler Handler[T]
	cfg     Config
	log     *slog.Logger

	slots   chan struct{} // a token per running handler
	ending  chan struct{} // a token per end event being written, its slot freed
	wake    chan struct{}
	running sync.WaitGroup
	inRun   atomic.Bool // Run is running: a second concurrent Run is refused

	mu sync.Mutex
	// active is the running tasks, for checkCancels. An entry is one run of
	// a task: a task lost and requeued may run again in this pool while
	// its earlier run is still returning, and each run removes and cancels
	// only its own entry.
	active map[uuid.UUID]*activeRun
	// checks counts checkCancels' reads: a run records the count when it
	// starts, and is first read by the second check after that.
	checks uint64
}

// job is a claimed task for a runner.
type job[T any] struct {
	x     *T
	lease backends.Lease
}

// session is what one Run shares with the runners it starts.
type session[T any] struct {
	work context.Context // the handlers' parent: cancelled when ShutdownGrace ends
	// jobs hands a claimed task to an idle runner (unbuffered: a send
	// succeeds only when one waits).
	jobs chan job[T]
	// ends hands a task's end to an idle finisher (unbuffered).
	ends chan func()
	done chan struct{} // closed when Run returns: idle runners exit
	// pos is where the next claim starts (a backends.Claimer's).
	pos cursor
}

// headEvery is how often a pool claims from the head of the queue rather
// than after the last task it claimed (sooner at first: cursor.headGap): a
// task that another process queued behind that position (requeued,
// created early and queued late, created by a process whose clock is
// behind) is found within about this long, plus a PollInterval when the
// pool is idle, and the tasks behind the position are then claimed first.
// One that the pool's own process queued is claimed at once
// (cursor.behind), and so are those that land shortly behind it while the
// claims look behind (cursor.straggled). A variable for the tests.
var headEvery = time.Second

// New returns a pool that runs handler on the tasks of eng's model. The
// engine must have been given the model's worker section (engine.WithWorker)
// and a driver that keeps leases (a backends.WorkDriver).
func New[T any, E ~string, PT Model[T, E]](eng *engine.Engine[T, E, PT], handler Handler[T], cfg Config) (*Pool[T, E, PT], error) {
	leases, err := NewLeases(eng)
	if err != nil {
		return nil, err
	}
	spec, driver := leases.spec, leases.driver
	if handler == nil {
		return nil, errors.New("worker: handler is nil")
	}
	if cfg.Concurrency < 0 {
		return nil, &tasktype.FieldError{Field: "Concurrency", Rule: "gte", Value: strconv.Itoa(cfg.Concurrency), Message: "must not be negative (0 is the default, 10)"}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"PollInterval", cfg.PollInterval}, {"CancelCheck", cfg.CancelCheck}, {"Heartbeat", cfg.Heartbeat}, {"RescueInterval", cfg.RescueInterval}, {"ShutdownGrace", cfg.ShutdownGrace}} {
		if d.v < 0 {
			return nil, &tasktype.FieldError{Field: d.name, Rule: "gte", Value: d.v.String(), Message: "must not be negative (0 is the default)"}
		}
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		cfg.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if len(cfg.Owner) > MaxOwnerLen {
		return nil, &tasktype.FieldError{Field: "Owner", Rule: "max", Message: "must be at most 200 characters"}
	}
	if err := validation.CheckText(cfg.Owner, false); err != nil {
		// It is written into every lease and history row the pool
		// writes: PostgreSQL refuses a NUL, and a line break would
		// break a log line.
		return nil, &tasktype.FieldError{Field: "Owner", Rule: "text", Value: cfg.Owner, Message: err.Error()}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 10
	}
	def(&cfg.PollInterval, time.Second)
	def(&cfg.CancelCheck, 250*time.Millisecond)
	def(&cfg.Heartbeat, spec.Lease/3)
	def(&cfg.RescueInterval, spec.Lease)
	def(&cfg.ShutdownGrace, 10*time.Second)
	if cfg.Heartbeat >= spec.Lease {
		return nil, &tasktype.FieldError{Field: "Heartbeat", Rule: "lt", Value: cfg.Heartbeat.String(),
			Message: fmt.Sprintf("must be shorter than the worker section's lease (%s)", spec.Lease)}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Pool[T, E, PT]{
		eng: eng, driver: driver, leases: leases, spec: spec, handler: handler, cfg: cfg,
		log:    cfg.Logger.With("worker", cfg.Owner),
		slots:  make(chan struct{}, cfg.Concurrency),
		ending: make(chan struct{}, min(cfg.Concurrency, maxEnding)),
		wake:   make(chan struct{}, 1),
		active: map[uuid.UUID]*activeRun{},
	}, nil
}

// Owner returns the name the pool holds leases under.
func (p *Pool[T, E, PT]) Owner() string { return p.cfg.Owner }

// Run claims and runs tasks until ctx ends, then stops claiming and waits
// for the running handlers: ShutdownGrace later it cancels their contexts
// and waits for them to return. A task whose handler was cut short stays in
// the running status until its lease expires and a pool rescues it. A task
// claimed as ctx ended is not started: it goes back to the queue at once,
// its claim not counted as an attempt (Leases.Release), when the model has
// a requeue event. Run returns nil when ctx ends.
//
// Close the database after Run returns. Closed under it, Run stops
// claiming, ends the handlers' contexts at once (their cause is the error
// Run returns), waits for them and returns an error that is
// tasktype.ErrClosed; the ends of their tasks are not written, and those
// tasks run again once their leases expire.
func (p *Pool[T, E, PT]) Run(ctx context.Context) error {
	if !p.inRun.CompareAndSwap(false, true) {
		return errors.New("worker: Run is already running on this pool")
	}
	defer p.inRun.Store(false)
	work, stopWork := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopWork(nil)
	// closed ends the loop below, and what it started, when the database
	// was closed under the pool: nothing can be claimed or written again.
	ctx, closed := context.WithCancelCause(ctx)
	defer closed(nil)
	ses := &session[T]{work: work, jobs: make(chan job[T]), ends: make(chan func()), done: make(chan struct{})}
	defer close(ses.done)
	sub := p.eng.SubscribeLocal(ctx, uuid.Nil)
	defer sub.Close()
	go func() {
		for ch := range sub.C {
			if p.leases.queuedLocally(&ses.pos, ch) {
				p.Wake()
			}
		}
	}()
	idle, wakeDone := p.listenForWakes(ctx, func() {
		ses.pos.wokenByOther()
		p.Wake()
	})
	if !p.cfg.NoRescue {
		go p.rescueLoop(ctx)
	}
	go p.cancelLoop(ses.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	armTimer := time.NewTimer(time.Hour)
	armTimer.Stop()
	defer armTimer.Stop()
	warmer, _ := p.driver.(backends.ClaimWarmer)
	warmTimer := time.NewTimer(time.Hour)
	warmTimer.Stop()
	defer warmTimer.Stop()
	// warmAt arms warmTimer for the moment the claims go cold next, and
	// returns its channel (nil when they never do).
	warmAt := func() <-chan time.Time {
		if warmer == nil {
			return nil
		}
		d, ok := backends.NextWarm(warmer, time.Now())
		if !ok {
			return nil
		}
		warmTimer.Reset(d)
		return warmTimer.C
	}
	for ctx.Err() == nil {
		if len(p.slots) == cap(p.slots) {
			// Every slot is busy: wait for one to free, then claim at once.
			select {
			case p.slots <- struct{}{}:
				<-p.slots
			case <-ctx.Done():
				continue
			}
		}
		free := cap(p.slots) - len(p.slots)
		n, err := p.claim(ctx, ses, free)
		if errors.Is(err, tasktype.ErrClosed) && ctx.Err() == nil {
			err = fmt.Errorf("worker: the database was closed while the pool ran (close it after Run returns): %w", err)
			closed(err)
			stopWork(err)
			break
		}
		if err != nil && ctx.Err() == nil {
			p.log.Error("claim failed", "err", err)
		}
		if err == nil && n == free {
			continue // a full batch: more may be waiting
		}
		timer.Reset(p.cfg.PollInterval)
		var arm <-chan time.Time
		if idle != nil {
			armTimer.Reset(armAfter)
			arm = armTimer.C
		}
		warm := warmAt()
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				waiting = false
			case <-p.wake:
				waiting = false
			case <-timer.C:
				waiting = false
			case <-arm:
				arm = nil
				select {
				case idle <- struct{}{}:
				default:
				}
			case <-warm:
				p.warmClaims(ctx, warmer)
				warm = warmAt()
			}
		}
		armTimer.Stop()
		warmTimer.Stop()
	}
	defer func() { <-wakeDone }() // the listener unregisters as it stops
	done := make(chan struct{})
	go func() { p.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.cfg.ShutdownGrace):
		stopWork(ErrShutdown)
		<-done
	}
	if err := context.Cause(ctx); errors.Is(err, tasktype.ErrClosed) {
		return err
	}
	return nil
}

// warmClaims runs a claim that claims nothing while the pool waits
// (backends.ClaimWarmer), so that the claim after its next wake-up finds
// the statement and plan the driver renews at intervals ready: on
// PostgreSQL, without it, that claim paid a round trip and a plan once a
// second, which was the 99th percentile of an idle pool's pickup latency.
func (p *Pool[T, E, PT]) warmClaims(ctx context.Context, w backends.ClaimWarmer) {
	ctx, cancel := context.WithTimeout(ctx, backends.WarmTimeout) // Run's loop waits for it
	defer cancel()
	if err := w.WarmClaims(ctx); err != nil && ctx.Err() == nil {
		p.log.Debug("warming the claims failed", "err", err)
	}
}

// armAfter is how long a pool waits, having found nothing to claim, before
// it asks its backends.Waker to watch for tasks queued by other processes
// (and claims once more, for those queued meanwhile). A pool kept busy —
// by a backlog, or by its own process's creations, which wake it sooner —
// does not arm: each arming costs a statement, a claim, and on PostgreSQL
// the NOTIFY of the next task queued, which serializes commits. In the
// end-to-end benchmark (PostgreSQL, concurrency 128, 20,000 tasks) a pool
// armed 45 times at 2 ms and not once at 10 ms. A task queued by another
// process is thus claimed within about armAfter when the pool had been
// busy until just before, and within milliseconds on a quiet queue.
const armAfter = 10 * time.Millisecond

// listenForWakes starts the driver's backends.Waker, unless Config.NoWake
// or the driver has none, until ctx ends, calling wake when it wakes the
// pool: it returns the channel Run signals idleness on (nil without a
// Waker) and a channel closed once the Waker has returned.
func (p *Pool[T, E, PT]) listenForWakes(ctx context.Context, wake func()) (chan struct{}, <-chan struct{}) {
	done := make(chan struct{})
	w, ok := p.driver.(backends.Waker)
	if !ok || p.cfg.NoWake {
		close(done)
		return nil, done
	}
	idle := make(chan struct{}, 1)
	go func() {
		defer close(done)
		if err := w.Wake(ctx, idle, wake); err != nil && ctx.Err() == nil {
			p.log.Error("listening for tasks queued by other processes failed; polling", "err", err)
		}
	}()
	return idle, done
}

// Wake makes an idle pool look for queued tasks now.
func (p *Pool[T, E, PT]) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// claim reserves up to free tasks, fires the claim event on each and starts
// its handler; it returns how many it reserved.
func (p *Pool[T, E, PT]) claim(ctx context.Context, ses *session[T], free int) (int, error) {
	claims, n, err := p.leases.claim(ctx, &ses.pos, nil, p.cfg.Owner, free)
	for _, c := range claims {
		if ctx.Err() != nil && p.spec.Requeue != "" {
			// Run is stopping: a task claimed as it stopped is given back,
			// not started (its claim is not counted as an attempt).
			p.release(ctx, c)
			continue
		}
		p.start(ses, c.Task, c.Lease)
	}
	if n > len(claims) {
		p.log.Info("reserved tasks not claimed: they changed since they were reserved", "tasks", n-len(claims))
	}
	return n, err
}

// releaseTimeout bounds the release of a task a stopping pool claimed.
const releaseTimeout = 10 * time.Second

// release gives back a task the pool claimed but will not start
// (Leases.Release); a task it cannot give back is rescued when its lease
// expires.
func (p *Pool[T, E, PT]) release(ctx context.Context, c Claimed[T]) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	id := PT(c.Task).Key().ID
	if _, err := p.leases.Release(rctx, c.Task, c.Lease, "the worker pool is shutting down"); err != nil {
		p.log.Warn("giving back a task claimed during the shutdown failed; it will be rescued when its lease expires", "task", id, "err", err)
		return
	}
	p.log.Info("gave back a task claimed during the shutdown", "task", id)
}

// start runs the handler on a claimed task in a slot of its own, on an
// idle runner, or on a new one when none is idle.
func (p *Pool[T, E, PT]) start(ses *session[T], x *T, lease backends.Lease) {
	p.slots <- struct{}{}
	p.running.Add(1)
	j := job[T]{x: x, lease: lease}
	select {
	case ses.jobs <- j:
	default:
		go p.runner(ses, j)
	}
}

// runner runs jobs until Run returns, and hands each task's end to a
// finisher. Runners outlive their tasks so that a goroutine's stack, once
// grown to what a handler needs, serves the next task: a goroutine per task
// grew a fresh stack for every task (runtime.newstack was 12 % of the pool's
// CPU with a no-op handler). There are at most about Concurrency of them,
// the most that were busy at once.
func (p *Pool[T, E, PT]) runner(ses *session[T], j job[T]) {
	for {
		end := p.run(ses.work, j.x, j.lease)
		if end != nil {
			// The slot takes its next task while the end event is written:
			// the write waits for its group commit, a commit's time that a
			// short handler's slot would otherwise spend idle. At most
			// Concurrency ends (maxEnding at most) wait at once; beyond, the
			// slot waits for one.
			p.ending <- struct{}{}
		}
		<-p.slots
		if end != nil {
			select {
			case ses.ends <- end:
			default:
				go p.finisher(ses, end)
			}
		}
		select {
		case j = <-ses.jobs:
		case <-ses.done:
			return
		}
	}
}

// Why a handler's context was cancelled: context.Cause(ctx) is one of
// these (errors.Is), or the cause of the context given to Run's parent.
var (
	// ErrTaskEnded: the task left the running status while its handler ran
	// (a user cancelled it, the sweeper timed it out, another writer moved
	// it, or it was deleted). The cause is a *TaskEndedError, which names
	// the status the task is in. The pool writes nothing for the task.
	ErrTaskEnded = errors.New("the task left the running status")
	// ErrLeaseLost: the pool lost the task's lease (a heartbeat found it
	// taken, or it was not renewed for a whole lease): another worker may
	// run the task now. The pool writes nothing for the task.
	ErrLeaseLost = errors.New("the worker lost the task's lease")
	// ErrShutdown: Run's context ended and the handler was still running
	// when ShutdownGrace ran out. The pool writes nothing for the task
	// unless the handler returns nil: it stays in the running status until
	// its lease expires and a pool rescues it.
	ErrShutdown = errors.New("the worker pool is shutting down")
)

// TaskEndedError is the cause of a handler's context's cancellation when
// its task left the running status: errors.Is(err, ErrTaskEnded).
// Progress.Report returns one too, wrapping the store's conflict, when the
// task left the running status before the report was written.
type TaskEndedError struct {
	// Status is the status the task is in now: the status of the model's
	// cancel event for a cancel, the one of its timeout for a timeout; ""
	// when the task was deleted.
	Status string
	// Err is the error of the write that found the task gone from the
	// running status (a report's), if any.
	Err error
}

// Unwrap returns Err.
func (e *TaskEndedError) Unwrap() error { return e.Err }

func (e *TaskEndedError) Error() string {
	if e.Status == "" {
		return ErrTaskEnded.Error() + ": it was deleted"
	}
	return ErrTaskEnded.Error() + ": it is " + e.Status + " now (cancelled, timed out, or moved by another writer)"
}

// Is reports whether target is ErrTaskEnded.
func (e *TaskEndedError) Is(target error) bool { return target == ErrTaskEnded }

// run runs the handler on one claimed task. It returns the task's end (the
// end event's write, then the run's cleanup) for a finisher to call, or nil
// when the task is not to be ended here (cancelled, lease lost, shutdown);
// the caller frees the slot either way.
func (p *Pool[T, E, PT]) run(work context.Context, x *T, lease backends.Lease) (end func()) {
	id := PT(x).Key().ID
	ctx, cancel := context.WithCancelCause(work)
	p.mu.Lock()
	me := &activeRun{cancel: cancel, since: p.checks}
	p.active[id] = me
	p.mu.Unlock()
	// The handler gets a copy of its own: the claimed task is shared with
	// the engine's subscribers, and each Report refreshes the handler's
	// copy in place.
	mine := new(T)
	*mine = *x
	prog := &Progress[T]{report: p.eng.ProgressFrom, cur: mine, written: *x, running: p.spec.Running}
	w := p.watch(ctx, cancel, id, lease)
	ctx, endProcess := p.leases.startProcess(ctx, x, lease)
	var err error
	cleanup := func() {
		endProcess(err)
		p.mu.Lock()
		if p.active[id] == me {
			delete(p.active, id)
		}
		p.mu.Unlock()
		p.running.Done()
	}

	err = p.call(ctx, mine, prog)
	if e, ok := err.(*Error); ok && e == nil {
		// A helper's `var e *Error; return e` is a non-nil error holding a
		// nil pointer: its author meant success.
		err = nil
	}
	cancel(nil)
	w.stop()
	if cause := context.Cause(ctx); errors.Is(cause, ErrTaskEnded) || cause == ErrLeaseLost {
		p.log.Info("handler stopped", "task", id, "why", cause)
		cleanup()
		return nil
	}
	if work.Err() != nil && err != nil {
		// Cut short by the end of ShutdownGrace (its error is most likely
		// its context's): not a failure of the task. A handler that
		// returned nil finished its work, and its end is written below.
		p.log.Warn("handler cut short by shutdown; "+p.leases.afterExpiry(lease), "task", id, "attempt", lease.Attempt)
		cleanup()
		return nil
	}
	return func() {
		// The handler's context without its cancellation: the end event's
		// write, in the handler's trace.
		wctx := context.WithoutCancel(ctx)
		var ferr error
		refused := "" // why the handler's copy cannot end the task
		cur, written := prog.current()
		if k, w := PT(cur).Key(), PT(&written).Key(); k.ID != w.ID {
			refused = "the handler changed the task's id; " + handlerSets
		} else if k.Status != w.Status {
			refused = fmt.Sprintf("the handler set the task's status (to %s); the pool moves the task with the worker section's events, and %s", k.Status, handlerSets)
		} else if k.Version != w.Version {
			refused = fmt.Sprintf("the handler set the task's version (to %d, from %d); %s", k.Version, w.Version, handlerSets)
		} else if _, ferr = p.leases.Finish(wctx, cur, lease, err, nil); errors.Is(ferr, tasktype.ErrValidation) {
			refused = "the handler's result was refused: " + ferr.Error()
		}
		if refused != "" {
			// No end can be written from the handler's copy: fail the
			// task now, from the copy stored, rather than leave it
			// running until its lease expires and run it again.
			outcome := err
			if outcome == nil {
				outcome = &Error{Message: refused}
			}
			ferr = errors.New(refused)
			if stored, gerr := p.eng.Get(wctx, id); gerr == nil {
				p.log.Error("the handler's task could not be ended as it left it; failing it from its stored copy", "task", id, "err", ferr)
				_, ferr = p.leases.Finish(wctx, stored, lease, outcome, nil)
			}
		}
		if ferr != nil {
			if p.leftRunning(context.WithoutCancel(ctx), id, ferr) {
				// Cancelled after the handler's last check, or rescued:
				// nothing left to rescue.
				p.log.Warn("the task left the running status while its handler ran (cancelled, or rescued after its lease expired); its end was not written", "task", id, "err", ferr)
			} else {
				p.log.Error("ending the task failed; "+p.leases.afterExpiry(lease), "task", id, "attempt", lease.Attempt, "err", ferr)
			}
		}
		cleanup()
	}
}

// leftRunning reports whether a failed end write failed because the task
// is no longer running (cancelled while its handler returned), as the
// store says now.
func (p *Pool[T, E, PT]) leftRunning(ctx context.Context, id uuid.UUID, err error) bool {
	if !errors.Is(err, tasktype.ErrConflict) && !errors.Is(err, tasktype.ErrTransitionNotAllowed) {
		return false
	}
	if ce, ok := errors.AsType[*backends.ConflictError](err); ok && ce.Now.Status != "" {
		return ce.Now.Status != p.spec.Running // the status the conflict found: no read
	}
	x, gerr := p.eng.Get(ctx, id)
	return gerr == nil && PT(x).Key().Status != p.spec.Running
}

// maxEnding bounds the ends a pool writes at once, its slots freed: two
// group-committed batches of 256. Beyond it a slot waits for its end, and
// a pool of thousands of slots keeps thousands fewer goroutines.
const maxEnding = 512

// finisher calls ends until Run returns. Each waits for its group commit;
// finishers, like runners, outlive their tasks, and a runner never waits for
// a commit: its stack stays a handler's, a finisher's a write's (a runner
// that also wrote the end had its stack shrunk by the collector while idle
// and grown again by the next write: about a fifth of the client's CPU at
// concurrency 4000, by perf).
func (p *Pool[T, E, PT]) finisher(ses *session[T], end func()) {
	for {
		end()
		<-p.ending
		select {
		case end = <-ses.ends:
		case <-ses.done:
			return
		}
	}
}

// panicError is a handler panic, with its stack.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

func (p *Pool[T, E, PT]) call(ctx context.Context, x *T, prog *Progress[T]) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: debug.Stack()}
		}
	}()
	return p.handler(ctx, x, prog)
}

// watch renews the lease until ctx ends or the returned watcher is stopped,
// and cancels the handler when the lease was lost, or not renewed for a
// whole lease (the worker then assumes another may have it), on one timer
// that serves both. Cancellations by other processes are checkCancels' job,
// for all running tasks at once.
func (p *Pool[T, E, PT]) watch(ctx context.Context, cancel context.CancelCauseFunc, id uuid.UUID, lease backends.Lease) *watcher {
	w := &watcher{held: time.Now()} // the lease runs at least until held + Lease
	w.nextBeat = w.held.Add(p.cfg.Heartbeat)
	w.beat = func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.stopped || ctx.Err() != nil {
			return
		}
		if time.Since(w.held) > p.spec.Lease {
			cancel(ErrLeaseLost)
			return
		}
		if now := time.Now(); !now.Before(w.nextBeat) {
			w.nextBeat = now.Add(p.cfg.Heartbeat)
			ok, err := p.driver.Heartbeat(ctx, id, lease, p.spec.Running, p.eng.Now().Add(p.spec.Lease))
			switch {
			case err != nil:
				if ctx.Err() == nil {
					p.log.Warn("heartbeat failed", "task", id, "err", err)
				}
			case !ok:
				cancel(ErrLeaseLost)
				return
			default:
				w.held = now
			}
		}
		next := w.nextBeat
		if deadline := w.held.Add(p.spec.Lease); deadline.Before(next) {
			next = deadline
		}
		w.timer.Reset(max(time.Until(next), time.Millisecond))
	}
	// Most tasks end before the timer fires, and then no goroutine ever runs
	// for their watch (a firing runs beat on a goroutine of its own, which
	// ends with it): a goroutine per running task cost a stack to create,
	// and for the garbage collector to scan, for every task.
	w.mu.Lock()
	w.timer = time.AfterFunc(min(p.cfg.Heartbeat, p.spec.Lease), w.beat)
	w.mu.Unlock()
	return w
}

// watcher is the watch of one running task: beat runs on its timer's
// goroutine, under mu.
type watcher struct {
	mu       sync.Mutex
	timer    *time.Timer
	beat     func()
	held     time.Time // when the lease was last known held
	nextBeat time.Time
	stopped  bool
}

// stop ends the watch, after a beat that is running (its heartbeat ends
// early: the caller cancels the task's context first), so that nothing of
// the watch runs once stop returns.
func (w *watcher) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}

// cancelLoop runs checkCancels every CancelCheck until stop is closed.
func (p *Pool[T, E, PT]) cancelLoop(stop <-chan struct{}) {
	t := time.NewTicker(p.cfg.CancelCheck)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-stop; cancel() }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.checkCancels(ctx)
		}
	}
}

// keysBatch bounds the ids of one Keys query.
const keysBatch = 1000

// activeRun is one run of a task, in Pool.active.
type activeRun struct {
	cancel context.CancelCauseFunc
	since  uint64 // Pool.checks when the run started
}

// checkCancels reads the running tasks' statuses and cancels the handler of
// each task that left the running status or is gone: one query per 1000
// running tasks with a backends.KeyReader driver (every driver here), one
// read per task otherwise. A task running for a minute used to cost 240
// reads of its own.
//
// A run is read from the second check after it started on: one that ends
// within a CancelCheck, as most tasks of a busy queue do, is never read,
// and a cancel still reaches its handler within two CancelChecks (a check
// that skips a run comes less than one CancelCheck after it started, the
// next one reads it). Reading every run at every check cost the benchmark
// with a no-op handler a Keys query for each of its 1000 running tasks
// every CancelCheck.
func (p *Pool[T, E, PT]) checkCancels(ctx context.Context) {
	p.mu.Lock()
	p.checks++
	runs := make(map[uuid.UUID]*activeRun, len(p.active))
	ids := make([]uuid.UUID, 0, len(p.active))
	for id, r := range p.active {
		if r.since+2 <= p.checks {
			runs[id] = r
			ids = append(ids, id)
		}
	}
	p.mu.Unlock()
	// Cancel the run read here, never one that started since.
	stop := func(id uuid.UUID, status string) { runs[id].cancel(&TaskEndedError{Status: status}) }
	kr, ok := p.driver.(backends.KeyReader)
	if !ok {
		for _, id := range ids {
			x, err := p.eng.Get(ctx, id)
			switch {
			case errors.Is(err, tasktype.ErrNotFound):
				stop(id, "")
			case err == nil && PT(x).Key().Status != p.spec.Running:
				stop(id, PT(x).Key().Status)
			}
		}
		return
	}
	for len(ids) > 0 {
		batch := ids[:min(len(ids), keysBatch)]
		ids = ids[len(batch):]
		keys, err := kr.Keys(ctx, batch)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("reading the running tasks' statuses failed", "err", err)
			}
			return
		}
		status := make(map[uuid.UUID]string, len(keys)) // "" for a task deleted
		for _, k := range keys {
			status[k.ID] = k.Status
		}
		for _, id := range batch {
			if s := status[id]; s != p.spec.Running {
				stop(id, s)
			}
		}
	}
}

func (p *Pool[T, E, PT]) rescueLoop(ctx context.Context) {
	t := time.NewTicker(p.cfg.RescueInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := p.Rescue(ctx); err != nil && ctx.Err() == nil {
				p.log.Error("rescue failed", "err", err)
			}
		}
	}
}

// RescueResult counts what Rescue did.
type RescueResult struct {
	Requeued, Failed int
	// Raced counts lost tasks another process moved first.
	Raced int
}

// rescueBatch bounds one Lost query.
const rescueBatch = 100

// Rescue moves the tasks whose worker vanished (their lease expired while
// they were running): back to the queue with the requeue event while
// attempts remain (claims given back by Leases.Release are not counted),
// else to the fail event with the worker section's error code. Every move
// is guarded by the task's version, so concurrent rescuers and a late
// worker never both win. Run calls it every RescueInterval.
func (p *Pool[T, E, PT]) Rescue(ctx context.Context) (RescueResult, error) {
	r, err := p.leases.Rescue(ctx, p.cfg.Owner)
	if r.Requeued > 0 {
		p.Wake()
	}
	return r, err
}

// Progress is how a handler reports its progress; it holds the latest copy
// of the task, so reports are guarded writes without a read.
type Progress[T any] struct {
	report  func(ctx context.Context, cur *T, done float64, detail func(*T)) (*T, error)
	running string // the worker section's running status
	mu      sync.Mutex
	cur     *T
	written T // the task as claimed, or as the last report wrote it
}

// Task returns the handler's task, which each Report refreshes in place
// with the task as it wrote it. The task's end is written from it, with
// the result fields set on it.
func (p *Progress[T]) Task() *T {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// current returns the handler's task, and the task as the pool last wrote
// it: the id, status and version of the two must be the same.
func (p *Progress[T]) current() (cur *T, written T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur, p.written
}

// handlerSets says which fields a handler may set, in the reasons a task
// fails when it set another.
const handlerSets = "a handler may set every field of its task but its id, status and version"

// Report records that done (0 to 1) of the work is done, and, if detail is
// not nil, sets further fields (a typed progress detail) on the task. The
// status's progress mapping gives the percent. A task that left the running
// status (cancelled, timed out) is a *TaskEndedError, errors.Is
// ErrTaskEnded: the handler's context is cancelled soon after.
func (p *Progress[T]) Report(ctx context.Context, done float64, detail func(*T)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	x, err := p.report(ctx, p.cur, done, detail)
	if ce, ok := errors.AsType[*backends.ConflictError](err); ok && ce.Now.Status != "" && ce.Now.Status != p.running {
		return &TaskEndedError{Status: ce.Now.Status, Err: err}
	}
	if err != nil {
		return err
	}
	// In place: the handler's task is the latest copy, so that the fields
	// it sets after a report are written with the task's end too.
	*p.cur = *x
	p.written = *x
	return nil
}
