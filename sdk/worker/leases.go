package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/internal/observe"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Leases is the lease protocol of one model's tasks, which a Pool runs for
// its handlers and which a server runs for workers in other processes (the
// HTTP worker protocol of taskmodel serve): claim queued tasks under a lease,
// renew it, report progress, and end the task with the worker section's
// complete or fail event. Both go through the same claim (claim event,
// lease, attempt, history row), the same end events with the same retries,
// and the same rescue of tasks whose lease expired.
//
// Leases is safe for concurrent use; its claims share one position in the
// queue (see the package documentation's claim order).
type Leases[T any, E ~string, PT engine.Model[T, E]] struct {
	eng    *engine.Engine[T, E, PT]
	driver backends.WorkDriver[T]
	spec   tasktype.Worker
	// moves sees the claims made in SQL, obs the handlers' outcomes, and
	// tracer traces their runs (the engine's, nil for none); traced: the
	// engine has a tracer (a fail event's failure is told to it only
	// then); initialQueue: the queue is the initial status (for
	// observeClaim).
	moves        engine.Observer
	obs          Observer
	tracer       Tracer
	traced       bool
	initialQueue bool
	codes        sync.Map // error codes found valid (storedCode)

	mu  sync.Mutex
	pos cursor
}

// Claimed is a task a worker claimed: the task in the running status, its
// lease and when the lease expires unless renewed.
type Claimed[T any] struct {
	Task    *T
	Lease   backends.Lease
	Expires time.Time
}

// NewLeases returns the lease protocol over eng, which must have been given
// the model's worker section (engine.WithWorker) and a driver that keeps
// leases (a backends.WorkDriver).
func NewLeases[T any, E ~string, PT engine.Model[T, E]](eng *engine.Engine[T, E, PT]) (*Leases[T, E, PT], error) {
	if eng == nil {
		return nil, errors.New("worker: the engine is nil; create one with engine.New")
	}
	spec := eng.Worker()
	if spec.Claim == "" {
		return nil, errors.New("worker: the engine has no worker section; create it with engine.WithWorker(<model>.Worker)")
	}
	driver, ok := eng.Store().Driver().(backends.WorkDriver[T])
	if !ok {
		return nil, fmt.Errorf("worker: driver %T keeps no leases (it is not a backends.WorkDriver)", eng.Store().Driver())
	}
	if _, ok := any(PT(new(T))).(failer[E]); !ok {
		return nil, fmt.Errorf("worker: model %T has no PrepareFailure method (it has no worker section)", new(T))
	}
	probe := new(T)
	PT(probe).Init(uuid.Nil, time.Time{})
	moves := engineObserver(eng)
	return &Leases[T, E, PT]{eng: eng, driver: driver, spec: spec, moves: moves, obs: workerObserver(moves), tracer: workerTracer(eng),
		traced: observe.TracerOf(eng) != nil, initialQueue: PT(probe).Key().Status == spec.Queue}, nil
}

// failer is what a model with a worker section has: PrepareFailure fills the
// fields the fail event requires.
type failer[E ~string] interface {
	PrepareFailure(code, message string) E
}

// prepareFailure fills t's failure fields (NewLeases checked that it can).
func prepareFailure[T any, E ~string, PT engine.Model[T, E]](t *T, code, msg string) {
	any(PT(t)).(failer[E]).PrepareFailure(code, msg)
}

// Spec returns the worker section the leases follow.
func (l *Leases[T, E, PT]) Spec() tasktype.Worker { return l.spec }

// MaxOwnerLen is the longest lease owner, in bytes.
const MaxOwnerLen = 200

// Claim claims up to limit queued tasks for owner: each is leased to owner
// and moved by the claim event (history: "claimed by <owner> (attempt n)").
// reserved counts the tasks reserved, which may exceed len(claims) when a
// reserved task changed before its claim event (it is then left alone).
func (l *Leases[T, E, PT]) Claim(ctx context.Context, owner string, limit int) (claims []Claimed[T], reserved int, err error) {
	return l.claim(ctx, &l.pos, &l.mu, owner, limit)
}

