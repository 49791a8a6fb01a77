package postgres

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
)

// Notifier is the PostgreSQL backends.ChangeSource of one model: it LISTENs
// on the model's channel over a connection of its own, taken out of the
// pool, and reconnects with backoff when that connection drops.
//
// The notifications come from the database, not from the engines: the
// model's migration 0003_changes puts a row trigger on its table that calls
// pg_notify for every insert and update, in the transaction that writes.
// PostgreSQL sends a notification only when that transaction commits, in
// commit order, so listeners never see a change that was rolled back, and
// every writer notifies — group-committed batches, the worker's claim
// statement and processes that do not use sdk/engine alike — without
// touching the generated queries. The trigger notifies only while a
// Notifier of the model is registered in the table taskmodel_listeners (its
// backend pid; rows of dead sessions are removed when a Notifier registers
// or unregisters): NOTIFY serializes committing transactions on a
// cluster-wide lock, which cost the end-to-end worker benchmark about a
// quarter of its throughput (1.8k → 1.4k tasks/s) when every write
// notified. The gate is the sequence <model>_listening (migration
// 0004_listen_gate), which holds the number of registered listeners: the
// trigger's WHEN clause reads it, so a write while nobody listens costs no
// query and no trigger call. A listener whose process died keeps the gate
// open (writers keep notifying) until the next Notifier of any model in the
// schema registers or unregisters. The channel is "<schema>.taskmodel_<model>"
// (schemas, tests' included, do not hear each other) and the payload
// "<id> <version> <status> <from status>", far below NOTIFY's 8000 bytes.
//
// Notifications sent while the listener is reconnecting are lost, so after
// a reconnect the Notifier catches up: once LISTEN and its registration
// have succeeded, it waits (at most Lookback) for the transactions that
// were already running to end — a writer whose trigger ran before the
// registration committed did not notify — and then reads the model's table
// for the rows with updated_at at or after Lookback before the last moment
// the previous connection was known to hear everything (when it last
// received a notification, or finished connecting), in (updated_at, id)
// pages of Batch rows, and sends a Notice for each (From empty). Lookback
// covers what updated_at cannot tell: it is the writer's clock reading,
// taken before the write waits for locks and commits, so a change can
// commit after a later-stamped one, and writers' clocks may be behind this
// process's. A change committed more than Lookback after its stamp, or
// stamped by a clock that far behind, is missed by the catch-up (its task's
// next change brings it). The catch-up skips the versions this Notifier
// sent since that point; what it sends may still repeat a version sent
// before (receivers skip it, backends.ChangeSource). The table has no index
// on updated_at for this (SQLite's has, for polling): each catch-up is a
// sequential scan of the model's table, acceptable because reconnects are
// rare. The first connection catches up from the moment Listen was called
// (no Lookback before it): a change made while it connects, before its
// LISTEN, is not notified, and a subscriber that changes a task right
// after subscribing must hear of it. PID turns non-zero once the listener
// is registered and listening.
type Notifier struct {
	pool  *pgxpool.Pool
	model string
	pid   atomic.Uint32
	// backoff is the first retry delay; it doubles up to maxBackoff.
	backoff time.Duration
	// beforeReconnect, if set, is called before each reconnection attempt
	// (tests change tasks while the listener is down).
	beforeReconnect func()

	// Lookback is how far before the previous connection was last known to
	// hear every notification the catch-up after a reconnect reads, and how
	// long it waits for the transactions running at its registration
	// (default 5 s). Set it before Listen.
	Lookback time.Duration
	// Batch is how many rows each catch-up read returns (default 500).
	Batch int
}

const maxBackoff = 5 * time.Second

// listenersTable registers the sessions that listen to a model's changes:
// its trigger notifies only while one is registered.
const listenersTable = `CREATE TABLE IF NOT EXISTS taskmodel_listeners (
    channel text NOT NULL,
    pid integer NOT NULL,
    PRIMARY KEY (channel, pid)
)`

// ApplicationName is the application_name of a Notifier's connection (in
// pg_stat_activity).
const ApplicationName = "taskmodel-listen"

// NewNotifier returns a Notifier of model (its table name, e.g. "analysis")
// over pool. Listen starts it.
func NewNotifier(pool *pgxpool.Pool, model string) *Notifier {
	return &Notifier{pool: pool, model: model, backoff: 50 * time.Millisecond, Lookback: 5 * time.Second, Batch: 500}
}

var _ backends.ChangeSource = (*Notifier)(nil)

// PID returns the backend process id of the listening connection, 0 while
// there is none.
func (n *Notifier) PID() uint32 { return n.pid.Load() }

// Listen calls fn with each change of the model's tasks committed by any
// process, until ctx ends; it returns ctx's error. After a reconnect it
// first sends the changes the previous connection may have missed (see
// Notifier).
func (n *Notifier) Listen(ctx context.Context, fn func(backends.Notice)) error {
	// The first connection catches up from now: a change committed while it
	// connects, before its LISTEN, is not notified, and a subscriber that
	// made a change right after subscribing must still hear of it.
	st := listenState{started: time.Now()}
	return reconnecting(ctx, n.backoff, n.beforeReconnect, func(ctx context.Context) (bool, error) {
		return n.listen(ctx, fn, &st)
	})
}

