package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Writer group-commits the writes of this process to one database: calls
// to Do that arrive while a transaction is being written wait, and go out
// together as the next one — one BEGIN IMMEDIATE, one COMMIT and one append
// to the write-ahead log for all of them. SQLite lets one connection write
// at a time, so a write paid for its own transaction and log append while
// the others queued for the lock; a batch pays once. No call waits for a
// timer: a lone call is written at once, in the caller's goroutine, and
// batches grow only as fast as calls arrive (the pattern of River's batch
// completer, and of backends/postgres.Group).
//
// A batch holds WriteLock(db) while it writes, so the process's other
// writers that take that mutex queue with it. Once a batch has waited for
// SQLite's write lock, which another process held, the batches that follow
// try for it again every millisecond at most (begin), up to the busy
// timeout, instead of sleeping in SQLite's busy handler.
//
// Statements run as prepared statements, prepared once per connection and
// kept (see Stmts): a statement run on a *sql.Tx directly is parsed and
// planned at every execution, which was a fifth of the CPU time of the
// SQLite worker benchmark. The generated SQLite drivers write every change
// through their database's Writer.
type Writer struct {
	db    *sql.DB
	lock  *sync.Mutex // WriteLock(db)
	stmts *Stmts

	// conn is the connection batches are written on while the writer is
	// busy, held from its first batch until its queue is empty: the same
	// connection's page cache stays valid from one batch to the next,
	// where a pooled connection another one wrote after had to drop its
	// whole cache (8 % of the worker benchmark's CPU time). Guarded by lock.
	conn *sql.Conn
	// polls tells that conn's busy timeout is 0 (begin polls for the
	// lock), to be set back when it returns to the pool. Guarded by lock.
	polls bool
	// shared is set once a batch waited for the write lock: another
	// process writes the database too, and from then on batches poll for
	// the lock (begin). A process alone on its database never waits for
	// it (its writers queue on lock), and pays nothing for the polling.
	shared atomic.Bool

	batches, writes atomic.Int64 // transactions committed, and calls in them

	mu      sync.Mutex
	queue   []*writeCall
	writing bool // a goroutine is writing, and will write what queues
	calls   sync.Pool
}

type writeCall struct {
	fn   func(DBTX) error
	done chan error
}

// writerMaxBatch bounds the calls of one transaction, so that a caller at the
// end of a long queue does not wait for all of it.
const writerMaxBatch = 256

// DBTX is what a write runs its statements on: sqlc's DBTX, so that a
// generated package's New takes it. Its statements run in the batch's
// transaction and ignore the context they are given: once a batch starts,
// each of its statements runs to the end, so that one caller giving up
// cannot abort the others' transaction.
type DBTX interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var writers sync.Map // *sql.DB → *Writer

// WriterFor returns the Writer of db: one per database handle, shared by
// every driver over it.
func WriterFor(db *sql.DB) *Writer {
	if w, ok := writers.Load(db); ok {
		return w.(*Writer)
	}
	w, _ := writers.LoadOrStore(db, &Writer{db: db, lock: WriteLock(db), stmts: NewStmts(db)})
	return w.(*Writer)
}

// Do runs fn in a write transaction, shared with the calls that queued
// while the previous one was written, and returns fn's error, or the
// commit's. fn must only write through the DBTX it is given, and must not
// call Do: it runs while the batch holds the writer. An fn that returns an
// error rolls back what it wrote: the batch is rolled back and each of its
// calls runs again in a transaction of its own, so fn may run twice and
// must leave nothing outside the database that a second run would not
// redo. If ctx ends while fn waits its turn, Do returns ctx.Err(), and fn
// may or may not have run and been committed (as with any write whose reply
// is lost).
func (w *Writer) Do(ctx context.Context, fn func(DBTX) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	if !w.writing {
		// Nothing is being written: write this one now, in this goroutine.
		// Calls arriving meanwhile queue, and go as one batch after it.
		w.writing = true
		w.mu.Unlock()
		err := w.run([]func(DBTX) error{fn})[0]
		w.mu.Lock()
		if len(w.queue) > 0 {
			w.mu.Unlock()
			go w.drain() // keeps writing: the queued calls are its
			return err
		}
		w.mu.Unlock()
		w.idle()
		return err
	}
	c, _ := w.calls.Get().(*writeCall)
	if c == nil {
		c = &writeCall{done: make(chan error, 1)}
	}
	c.fn = fn
	w.queue = append(w.queue, c)
	w.mu.Unlock()
	select {
	case err := <-c.done:
		c.fn = nil
		w.calls.Put(c)
		return err
	case <-ctx.Done():
		// The call is answered later, into its buffered channel: it is not
		// reused.
		return ctx.Err()
	}
}