// FollowLocal makes Claim start at the tasks this process queues behind
// its position, as a Pool's claims do (see cursor.behind), until ctx ends.
// It returns once it follows the engine's changes; wait waits for it to
// stop. Without it, such a task waits for Claim's next claim from the head
// of the queue, about a second. taskmodel serve runs it for the leases of
// the worker protocol.
func (l *Leases[T, E, PT]) FollowLocal(ctx context.Context) (wait func()) {
	sub := l.eng.SubscribeLocal(ctx, uuid.Nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch := range sub.C {
			l.queuedLocally(&l.pos, ch)
		}
	}()
	return func() { <-done }
}

// QueuedElsewhere tells the leases that another process queued a task (a
// backends.Waker woke the caller): the next Claim starts from the head of
// the queue, where a task behind the claims' position is found. taskmodel
// serve calls it for the worker protocol's waiting claims.
func (l *Leases[T, E, PT]) QueuedElsewhere() { l.pos.wokenByOther() }

// queuedLocally records on pos the position of the task ch queued, if it
// did, and reports whether it did.
func (l *Leases[T, E, PT]) queuedLocally(pos *cursor, ch engine.Change[T]) bool {
	if ch.Key.Status != l.spec.Queue {
		return false
	}
	if at := l.created(ch.Task); !at.IsZero() {
		pos.behind(backends.QueuePosition{CreatedAt: at, ID: ch.Key.ID})
	}
	return true
}

// claim is Claim from a position of the caller's (a Pool's session keeps its
// own, unlocked: mu is nil).
func (l *Leases[T, E, PT]) claim(ctx context.Context, pos *cursor, mu *sync.Mutex, owner string, limit int) ([]Claimed[T], int, error) {
	if owner == "" || len(owner) > MaxOwnerLen {
		return nil, 0, &tasktype.FieldError{Field: "owner", Rule: "max", Message: fmt.Sprintf("must be 1 to %d bytes", MaxOwnerLen)}
	}
	now := l.eng.Now()
	if c, ok := l.driver.(backends.Claimer[T]); ok {
		// The driver fires the claim event in the reserving statement: one
		// round trip and one commit for the batch.
		now = now.UTC().Truncate(time.Microsecond) // as backends.Store stamps times
		expires := now.Add(l.spec.Lease)
		start := time.Now()
		got, err := claimAfter(ctx, pos, mu, func(after backends.QueuePosition) ([]backends.Claim[T], backends.QueuePosition, error) {
			return c.Claim(ctx, owner, now, expires, limit, after)
		}, func(c backends.Claim[T]) backends.QueuePosition {
			return backends.QueuePosition{CreatedAt: l.created(c.Task), ID: PT(c.Task).Key().ID}
		}, limit)
		out := make([]Claimed[T], len(got))
		for i, c := range got {
			l.eng.Announce(c.Task, l.spec.Queue, E(l.spec.Claim))
			l.observeClaim(c)
			observe.TraceMove(ctx, l.eng, c.Task, l.spec.Queue, l.spec.Claim, start)
			out[i] = Claimed[T]{Task: c.Task, Lease: c.Lease, Expires: expires}
		}
		return out, len(got), err
	}
	expires := leaseEnd(now, l.spec.Lease)
	got, err := l.driver.Reserve(ctx, l.spec.Queue, owner, now, expires, limit)
	if err != nil {
		return nil, 0, err
	}
	// The claim events are fired at once, so that a driver that
	// group-commits (SQLite's) writes them in one transaction.
	fired := make([]*T, len(got))
	var wg sync.WaitGroup
	for i, c := range got {
		wg.Go(func() {
			meta := engine.Meta{Actor: owner, Attempt: c.Lease.Attempt, Message: fmt.Sprintf("claimed by %s (attempt %d)", owner, c.Lease.Attempt)}
			// An error: changed since it was reserved (cancelled, say), not
			// ours to run.
			fired[i], _ = l.eng.FireFrom(ctx, c.Task, E(l.spec.Claim), nil, meta)
		})
	}
	wg.Wait()
	out := make([]Claimed[T], 0, len(got))
	for i, c := range got {
		if fired[i] != nil {
			out = append(out, Claimed[T]{Task: fired[i], Lease: c.Lease, Expires: expires})
		}
	}
	return out, len(got), nil
}