// reconnecting runs session until ctx ends, and again after each failure:
// first after backoff, then after twice as long each time, up to maxBackoff,
// starting over after a session that listened. before, if set, is called
// before each new attempt. It returns ctx's error.
func reconnecting(ctx context.Context, backoff time.Duration, before func(), session func(context.Context) (listened bool, err error)) error {
	wait := backoff
	for {
		listened, err := session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // the connection dropped or could not be opened: retry
		if listened {
			wait = backoff
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxBackoff)
		if before != nil {
			before()
		}
	}
}

// listen runs one connection until it fails; listened tells whether LISTEN
// succeeded on it (the backoff then starts over). st carries the catch-up
// point and what was sent from one connection to the next.
func (n *Notifier) listen(ctx context.Context, fn func(backends.Notice), st *listenState) (listened bool, err error) {
	// Every change committed after the registration is notified, but for
	// the writers whose trigger ran before it: the catch-up covers them. Its
	// time is read early, which only makes the next catch-up read more.
	registered := time.Now()
	conn, schema, err := openListener(ctx, n.pool, "taskmodel_"+n.model, n.model)
	if err != nil {
		return false, err
	}
	defer closeListener(ctx, conn, n.model)
	defer n.pid.Store(0)
	// Notifications that arrive meanwhile wait in conn for
	// WaitForNotification.
	since := st.heard.Add(-n.Lookback)
	if st.heard.IsZero() {
		since = st.started
	}
	if err := n.catchUp(ctx, conn, schema, since, st, fn); err != nil {
		return true, err
	}
	st.heard = registered
	n.pid.Store(conn.PgConn().PID())
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		// Notifications arrive in commit order: every change committed
		// before this one was heard.
		st.heard = time.Now()
		if nt, ok := parseNotice(note.Payload); ok {
			if _, dup := st.seen[seenKey{nt.ID, nt.Version}]; dup {
				continue // the catch-up sent it: it committed while that read
			}
			st.sent(nt, st.heard, n.Lookback)
			fn(nt)
		}
	}
}

// openListener takes a connection out of pool for a listener of its own,
// LISTENs on "<schema>.<channel>" and registers the session under
// registration in taskmodel_listeners (see register). It returns the
// connection and the schema; closeListener unregisters and closes it.
func openListener(ctx context.Context, pool *pgxpool.Pool, channel, registration string) (*pgx.Conn, string, error) {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, "", err
	}
	conn := c.Hijack() // ours alone, closed by closeListener: the pool opens another
	fail := func(err error) (*pgx.Conn, string, error) {
		conn.Close(context.WithoutCancel(ctx))
		return nil, "", err
	}
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fail(err)
	}
	if _, err := conn.Exec(ctx, `SET application_name = '`+ApplicationName+`'`); err != nil {
		return fail(err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{schema + "." + channel}.Sanitize()); err != nil {
		return fail(err)
	}
	if err := register(ctx, conn, registration, true); err != nil {
		return fail(err)
	}
	return conn, schema, nil
}

// closeListener unregisters conn's session (a clean stop; a lost session is
// cleaned later) and closes it.
func closeListener(ctx context.Context, conn *pgx.Conn, registration string) {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = register(c, conn, registration, false)
	conn.Close(c)
}

// listenersLock is the advisory lock key under which listeners register and
// unregister, so that the gates they set agree with the table.
const listenersLock = 0x746d6c6973 // "tmlis"

// wakeSuffix ends the registration of a WakeListener: "<model>:wake".
const wakeSuffix = ":wake"