// idle releases the connection and ends the writing, unless calls queued
// meanwhile: then it drains them.
func (w *Writer) idle() {
	w.lock.Lock()
	if w.conn != nil {
		w.release()
	}
	w.lock.Unlock()
	w.mu.Lock()
	if len(w.queue) > 0 {
		w.mu.Unlock()
		go w.drain()
		return
	}
	w.writing = false
	w.mu.Unlock()
}

// release returns the batches' connection to the pool, where readers wait
// through SQLite's busy handler: with its busy timeout set back if the
// batches polled for the lock, or closed if that fails. Under lock.
func (w *Writer) release() {
	if w.polls {
		if _, err := w.conn.ExecContext(context.Background(), busyTimeoutPragma); err != nil {
			drop(w.conn)
			w.conn, w.polls = nil, false
			return
		}
	}
	_ = w.conn.Close()
	w.conn, w.polls = nil, false
}

// drain writes batches until the queue is empty.
func (w *Writer) drain() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.mu.Unlock()
			w.idle()
			return
		}
		n := min(len(w.queue), writerMaxBatch)
		batch := make([]*writeCall, n)
		copy(batch, w.queue)
		w.queue = append(w.queue[:0], w.queue[n:]...)
		w.mu.Unlock()
		w.write(batch)
	}
}

// write writes a batch in one transaction. When a call fails, its error
// rolled the shared transaction back: every call is then written alone, so
// only the culprit fails.
func (w *Writer) write(batch []*writeCall) {
	fns := make([]func(DBTX) error, len(batch))
	for i, c := range batch {
		fns[i] = c.fn
	}
	errs := w.run(fns)
	if len(batch) > 1 && errs[len(errs)-1] == errRolledBack {
		for _, c := range batch {
			c.done <- w.run([]func(DBTX) error{c.fn})[0]
		}
		return
	}
	for i, c := range batch {
		c.done <- errs[i]
	}
}

// errRolledBack marks, in a batch of several, that a call failed and the
// batch was rolled back: the last error is set to it.
var errRolledBack = errors.New("sqlite: batch rolled back")

// run runs fns in one transaction and commits it. With one fn, its error
// (or the commit's) is the result. With several, the first error stops the
// batch and rolls it back, and the last result is errRolledBack.
func (w *Writer) run(fns []func(DBTX) error) (errs []error) {
	errs = make([]error, len(fns))
	fail := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	ctx := context.Background()
	w.lock.Lock()
	defer w.lock.Unlock()
	if w.conn == nil && w.db.Stats().MaxOpenConnections != 1 {
		// (A database of one connection, :memory:, keeps it for its readers.)
		c, err := w.db.Conn(ctx)
		if err != nil {
			return fail(err)
		}
		if w.shared.Load() {
			// The writer waits for another process's lock itself (begin).
			if _, err := c.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
				drop(c)
				return fail(err)
			}
			w.polls = true
		}
		w.conn = c
	}
	var tx *sql.Tx
	var err error
	switch {
	case w.polls:
		tx, err = begin(ctx, w.conn, writerBusyTimeout)
	case w.conn != nil:
		start := time.Now()
		tx, err = w.conn.BeginTx(ctx, nil)
		if time.Since(start) >= sharedAfter {
			w.shared.Store(true) // it waited in SQLite's busy handler
		}
	default:
		tx, err = w.db.BeginTx(ctx, nil)
	}
	if err != nil {
		if w.conn != nil {
			drop(w.conn) // it may be broken
			w.conn, w.polls = nil, false
		}
		return fail(err)
	}
	t := &txStmts{tx: tx, stmts: w.stmts, ctx: ctx}
	if w.conn == nil {
		// The transaction holds the database's only connection: preparing
		// on the database would wait for it.
		t.stmts = nil
	}
	for i, fn := range fns {
		if err := call(fn, t); err != nil {
			_ = tx.Rollback()
			if len(fns) > 1 {
				errs[len(errs)-1] = errRolledBack
				return errs
			}
			errs[i] = err
			return errs
		}
	}
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		return fail(err)
	}
	w.batches.Add(1)
	w.writes.Add(int64(len(fns)))
	return errs
}

