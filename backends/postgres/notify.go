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
// Notifications sent while the listener is reconnecting are lost: the
// listener sees the tasks' later changes only. A write whose trigger ran
// just before the first registration committed is not notified either:
// PID turns non-zero once the listener is registered and listening.
type Notifier struct {
	pool    *pgxpool.Pool
	model   string
	pid     atomic.Uint32
	backoff time.Duration // first retry delay; doubles up to maxBackoff
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
	return &Notifier{pool: pool, model: model, backoff: 50 * time.Millisecond}
}

var _ backends.ChangeSource = (*Notifier)(nil)

// PID returns the backend process id of the listening connection, 0 while
// there is none.
func (n *Notifier) PID() uint32 { return n.pid.Load() }

// Listen calls fn with each change of the model's tasks committed by any
// process, until ctx ends; it returns ctx's error.
func (n *Notifier) Listen(ctx context.Context, fn func(backends.Notice)) error {
	wait := n.backoff
	for {
		listened, err := n.listen(ctx, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // the connection dropped or could not be opened: retry
		if listened {
			wait = n.backoff
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxBackoff)
	}
}

// listen runs one connection until it fails; listened tells whether LISTEN
// succeeded on it (the backoff then starts over).
func (n *Notifier) listen(ctx context.Context, fn func(backends.Notice)) (listened bool, err error) {
	c, err := n.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	conn := c.Hijack() // ours alone, closed here: the pool opens another
	defer conn.Close(context.WithoutCancel(ctx))
	defer n.pid.Store(0)
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return false, err
	}
	channel := pgx.Identifier{schema + ".taskmodel_" + n.model}.Sanitize()
	if _, err := conn.Exec(ctx, `SET application_name = '`+ApplicationName+`'`); err != nil {
		return false, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return false, err
	}
	if err := n.register(ctx, conn, true); err != nil {
		return false, err
	}
	defer func() { // a clean stop unregisters; a lost session is cleaned later
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = n.register(c, conn, false)
	}()
	n.pid.Store(conn.PgConn().PID())
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		if nt, ok := parseNotice(note.Payload); ok {
			fn(nt)
		}
	}
}

// listenersLock is the advisory lock key under which listeners register and
// unregister, so that the gates they set agree with the table.
const listenersLock = 0x746d6c6973 // "tmlis"

// register adds (on) or removes this session's row in taskmodel_listeners,
// removes the rows of sessions that are gone (terminated, or their process
// killed), and sets the gate of every model whose listeners changed: the
// sequence <model>_listening (migration 0004_listen_gate) holds the number of
// its registered listeners, and the model's change trigger fires only while
// it is above zero. All in one transaction, under an advisory lock: two
// sessions registering and unregistering at once never leave a gate at zero
// while a listener is registered.
func (n *Notifier) register(ctx context.Context, conn *pgx.Conn, on bool) error {
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
			_, err = tx.Exec(ctx, `INSERT INTO taskmodel_listeners (channel, pid) VALUES ($1, pg_backend_pid()) ON CONFLICT DO NOTHING`, n.model)
		} else {
			_, err = tx.Exec(ctx, `DELETE FROM taskmodel_listeners WHERE pid = pg_backend_pid()`)
		}
		if err != nil {
			return err
		}
		// A model migrated before 0004 has no sequence: its trigger reads the
		// table itself.
		_, err = tx.Exec(ctx, `SELECT setval(seq, (SELECT count(*) FROM taskmodel_listeners WHERE channel = c), true)
			FROM (SELECT DISTINCT c, to_regclass(quote_ident(c || '_listening')) AS seq FROM unnest($1::text[]) AS c) AS s
			WHERE seq IS NOT NULL`, append(channels, n.model))
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