// cursor is where the next claim over a backends.Claimer starts: the last
// task claimed, or the furthest one (far) once a claim has come back short;
// headAt is when a claim last started from the head of the queue instead.
// back is the earliest position of a task this process queued since the
// last claim (behind), zero for none, under its own lock: a pool's
// subscription to its engine's changes records them as the claims run.
type cursor struct {
	after, far backends.QueuePosition
	headAt     time.Time
	// lookBehind is how far before the position the claims start while
	// tasks other processes queue keep landing behind it (see
	// cursor.straggled), until lookUntil; zero when none did lately.
	lookBehind time.Duration
	lookUntil  time.Time
	heads      int // claims from the head since a task was first claimed

	backMu sync.Mutex
	back   backends.QueuePosition
	// queuedElsewhere is set when the pool's backends.Waker told it that
	// another process queued a task: the next claim goes from the head.
	queuedElsewhere bool
}

// wokenByOther records that the pool's backends.Waker woke it: another
// process queued a task, which may lie behind the position (its commit
// came after tasks created later, or it was requeued). The next claim
// starts from the head of the queue: a claim after the position would find
// nothing, and the pool would wait again without the task until its poll.
// A Waker wakes a pool only once it has been idle for a while (armAfter),
// so this costs a claim from the head when work resumes, not under load.
func (c *cursor) wokenByOther() {
	c.backMu.Lock()
	c.queuedElsewhere = true
	c.backMu.Unlock()
}

// behind records that the task at q was queued in this process. Tasks
// created at once by concurrent callers commit in an order of their own,
// not in the order of their creation times: a task may be queued behind a
// position that a claim has already passed. The next claim then starts at
// the earliest such task instead of waiting for its claim from the head.
func (c *cursor) behind(q backends.QueuePosition) {
	c.backMu.Lock()
	if c.back.IsZero() || q.Before(c.back) {
		c.back = q
	}
	c.backMu.Unlock()
}

// takeBack returns what behind recorded since the last call, and whether
// wokenByOther was called since, and forgets both.
func (c *cursor) takeBack() (backends.QueuePosition, bool) {
	c.backMu.Lock()
	defer c.backMu.Unlock()
	q, woken := c.back, c.queuedElsewhere
	c.back, c.queuedElsewhere = backends.QueuePosition{}, false
	return q, woken
}

// The look-behind of a pool whose claims found tasks behind their position
// that its own process did not queue: tasks another process created at
// once, committed in an order of their own (an API server's concurrent
// requests, say). The claims then start lookBehindFactor times the
// furthest such lag before the position, at most maxLookBehind (the claim
// from the head finds the rest), until lookBehindHold passes without one.
// While it lasts, each claim steps again over the entries of the tasks
// claimed in that window; without stragglers it costs nothing.
const (
	lookBehindFactor = 2
	lookBehindHold   = 10 * time.Second
)

// maxLookBehind bounds the look-behind, and the lag of a task it counts:
// the claim from the head, every headEvery, finds what lies further behind.
func maxLookBehind() time.Duration { return headEvery / 4 }

// straggled records that a claim found a task lag behind the position it
// would have started at without looking behind: the claims look behind by
// lookBehindFactor times the largest recent lag, for lookBehindHold.
func (c *cursor) straggled(lag time.Duration, now time.Time) {
	want := min(max(lag*lookBehindFactor, time.Millisecond), maxLookBehind())
	if now.After(c.lookUntil) || want > c.lookBehind {
		c.lookBehind = want
	}
	c.lookUntil = now.Add(lookBehindHold)
}

// headGap is how long after its last claim from the head the next one
// comes: headEvery, but an eighth of it after the first task was claimed,
// doubling up to it, so that the tasks other processes queue behind the
// position as a pool starts wait less before the look-behind learns of
// them.
func (c *cursor) headGap() time.Duration {
	return min(headEvery, (headEvery/8)<<min(c.heads, 3))
}

// justBefore is a position that a claim after it reaches q from: a
// microsecond earlier, the precision at which the drivers store times.
func justBefore(q backends.QueuePosition) backends.QueuePosition {
	return backends.QueuePosition{CreatedAt: q.CreatedAt.Truncate(time.Microsecond).Add(-time.Microsecond)}
}