// writerBusyTimeout is how long a batch waits for another process's write
// lock before it fails with SQLITE_BUSY: the busy timeout of the pool's
// connections.
var writerBusyTimeout = busyTimeout

// sharedAfter is how long a BEGIN IMMEDIATE takes at least when it waited
// for another process's write lock: SQLite's busy handler first sleeps
// 1 ms. (A BEGIN slowed as long by a loaded machine is taken for a wait
// too; the writer then polls for the lock itself, which costs nothing
// more.) A variable for the tests.
var sharedAfter = time.Millisecond

// writerPollMax is the longest a batch sleeps between two tries of the
// write lock another process holds.
const writerPollMax = time.Millisecond

// begin starts a write transaction (BEGIN IMMEDIATE) on conn, whose busy
// timeout is 0 once the writer has seen another process write (shared),
// trying again while another process holds the write lock,
// every 50 µs at first and then every writerPollMax, for up to timeout.
// SQLite's own busy handler sleeps 1, 2, 5, 10 … up to 100 ms between
// tries: while another process wrote a transaction after another, a worker
// pool's claim slept through the short gaps between them, and a task
// created there waited tens to hundreds of milliseconds at the median
// (BenchmarkPickupUnderLoad: 31–53 ms, and 18–20 ms trying every
// millisecond).
func begin(ctx context.Context, conn *sql.Conn, timeout time.Duration) (*sql.Tx, error) {
	start := time.Now()
	for wait := 50 * time.Microsecond; ; wait = min(2*wait, writerPollMax) {
		tx, err := conn.BeginTx(ctx, nil)
		if err == nil || !isBusy(err) || time.Since(start) >= timeout {
			return tx, err
		}
		time.Sleep(wait)
	}
}

// drop closes a connection and keeps the pool from using it again.
func drop(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
	_ = c.Close()
}

// WriterStats counts what a Writer committed.
type WriterStats struct {
	Transactions int64 // transactions committed
	Writes       int64 // calls of Do in them
}

// Stats returns what the writer committed since it was made.
func (w *Writer) Stats() WriterStats {
	return WriterStats{Transactions: w.batches.Load(), Writes: w.writes.Load()}
}

// call runs fn, turning a panic into an error: the writer must go on.
func call(fn func(DBTX) error, t DBTX) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("sqlite: write panicked: %v", v)
		}
	}()
	return fn(t)
}

// txStmts runs a batch's statements in its transaction, through the
// statements prepared on the transaction's connection (stmts), or prepared
// for the transaction alone when stmts is nil.
type txStmts struct {
	tx    *sql.Tx
	stmts *Stmts
	ctx   context.Context
}

func (t *txStmts) stmt(query string) (*sql.Stmt, error) {
	if t.stmts == nil {
		return t.tx.PrepareContext(t.ctx, query)
	}
	st, err := t.stmts.stmt(t.ctx, query)
	if err != nil {
		return nil, err
	}
	return t.tx.StmtContext(t.ctx, st), nil
}

func (t *txStmts) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

func (t *txStmts) PrepareContext(_ context.Context, query string) (*sql.Stmt, error) {
	return t.stmt(query)
}

func (t *txStmts) QueryContext(_ context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

func (t *txStmts) QueryRowContext(_ context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(query)
	if err != nil {
		return t.tx.QueryRowContext(t.ctx, query, args...) // reports the same error through the row
	}
	return st.QueryRowContext(t.ctx, args...)
}

// Write is Do for a write with a result: fn's result when it was
// committed.
func Write[R any](ctx context.Context, w *Writer, fn func(DBTX) (R, error)) (R, error) {
	var r R
	err := w.Do(ctx, func(tx DBTX) (err error) {
		r, err = fn(tx)
		return err
	})
	if err != nil {
		var zero R
		return zero, err
	}
	return r, nil
}