// register adds (on) or removes this session's row for channel in
// taskmodel_listeners, removes the rows of sessions that are gone
// (terminated, or their process killed), and sets the gate of every channel
// whose listeners changed. A Notifier registers as "<model>": the sequence
// <model>_listening (migration 0004_listen_gate) holds the number of its
// registered listeners, and the model's change trigger fires only while it
// is above zero. A WakeListener registers as "<model>:wake": the sequence
// <model>_waking is its trigger's one-shot arm (see WakeListener), which
// register only clears, once no wake listener of the model is left. All in
// one transaction, under an advisory lock: two sessions registering and
// unregistering at once never leave a gate at zero while a listener is
// registered.
func register(ctx context.Context, conn *pgx.Conn, channel string, on bool) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(listenersLock)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM taskmodel_listeners WHERE pid NOT IN (SELECT pid FROM pg_stat_activity) RETURNING channel`)
		if err != nil {
			return err
		}
		channels, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if on {
			_, err = tx.Exec(ctx, `INSERT INTO taskmodel_listeners (channel, pid) VALUES ($1, pg_backend_pid()) ON CONFLICT DO NOTHING`, channel)
		} else {
			_, err = tx.Exec(ctx, `DELETE FROM taskmodel_listeners WHERE channel = $1 AND pid = pg_backend_pid()`, channel)
		}
		if err != nil {
			return err
		}
		// A model migrated before 0004 has no sequence: its trigger reads the
		// table itself; one migrated before its wake migration has no wake.
		_, err = tx.Exec(ctx, `SELECT setval(seq, n, true) FROM (
				SELECT to_regclass(quote_ident(CASE WHEN wake THEN left(c, -length($2)) || '_waking' ELSE c || '_listening' END)) AS seq,
					(SELECT count(*) FROM taskmodel_listeners WHERE channel = c) AS n, wake
				FROM (SELECT DISTINCT c, c LIKE '%' || $2 AS wake FROM unnest($1::text[]) AS c) AS u
			) AS g
			WHERE seq IS NOT NULL AND (NOT wake OR n = 0)`, append(channels, channel), wakeSuffix)
		return err
	})
}

// parseNotice reads "<id> <version> <status> <from>" (from may be empty).
func parseNotice(s string) (backends.Notice, bool) {
	f := strings.SplitN(s, " ", 4)
	if len(f) < 3 {
		return backends.Notice{}, false
	}
	id, err := uuid.Parse(f[0])
	if err != nil {
		return backends.Notice{}, false
	}
	v, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return backends.Notice{}, false
	}
	nt := backends.Notice{ID: id, Version: v, Status: f[2]}
	if len(f) == 4 {
		nt.From = f[3]
	}
	return nt, true
}

// listenState is what a Notifier's Listen carries from one connection to
// the next.
type listenState struct {
	// started is when Listen was called: the first connection's catch-up
	// starting point.
	started time.Time
	// heard is when the listener last knew it heard every change: zero
	// until a connection is listening, then the catch-up's starting point
	// (before Lookback) should that connection drop.
	heard time.Time
	// seen holds the versions sent, by when: a catch-up skips them. It
	// keeps those sent from Lookback before heard on, which is as far
	// back as a catch-up reads (a change is stamped before it is sent).
	seen    map[seenKey]time.Time
	pruneAt int
}

type seenKey struct {
	id      uuid.UUID
	version int64
}

// sent records that nt was sent at, and forgets, once the map has grown,
// what no catch-up can read again.
func (st *listenState) sent(nt backends.Notice, at time.Time, lookback time.Duration) {
	if st.seen == nil {
		st.seen = map[seenKey]time.Time{}
		st.pruneAt = 1024
	}
	st.seen[seenKey{nt.ID, nt.Version}] = at
	if len(st.seen) <= st.pruneAt {
		return
	}
	horizon := st.heard.Add(-lookback)
	for k, t := range st.seen {
		if t.Before(horizon) {
			delete(st.seen, k)
		}
	}
	st.pruneAt = max(1024, 2*len(st.seen))
}

// catchUp sends a Notice for every row of the model's table updated at or
// after since (after a reconnect, Lookback before st.heard), but for the
// versions already sent, once the transactions running at the registration
// have ended (or Lookback has passed).
func (n *Notifier) catchUp(ctx context.Context, conn *pgx.Conn, schema string, since time.Time, st *listenState, fn func(backends.Notice)) error {
	if err := n.awaitRunning(ctx, conn); err != nil {
		return err
	}
	table := pgx.Identifier{schema, n.model}.Sanitize()
	first := `SELECT id, version, status, updated_at FROM ` + table + ` WHERE updated_at >= $1 ORDER BY updated_at, id LIMIT $2`
	next := `SELECT id, version, status, updated_at FROM ` + table + ` WHERE (updated_at, id) > ($1, $3) ORDER BY updated_at, id LIMIT $2`
	batch := max(n.Batch, 1)
	q, args := first, []any{since, batch}
	for {
		rows, err := conn.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (backends.Notice, error) {
			var nt backends.Notice
			err := r.Scan(&nt.ID, &nt.Version, &nt.Status, &nt.At)
			return nt, err
		})
		if err != nil {
			return err
		}
		for _, nt := range page {
			if _, dup := st.seen[seenKey{nt.ID, nt.Version}]; dup {
				continue
			}
			st.sent(nt, time.Now(), n.Lookback)
			fn(nt)
		}
		if len(page) < batch {
			return nil
		}
		last := page[len(page)-1]
		q, args = next, []any{last.At, batch, last.ID}
	}
}

// awaitRunning waits until every transaction that had written when the
// listener registered has ended: one whose trigger ran before the
// registration committed did not notify, and may commit after a catch-up
// that does not wait. It gives up after Lookback (a long transaction
// elsewhere in the cluster holds the horizon back). pg_current_snapshot
// needs PostgreSQL 13 or later.
func (n *Notifier) awaitRunning(ctx context.Context, conn *pgx.Conn) error {
	var horizon string
	if err := conn.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text`).Scan(&horizon); err != nil {
		return err
	}
	deadline := time.Now().Add(n.Lookback)
	pause := time.Millisecond
	for {
		var done bool
		if err := conn.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::xid8`, horizon).Scan(&done); err != nil {
			return err
		}
		if done || !time.Now().Before(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}