// claimAfter claims with claim after the position pos reached, under mu
// when it is not nil (the position is read and moved under it, the claim
// runs outside it): on PostgreSQL a claim from the head of the queue steps
// over the index entries of every task claimed since the table was last
// vacuumed, a cost that grew with each claim (a fifth of the server's CPU
// in the worker benchmark; with producers that keep the queue short, where
// every claim came from the head, it grew until the next vacuum). It claims
// from the head on the first claim and then once every headEvery, and such
// a claim sets the position to its last task even when that is behind the
// position: tasks queued behind it are then claimed in order, as fast as
// any. A claim starts instead at the earliest task this process queued
// behind the position since the last claim (cursor.behind), and moves the
// position as a claim from the head does: such a task waits for no claim
// from the head. Tasks other processes queue behind it are found by the
// claim from the head — at once when the pool's backends.Waker woke it for
// one (cursor.wokenByOther) — and once one has been, the claims look
// behind the position for a while (cursor.straggled), so that the next
// ones wait for no claim from the head either. at is a claimed task's
// position.
func claimAfter[T any](ctx context.Context, pos *cursor, mu *sync.Mutex, claim func(after backends.QueuePosition) ([]backends.Claim[T], backends.QueuePosition, error), at func(backends.Claim[T]) backends.QueuePosition, limit int) ([]backends.Claim[T], error) {
	lock := func() {
		if mu != nil {
			mu.Lock()
		}
	}
	unlock := func() {
		if mu != nil {
			mu.Unlock()
		}
	}
	lock()
	now := time.Now()
	back, woken := pos.takeBack()
	head := pos.after.IsZero() || woken || now.Sub(pos.headAt) >= pos.headGap()
	ahead := pos.after // where a claim without look-behind starts
	after := ahead
	rewind, looking := false, false
	if !head && pos.lookBehind > 0 && now.Before(pos.lookUntil) {
		after, looking = backends.QueuePosition{CreatedAt: ahead.CreatedAt.Add(-pos.lookBehind)}, true
	}
	switch {
	case head:
		after, looking = backends.QueuePosition{}, false
		pos.headAt = now
		if !ahead.IsZero() {
			pos.heads++ // not the claims before the first task, from the head by necessity
		}
	case !back.IsZero() && back.Compare(after) <= 0:
		// At the position too: a task requeued (or released) after its
		// claim moved the position to it.
		after, rewind, looking = justBefore(back), true, false
	}
	unlock()
	claims, last, err := claim(after)
	if err != nil {
		if !back.IsZero() {
			pos.behind(back) // for the next claim
		}
		if woken {
			pos.wokenByOther()
		}
		return nil, err
	}
	lock()
	defer unlock()
	if (head || looking) && !ahead.IsZero() {
		// How far behind ahead the claim found tasks: commits that came
		// late, mostly other processes' (this process's own start a
		// rewind instead, when it hears of them first). A task further
		// behind than maxLookBehind (requeued, or its lease expired) is
		// not one: the claim from the head finds those.
		var lag time.Duration
		for _, c := range claims {
			if q := at(c); q.Before(ahead) {
				if d := ahead.CreatedAt.Sub(q.CreatedAt); d <= maxLookBehind() {
					lag = max(lag, d)
				}
			}
		}
		if lag > 0 {
			pos.straggled(lag, now)
		}
	}
	if (head || rewind || looking) && !last.IsZero() || pos.after.Before(last) {
		pos.after = last
	}
	if pos.far.Before(last) {
		pos.far = last
	}
	if len(claims) < limit && pos.after.Before(pos.far) {
		// This claim read the queue to its end: nothing claimable is left
		// between the position and the furthest task claimed (what a lock
		// or a live lease hid is for the next claim from the head). Without
		// this, a claim from the head that found a straggler left the
		// position there, and every claim after it stepped over the dead
		// entries from the straggler on.
		pos.after = pos.far
	}
	return claims, nil
}

// Heartbeat renews a lease while its holder still has it and the task is
// still running; held false means the worker must stop (the lease was
// taken over, or the task left the running status: see Left). It returns
// when the renewed lease expires.
func (l *Leases[T, E, PT]) Heartbeat(ctx context.Context, id uuid.UUID, lease backends.Lease) (held bool, expires time.Time, err error) {
	expires = leaseEnd(l.eng.Now(), l.spec.Lease)
	held, err = l.driver.Heartbeat(ctx, id, lease, l.spec.Running, expires)
	return held, expires, err
}

// leaseEnd is when a lease taken or renewed at now ends, in microseconds,
// as the databases store it (and as a claim's expiry is): the time a
// claim, a heartbeat and a progress report answer is the one stored.
func leaseEnd(now time.Time, lease time.Duration) time.Time {
	return now.UTC().Truncate(time.Microsecond).Add(lease)
}

