package postgres

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
)

// WakeListener is the PostgreSQL backends.Waker of one model with a worker
// section: it tells an idle worker pool that another process queued a task,
// by LISTEN on the channel "<schema>.taskmodel_wake_<model>" over a
// connection of its own, taken out of the pool, with reconnects and backoff
// as a Notifier's.
//
// The model's wake migration puts a row trigger on its table that fires
// after an insert, or an update of the status, that leaves a task in the
// worker section's queue status, while the sequence <model>_waking is 1
// (armed): it sends an empty NOTIFY on the channel and sets the sequence
// back to 0, in the writer's transaction. The notification reaches the
// listeners when that transaction commits (a batch of creates notifies
// once: PostgreSQL sends identical notifications of one transaction once).
//
// NOTIFY serializes committing transactions on a cluster-wide lock, so the
// trigger is armed only while a pool waits: when the pool has found nothing
// to claim and waited a moment (its idle signal), the WakeListener sets the
// sequence to 1, and if it was 0, calls wake so that the pool looks once
// more (a task may have been queued between its last claim and the arming).
// The first queued task then notifies, and disarms the trigger: a pool kept
// busy — by its own process's creations, which wake it without the database,
// or by a backlog — arms nothing, and writers notify nothing. A task queued
// while the trigger is disarmed is found by the pool's claim that follows
// its wake, or by the one after its next arming. A notifying transaction
// that rolls back leaves the trigger disarmed without a notification: the
// next arming finds the sequence at 0 and wakes the pool.
//
// Listeners register as "<model>:wake" in taskmodel_listeners, as Notifiers
// do: the last one to unregister (or a registration that finds every wake
// listener of the model gone) sets the sequence to 0, so that nothing
// notifies while no pool listens. The sequence is unlogged on PostgreSQL
// 15 and later (arming writes no WAL; a crash leaves it at 0).
type WakeListener struct {
	pool  *pgxpool.Pool
	model string
	pid   atomic.Uint32
	// backoff is the first retry delay; it doubles up to maxBackoff.
	backoff time.Duration
	// beforeReconnect, if set, is called before each reconnection attempt.
	beforeReconnect func()
}

// NewWakeListener returns the WakeListener of model (its table name) over
// pool. Wake starts it.
func NewWakeListener(pool *pgxpool.Pool, model string) *WakeListener {
	return &WakeListener{pool: pool, model: model, backoff: 50 * time.Millisecond}
}

var _ backends.Waker = (*WakeListener)(nil)

// PID returns the backend process id of the listening connection, 0 while
// there is none.
func (w *WakeListener) PID() uint32 { return w.pid.Load() }

// Wake implements backends.Waker: it listens until ctx ends and returns its
// error. It arms the trigger when idle receives.
func (w *WakeListener) Wake(ctx context.Context, idle <-chan struct{}, wake func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	armed := make(chan struct{})
	go func() {
		defer close(armed)
		w.arming(ctx, idle, wake)
	}()
	err := reconnecting(ctx, w.backoff, w.beforeReconnect, func(ctx context.Context) (bool, error) {
		conn, _, err := openListener(ctx, w.pool, "taskmodel_wake_"+w.model, w.model+wakeSuffix)
		if err != nil {
			return false, err
		}
		defer closeListener(ctx, conn, w.model+wakeSuffix)
		defer w.pid.Store(0)
		w.pid.Store(conn.PgConn().PID())
		wake() // what was queued before LISTEN was not heard
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				return true, err
			}
			wake()
		}
	})
	cancel()
	<-armed
	return err
}

// arming arms the trigger on each idle signal, over a connection of the
// pool, and calls wake when it was disarmed: a task queued since the pool's
// last claim notified nobody, or was queued while nobody had armed it.
//
// A writer whose trigger read the sequence just before the arming set it
// does not notify, and may commit only after the pool's look that follows
// this wake: its task would wait for the pool's poll. So, having armed a
// disarmed trigger, arming reads which transactions are in progress and
// wakes the pool again once they have all ended (settle): the writer was
// one of them, as it had inserted (and taken a transaction id) before its
// trigger read the sequence.
func (w *WakeListener) arming(ctx context.Context, idle <-chan struct{}, wake func()) {
	seq := w.model + "_waking"
	inFlight := make(chan []string, 1)
	settled := make(chan struct{})
	defer func() { <-settled }()
	go func() {
		defer close(settled)
		w.settle(ctx, inFlight, wake)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-idle:
		}
		// The sequence's value is read, in the CTE, before the outer select
		// sets it.
		var was, now int64
		err := w.pool.QueryRow(ctx, `WITH prev AS MATERIALIZED (SELECT coalesce(pg_sequence_last_value($1::regclass), 0) AS v)
			SELECT v, setval($1::regclass, 1, true) FROM prev`, seq).Scan(&was, &now)
		if err != nil {
			// No connection, or a model migrated before its wake migration:
			// the pool's poll finds the tasks.
			continue
		}
		if was != 0 {
			continue
		}
		// The writers in progress, read in a statement of its own, after
		// setval: a writer that read the sequence before had taken its
		// transaction id, lower than the one this statement takes. Those
		// below the snapshot's xmax are listed in it, the others are not.
		var writers []string
		err = w.pool.QueryRow(ctx, `WITH s AS (SELECT pg_current_snapshot() AS s, pg_current_xact_id() AS next)
			SELECT coalesce(array_agg(x::text), '{}') FROM (
				SELECT pg_snapshot_xip(s) AS x FROM s
				UNION ALL
				SELECT x::text::xid8 FROM s, generate_series(pg_snapshot_xmax(s)::text::bigint, next::text::bigint - 1) x
			) q WHERE pg_xact_status(x) = 'in progress'`).Scan(&writers)
		wake()
		if err != nil || len(writers) == 0 {
			continue
		}
		// A newer list replaces one still waited on: who was in progress
		// in the older and has not ended is in the newer.
		select {
		case <-inFlight:
		default:
		}
		inFlight <- writers
	}
}

// settle calls wake each time the transactions of a list received on
// inFlight have all ended, polling with a growing delay, until ctx ends.
func (w *WakeListener) settle(ctx context.Context, inFlight <-chan []string, wake func()) {
	var (
		writers []string
		poll    = time.NewTimer(time.Hour)
		delay   time.Duration
	)
	poll.Stop()
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case writers = <-inFlight:
			delay = time.Millisecond
		case <-poll.C:
		}
		var busy bool
		err := w.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM unnest($1::text[]) x
			WHERE pg_xact_status(x::xid8) = 'in progress')`, writers).Scan(&busy)
		if err == nil && !busy {
			wake()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		// In progress still, or no connection: look again later.
		poll.Reset(delay)
		delay = min(2*delay, settleMaxDelay)
	}
}

// settleMaxDelay bounds the delay between two looks of settle at the
// transactions a wake waits for: a long transaction that queued a task is
// found that long after it commits, at most.
const settleMaxDelay = time.Second

// Wake runs the WakeListener of model over db, the connection a generated
// driver was given (backends.Waker). A driver over something other than a
// *pgxpool.Pool (a transaction, a single connection) has no connection to
// spare for LISTEN: Wake then waits for ctx to end, and pools poll.
func Wake(ctx context.Context, db any, model string, idle <-chan struct{}, wake func()) error {
	pool, ok := db.(*pgxpool.Pool)
	if !ok {
		<-ctx.Done()
		return ctx.Err()
	}
	return NewWakeListener(pool, model).Wake(ctx, idle, wake)
}
