package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// WatchInterval is how often a process reads whether another connection
// committed to a database file while one of its worker pools waits for
// tasks (Wake). Each read is a PRAGMA data_version on a connection kept for
// it: about 1 % of one core for the process while a pool waits (measured
// in docs/benchmarks.md), nothing while every pool is busy.
const WatchInterval = 5 * time.Millisecond

// Wake is the SQLite backends.Waker of a generated driver: SQLite has no
// notifications, so the process watches the database file for commits of
// other connections (PRAGMA data_version, every WatchInterval, one watcher
// per *sql.DB for all its models) while a pool waits, and on a commit asks
// claimable — a read — whether a task in the pool's queue can be claimed,
// and only then calls wake. A pool that waits thus neither starts a write
// transaction nor claims on every commit of another process.
//
// The pool sends on idle when it found nothing to claim and has waited
// since: Wake then reads claimable once at once (a task may have been
// queued since the pool's last claim), and again after each commit of
// another connection, until it calls wake; then it waits for the next idle.
// A private in-memory database (Open's ":memory:") has no other process:
// Wake just waits for ctx to end.
func Wake(ctx context.Context, db *sql.DB, claimable func(ctx context.Context, now time.Time) (bool, error), idle <-chan struct{}, wake func()) error {
	if private(ctx, db) {
		<-ctx.Done()
		return ctx.Err()
	}
	s := make(chan struct{}, 1) // a commit since the last read
	w := subscribe(db, s)
	defer w.remove(s)
	armed := false
	check := func() {
		ok, err := claimable(ctx, time.Now())
		if err != nil || !ok {
			return // an error waits for the next commit, or the pool's poll
		}
		armed = false
		w.arm(-1)
		wake()
	}
	defer func() {
		if armed {
			w.arm(-1)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle:
			if !armed {
				armed = true
				w.arm(1)
			}
			select { // the read below sees what that commit wrote
			case <-s:
			default:
			}
			check()
		case <-s:
			if armed {
				check()
			}
		}
	}
}

// private reports whether db is an in-memory database, which no other
// process can open (its main database has no file).
func private(ctx context.Context, db *sql.DB) bool {
	rows, err := db.QueryContext(ctx, `PRAGMA database_list`)
	if err != nil {
		return false
	}
	defer rows.Close()
	for rows.Next() {
		var seq int
		var name, file string
		if rows.Scan(&seq, &name, &file) == nil && name == "main" {
			return file == ""
		}
	}
	return false
}

// watcher reads PRAGMA data_version of one *sql.DB, on a connection of its
// own, every WatchInterval while at least one Wake is armed, and signals
// every Wake of the database when it changed: another connection, of this
// process or another, committed.
type watcher struct {
	db *sql.DB

	mu    sync.Mutex
	subs  map[chan struct{}]bool
	armed int
	kick  chan struct{} // wakes the loop when the first Wake arms
	stop  context.CancelFunc
	done  chan struct{}
}

var (
	watchersMu sync.Mutex
	watchers   = map[*sql.DB]*watcher{}
)

// subscribe adds s to db's watcher, started if it was not running, which
// signals s after each commit it sees.
func subscribe(db *sql.DB, s chan struct{}) *watcher {
	watchersMu.Lock()
	defer watchersMu.Unlock()
	w := watchers[db]
	if w == nil {
		ctx, cancel := context.WithCancel(context.Background())
		w = &watcher{db: db, subs: map[chan struct{}]bool{}, kick: make(chan struct{}, 1), stop: cancel, done: make(chan struct{})}
		watchers[db] = w
		go w.loop(ctx)
	}
	w.mu.Lock()
	w.subs[s] = true
	w.mu.Unlock()
	return w
}

// remove drops a Wake's channel, and stops the watcher after the last one
// (its connection goes back to the database's pool).
func (w *watcher) remove(s chan struct{}) {
	watchersMu.Lock()
	w.mu.Lock()
	delete(w.subs, s)
	last := len(w.subs) == 0
	w.mu.Unlock()
	if last {
		delete(watchers, w.db)
	}
	watchersMu.Unlock()
	if last {
		w.stop()
		<-w.done
	}
}

// arm counts a Wake that starts (+1) or stops (-1) waiting for a commit.
func (w *watcher) arm(d int) {
	w.mu.Lock()
	w.armed += d
	first := d > 0 && w.armed == 1
	w.mu.Unlock()
	if first {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

func (w *watcher) loop(ctx context.Context) {
	defer close(w.done)
	var conn *sql.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	var last int64 = -1
	tick := time.NewTicker(WatchInterval)
	defer tick.Stop()
	for {
		w.mu.Lock()
		armed := w.armed > 0
		w.mu.Unlock()
		if armed {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case <-w.kick:
			}
		}
		if conn == nil {
			c, err := w.db.Conn(ctx)
			if err != nil {
				continue // retried at the next tick
			}
			conn, last = c, -1
		}
		var v int64
		if err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
			conn.Close()
			conn = nil
			continue
		}
		if v == last {
			continue
		}
		// The first read of a connection is a change too: a commit may have
		// come before it.
		last = v
		w.mu.Lock()
		for s := range w.subs {
			select {
			case s <- struct{}{}:
			default:
			}
		}
		w.mu.Unlock()
	}
}