// Cancelled reports whether a task whose lease heartbeat refused left the
// running status by the cancel event while lease held it: the history shows
// the claim under lease, and the cancel event after it. false means the
// lease was lost (expired and taken over, or never this holder's).
func (l *Leases[T, E, PT]) Cancelled(ctx context.Context, id uuid.UUID, lease backends.Lease) (bool, error) {
	if l.spec.Cancel == "" {
		return false, nil
	}
	hs, err := l.eng.History(ctx, id)
	if err != nil {
		return false, err
	}
	i := l.lastClaim(hs, lease)
	if i < 0 {
		return false, nil
	}
	for _, after := range hs[i+1:] {
		if after.Event == l.spec.Cancel && after.From == l.spec.Running {
			return true, nil
		}
	}
	return false, nil
}

// Holds reports whether lease holds cur, a task as read: it is in the
// running status and its last claim was lease's (the history's claim row
// names the owner and the attempt). A write guarded by the version cur was
// read with (Finish) then cannot follow a take-over, which moves the task
// (requeue, claim) and so changes its version; Holds costs a read where a
// Heartbeat costs a write.
func (l *Leases[T, E, PT]) Holds(ctx context.Context, cur *T, lease backends.Lease) (bool, error) {
	k := PT(cur).Key()
	if k.Status != l.spec.Running {
		return false, nil
	}
	hs, err := l.eng.History(ctx, k.ID)
	if err != nil {
		return false, err
	}
	return l.lastClaim(hs, lease) >= 0, nil
}

// lastClaim returns the index of the last claim in hs if lease made it, else
// -1.
func (l *Leases[T, E, PT]) lastClaim(hs []backends.History, lease backends.Lease) int {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Event == l.spec.Claim {
			if hs[i].Actor == lease.Owner && hs[i].Attempt == lease.Attempt {
				return i
			}
			return -1
		}
	}
	return -1
}

// Progress records that done (0 to 1) of a running task's work is done, as
// Progress.Report does: the status's progress mapping gives the percent,
// and detail, if not nil, sets further fields. The write is guarded by the
// version cur was read with.
func (l *Leases[T, E, PT]) Progress(ctx context.Context, cur *T, done float64, detail func(*T)) (*T, error) {
	return l.eng.ProgressFrom(ctx, cur, done, detail)
}

// Finish ends a running task as a handler's outcome does in a Pool: a nil
// outcome fires the complete event, after mutate (if not nil) sets result
// fields; an error fires the fail event with the code of an *Error (see
// Fail), or the worker section's error code, and the message. The write is
// guarded by the version cur was read with, and retried for a while on
// errors that may pass (a dropped connection).
func (l *Leases[T, E, PT]) Finish(ctx context.Context, cur *T, lease backends.Lease, outcome error, mutate func(*T)) (*T, error) {
	if cur == nil {
		return nil, backends.ErrNilTask
	}
	meta := engine.Meta{Actor: lease.Owner, Attempt: lease.Attempt}
	var ev E
	var code string
	if outcome == nil {
		ev, meta.Message = E(l.spec.Complete), "completed"
	} else {
		c, msg, detail := l.failure(outcome)
		ev, code = E(l.spec.Fail), c
		mutate = func(t *T) { prepareFailure[T, E, PT](t, c, msg) }
		meta.Message = detail
		if l.traced {
			// The fail event's span tells the failure (engine.TracedMove).
			ctx = observe.WithFailure(ctx, observe.Failure{Code: l.storedCode(c), Message: msg})
		}
	}
	x, err := l.end(ctx, cur, ev, mutate, meta)
	if err == nil {
		l.observeEnd(cur, x, outcome != nil, code)
	}
	return x, err
}

// CheckCode checks that code is an error code of the spec a failure may
// carry: the error names the field error_code and lists the allowed codes.
// The empty code is allowed (the worker section's error code is used).
func (l *Leases[T, E, PT]) CheckCode(code string) error {
	if code == "" || l.known(code) {
		return nil
	}
	probe := new(T)
	PT(probe).Init(uuid.New(), l.eng.Now()) // a valid task: its initial status
	data, err := json.Marshal(probe)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	if _, ok := doc["error_code"]; !ok {
		return &tasktype.FieldError{Field: "error_code", Rule: "none", Value: code, Message: "must be omitted: the model declares no error codes"}
	}
	// The model's own decoder checks the code and lists the allowed ones.
	doc["error_code"], _ = json.Marshal(code)
	if data, err = json.Marshal(doc); err != nil {
		return err
	}
	var x T
	err = json.Unmarshal(data, &x)
	var fe *tasktype.FieldError
	if err != nil && errors.As(err, &fe) && fe.Field == "error_code" {
		return fe // the model's own words, listing its codes
	}
	return &tasktype.FieldError{Field: "error_code", Rule: "one_of", Value: code, Message: "is not one of the model's error codes"}
}

