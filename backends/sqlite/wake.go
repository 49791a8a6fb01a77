package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// WatchInterval is how often a process reads whether another connection
// committed to a database file while one of its worker pools waits for
// tasks (Wake), where it cannot watch the file's write-ahead log (off
// Linux, or when inotify is out of watches): each read is a PRAGMA
// data_version on a connection kept for it, a few percent of one core for
// the process while a pool waits (measured in docs/benchmarks.md).
const WatchInterval = 5 * time.Millisecond

// Wake is the SQLite backends.Waker of a generated driver: SQLite has no
// notifications, so while a pool waits the process follows the commits to
// the database file — on Linux an inotify watch of its write-ahead log, to
// which every commit of every process writes, costing nothing while nothing
// is written; elsewhere a read of PRAGMA data_version every WatchInterval —
// with one watcher per *sql.DB for all its models. After a commit it asks
// claimable — a read — whether a task in the pool's queue can be claimed,
// and only then calls wake: a pool that waits neither starts a write
// transaction nor claims on every commit of another process.
//
// The pool sends on idle when it found nothing to claim and has waited
// since: Wake then reads claimable once at once (a task may have been
// queued since the pool's last claim), and again after each commit of
// another connection, until it calls wake; then it waits for the next idle.
// A private in-memory database (Open's ":memory:") has no other process,
// and a database whose file name cannot be read cannot be watched: Wake
// then just waits for ctx to end, and pools poll.
func Wake(ctx context.Context, db *sql.DB, claimable func(ctx context.Context, now time.Time) (bool, error), idle <-chan struct{}, wake func()) error {
	// A memory database is private to this process, and one kept to a single
	// connection has none to spare for the watch.
	file, err := mainFile(ctx, db)
	if err != nil || file == "" || db.Stats().MaxOpenConnections == 1 {
		<-ctx.Done()
		return ctx.Err()
	}
	s := make(chan struct{}, 1) // a commit since the last read
	w := subscribe(db, file, s)
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

// watcher follows the commits to one *sql.DB's file while at least one
// Wake is armed (commitSource), and signals every Wake of the database
// after each: a connection, of this process or another, committed.
type watcher struct {
	db   *sql.DB
	file string // the main database file

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

// subscribe adds s to db's watcher (of the database file file), started if
// it was not running, which signals s after each commit it sees.
func subscribe(db *sql.DB, file string, s chan struct{}) *watcher {
	watchersMu.Lock()
	defer watchersMu.Unlock()
	w := watchers[db]
	if w == nil {
		ctx, cancel := context.WithCancel(context.Background())
		w = &watcher{db: db, file: file, subs: map[chan struct{}]bool{}, kick: make(chan struct{}, 1), stop: cancel, done: make(chan struct{})}
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
	events := make(chan struct{}, 1)
	go w.read(ctx, events)
	recheck := time.NewTimer(time.Hour)
	recheck.Stop()
	defer recheck.Stop()
	var after []time.Duration // the rechecks still to come
	for {
		select {
		case <-ctx.Done():
			return
		case <-events:
			after = rechecks
		case <-recheck.C:
		}
		w.signal()
		if len(after) > 0 {
			recheck.Reset(after[0])
			after = after[1:]
		}
	}
}

// rechecks are the delays, from one to the next, of the signals a watcher
// sends again after a commit it saw: a commit's writes to the log (the
// file watch's event) come before the commit is visible to readers (the
// log's index, in shared memory, is written last), and a read at the
// event's signal may come before it.
var rechecks = []time.Duration{time.Millisecond, 4 * time.Millisecond, 20 * time.Millisecond, 75 * time.Millisecond}

// read sends on events after each commit its source sees while a Wake is
// armed. While none is, it reads nothing: the file watch's events pile up
// into one, and the polls stop.
func (w *watcher) read(ctx context.Context, events chan<- struct{}) {
	src := commitSource(w.db, w.file)
	defer func() { src.close() }()
	for {
		w.mu.Lock()
		armed := w.armed > 0
		w.mu.Unlock()
		if !armed {
			select {
			case <-ctx.Done():
				return
			case <-w.kick:
			}
		}
		if err := src.next(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			// The file watch failed: poll from now on.
			src.close()
			src = &versionPoll{db: w.db}
			continue
		}
		select {
		case events <- struct{}{}:
		default:
		}
	}
}

// signal tells every Wake of the database that a commit came.
func (w *watcher) signal() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for s := range w.subs {
		select {
		case s <- struct{}{}:
		default:
		}
	}
}

// commits tells when a connection may have committed to a database.
type commits interface {
	// next returns after a commit since its previous return (the first
	// call: since the source started, or just now), or ctx's error.
	next(ctx context.Context) error
	close()
}

// commitSource returns the file watch of the write-ahead log of db, whose
// main file is file, where the system has one (Linux: inotify), and
// otherwise a poll of PRAGMA data_version.
func commitSource(db *sql.DB, file string) commits {
	if c := watchFile(file + "-wal"); c != nil {
		return c
	}
	return &versionPoll{db: db}
}

// mainFile returns the path of db's main database file ("" for a memory
// database).
func mainFile(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, `PRAGMA database_list`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int
		var name, file string
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return "", err
		}
		if name == "main" {
			return file, nil
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return "", errors.New("sqlite: no main database")
}

// versionPoll reads PRAGMA data_version every WatchInterval on a connection
// of its own (the value is per connection: it changes when another
// connection commits).
type versionPoll struct {
	db   *sql.DB
	conn *sql.Conn
	stmt *sql.Stmt
	last int64
	tick *time.Ticker
}

func (p *versionPoll) next(ctx context.Context) error {
	if p.tick == nil {
		p.tick = time.NewTicker(WatchInterval)
	}
	for {
		if p.conn == nil {
			if c, err := p.db.Conn(ctx); err == nil {
				if st, err := c.PrepareContext(ctx, `PRAGMA data_version`); err == nil {
					p.conn, p.stmt, p.last = c, st, -1
				} else {
					c.Close()
				}
			}
		}
		if p.conn != nil {
			var v int64
			if err := p.stmt.QueryRowContext(ctx).Scan(&v); err != nil {
				p.drop()
			} else if v != p.last {
				// The first read of a connection counts as a change: a
				// commit may have come before it.
				p.last = v
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.tick.C:
		}
	}
}

func (p *versionPoll) drop() {
	if p.conn != nil {
		p.stmt.Close()
		p.conn.Close()
		p.conn = nil
	}
}

func (p *versionPoll) close() {
	p.drop()
	if p.tick != nil {
		p.tick.Stop()
	}
}
