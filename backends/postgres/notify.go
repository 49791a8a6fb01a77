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
// touching the generated queries. The channel is "<schema>.taskmodel_<model>"
// (schemas, tests' included, do not hear each other) and the payload
// "<id> <version> <status> <from status>", far below NOTIFY's 8000 bytes.
//
// Notifications sent while the listener is reconnecting are lost: the
// listener sees the tasks' later changes only.
type Notifier struct {
	pool    *pgxpool.Pool
	model   string
	pid     atomic.Uint32
	backoff time.Duration // first retry delay; doubles up to maxBackoff
}

const maxBackoff = 5 * time.Second

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