// known is knownCode, remembering the codes found known (the few a model
// declares; a handler's made-up codes are not kept).
func (l *Leases[T, E, PT]) known(code string) bool {
	if _, ok := l.codes.Load(code); ok {
		return true
	}
	if !l.knownCode(code) {
		return false
	}
	l.codes.Store(code, true)
	return true
}

// knownCode reports whether the model stores code as its error code: its
// PrepareFailure (generated) replaces a code it does not declare with the
// worker section's, and a model without codes stores none.
func (l *Leases[T, E, PT]) knownCode(code string) bool {
	probe := new(T)
	prepareFailure[T, E, PT](probe, code, "")
	data, err := json.Marshal(probe)
	if err != nil {
		return false
	}
	var doc struct {
		ErrorCode *string `json:"error_code"`
	}
	return json.Unmarshal(data, &doc) == nil && doc.ErrorCode != nil && *doc.ErrorCode == code
}

// Rescue moves the tasks whose worker vanished (their lease expired while
// they were running): back to the queue with the requeue event while
// attempts remain, else to the fail event with the worker section's error
// code; actor is who the history names. A claim its worker gave back
// (Release) is not counted as an attempt. Every move is guarded by the task's
// version, so concurrent rescuers and a late worker never both win.
func (l *Leases[T, E, PT]) Rescue(ctx context.Context, actor string) (RescueResult, error) {
	var r RescueResult
	for {
		lost, err := l.driver.Lost(ctx, l.spec.Running, l.eng.Now(), rescueBatch)
		if err != nil {
			return r, err
		}
		moved := 0
		for _, c := range lost {
			meta := engine.Meta{Actor: actor, Attempt: c.Lease.Attempt}
			attempt, released, err := l.countedAttempt(ctx, c)
			if err != nil {
				return r, err
			}
			why := fmt.Sprintf("worker %s lost the task (lease expired, attempt %d of %d", c.Lease.Owner, attempt, l.spec.MaxAttempts)
			if released > 0 {
				why += fmt.Sprintf("; %d released claim(s) not counted", released)
			}
			why += ")"
			var ev E
			var mutate func(*T)
			if l.spec.Requeue != "" && attempt < l.spec.MaxAttempts {
				ev = E(l.spec.Requeue)
				meta.Message = why + "; requeued"
			} else {
				ev = E(l.spec.Fail)
				meta.Message = why
				mutate = func(t *T) { prepareFailure[T, E, PT](t, l.spec.ErrorCode, why) }
			}
			fctx := ctx
			if ev == E(l.spec.Fail) && l.traced {
				fctx = observe.WithFailure(ctx, observe.Failure{Code: l.spec.ErrorCode, Message: why})
			}
			_, err = l.eng.FireFrom(fctx, c.Task, ev, mutate, meta)
			switch {
			case err == nil && ev == E(l.spec.Requeue):
				r.Requeued++
				moved++
			case err == nil:
				r.Failed++
				moved++
			case errors.Is(err, tasktype.ErrConflict) || errors.Is(err, tasktype.ErrNotFound):
				r.Raced++
			default:
				return r, err
			}
		}
		if len(lost) < rescueBatch || moved == 0 {
			return r, nil
		}
	}
}

// countedAttempt returns the attempt a lost claim counts as: its lease's
// attempt less the claims released before it (Release), which the task's
// history holds. The first claim counts as 1 without a read, and so does
// every claim of a model without a requeue event, which cannot release.
func (l *Leases[T, E, PT]) countedAttempt(ctx context.Context, c backends.Claim[T]) (attempt, released int, err error) {
	if c.Lease.Attempt <= 1 || l.spec.Requeue == "" {
		return c.Lease.Attempt, 0, nil
	}
	hs, err := l.eng.History(ctx, PT(c.Task).Key().ID)
	if err != nil {
		return 0, 0, err
	}
	released = l.released(hs)
	return max(c.Lease.Attempt-released, 1), released, nil
}

// endTries bounds the retries of a task's final write after errors that may
// pass (a dropped connection, a restarting server).
const endTries = 6

// end writes the task's final event, retrying transient errors with backoff
// for as long as the lease would last. An error that retrying cannot cure
// ends the attempts; a conflict after a transient error may be the
// earlier try's own write, committed although its reply was lost, and is
// then that try's success (endedBy).
func (l *Leases[T, E, PT]) end(ctx context.Context, cur *T, ev E, mutate func(*T), meta engine.Meta) (*T, error) {
	var x *T
	uncertain := false // a try failed in a way that may have written
	err := l.retry(ctx, func() (err error) {
		x, err = l.eng.FireFrom(ctx, cur, ev, mutate, meta)
		if err != nil && transient(err) {
			uncertain = true
		}
		return err
	})
	if err != nil && uncertain && errors.Is(err, tasktype.ErrConflict) {
		if y, ok := l.endedBy(ctx, cur, ev, meta); ok {
			l.observeRecovered(cur, y, ev)
			return y, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return x, nil
}

// endedBy reports whether the one change of the task since cur was read is
// ev written with meta (its actor and attempt), as an end write whose reply
// was lost leaves it, and returns the task as that write left it.
func (l *Leases[T, E, PT]) endedBy(ctx context.Context, cur *T, ev E, meta engine.Meta) (*T, bool) {
	read := PT(cur).Key()
	now, err := l.eng.Get(ctx, read.ID)
	if err != nil || PT(now).Key().Version != read.Version+1 {
		return nil, false
	}
	hs, err := l.eng.History(ctx, read.ID)
	if err != nil || len(hs) == 0 {
		return nil, false
	}
	last := hs[len(hs)-1]
	ok := last.Event == string(ev) && last.From == read.Status && last.To == PT(now).Key().Status &&
		last.Actor == meta.Actor && last.Attempt == meta.Attempt
	return now, ok
}

// retry runs write until it succeeds, fails with an error retrying cannot
// cure, or has been tried endTries times, waiting between tries with a
// backoff bounded by a quarter of the lease. It returns write's last error.
func (l *Leases[T, E, PT]) retry(ctx context.Context, write func() error) error {
	wait := 50 * time.Millisecond
	for try := 1; ; try++ {
		err := write()
		if err == nil || try == endTries || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, l.spec.Lease/4)
	}
}

// transient tells errors worth retrying: not the rules' own answers.
func transient(err error) bool {
	for _, rule := range []error{tasktype.ErrConflict, tasktype.ErrNotFound, tasktype.ErrTransitionNotAllowed, tasktype.ErrValidation, tasktype.ErrDuplicate} {
		if errors.Is(err, rule) {
			return false
		}
	}
	return true
}

// failure turns a handler error into a code, a message for the task's field
// and a message for the history row (a panic's stack goes there; the store
// keeps backends.MaxHistoryText bytes of it).
func (l *Leases[T, E, PT]) failure(err error) (code, msg, detail string) {
	var pe *panicError
	var we *Error
	switch {
	case errors.As(err, &pe):
		return l.spec.ErrorCode, pe.Error(), pe.Error() + "\n\n" + string(pe.stack)
	case errors.As(err, &we) && we != nil:
		code, msg := we.Code, we.Message
		if code != "" && !l.known(code) {
			// As taskmodel work does: the message keeps the code the
			// model does not know, which the model's own code replaces.
			msg = fmt.Sprintf("[error code %s is not one of the model's] %s", code, msg)
			code = ""
		}
		if code == "" {
			code = l.spec.ErrorCode
		}
		return code, msg, err.Error()
	}
	return l.spec.ErrorCode, err.Error(), err.Error()
}

// afterExpiry says what becomes of a task that lease holds once the lease
// expires with nobody to renew it: the rescue queues it again while the
// model's worker section allows another attempt, and fails it otherwise.
func (l *Leases[T, E, PT]) afterExpiry(lease backends.Lease) string {
	if l.spec.Requeue == "" || l.spec.MaxAttempts <= 1 {
		return fmt.Sprintf("when its lease expires, the task fails (its model allows %d attempt)", max(1, l.spec.MaxAttempts))
	}
	return fmt.Sprintf("when its lease expires, the task is queued again if it has attempts left (this was claim %d; its model allows %d attempts, released claims not counted), and fails otherwise", lease.Attempt, l.spec.MaxAttempts)
}
