package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/groupcommit"
	"github.com/taskmodel/taskmodel/backends/sqltable"
)

// Driver stores the tasks of one model in MySQL or MariaDB, through the
// statements of its sqltable.Table (the model's generated mysqldb
// package): guarded transitions with their history rows in one
// transaction, reservations with SELECT … FOR UPDATE SKIP LOCKED, leases,
// heartbeats, retention and the change listing. It implements
// backends.Driver, BatchInserter, KeyReader and ChangeLister, and for a
// model with a worker section WorkDriver and Waker; ClaimingDriver adds
// backends.Claimer.
//
// Every write is one transaction sent as one query of many statements
// (one round trip: a script), and concurrent creates and transitions are
// committed together, in one script. A large batch of transitions goes
// into a temporary table of the connection that each of its statements
// reads, so the server parses six or seven statements a batch rather than
// two a transition (transitionBatch). A claim locks its tasks, moves them,
// appends their history rows and reads them back in one script too. A
// transaction that the server rolls back for a deadlock (two claims
// locking rows in different orders, say) is run again, up to maxAttempts
// times.
type Driver[T any] struct {
	t  *sqltable.Compiled[T]
	db *sql.DB
	// transitions and inserts commit concurrent writes together.
	transitions, inserts *groupcommit.Group[sqltable.Call[T]]
	// noBatchTable is set once the server refused the batch's temporary
	// table (transitionBatch): the driver then writes pairs.
	noBatchTable atomic.Bool
}

// ClaimingDriver is a Driver whose model has a Claim statement: it
// implements backends.Claimer.
type ClaimingDriver[T any] struct {
	*Driver[T]
}

// NewDriver returns a Driver over a database opened by Open for the model t
// describes. It panics if a statement has a parameter it cannot fill: t is
// generated, and every model's tests build its driver.
func NewDriver[T any](db *sql.DB, t *sqltable.Table[T]) *Driver[T] {
	c, err := sqltable.Compile(t, nil)
	if err != nil {
		panic("mysql: " + err.Error())
	}
	d := &Driver[T]{t: c, db: db}
	d.transitions = groupcommit.NewGroup(d.flushTransitions, d.transitionOne, func(c sqltable.Call[T]) uuid.UUID { return c.From.ID })
	d.inserts = groupcommit.NewGroup(d.flushInserts, d.insertOne, func(c sqltable.Call[T]) uuid.UUID { return c.ID })
	d.transitions.SetMaxInFlight(maxInFlight)
	d.inserts.SetMaxInFlight(maxInFlight)
	return d
}

// NewClaimingDriver returns NewDriver's driver with backends.Claimer.
func NewClaimingDriver[T any](db *sql.DB, t *sqltable.Table[T]) *ClaimingDriver[T] {
	return &ClaimingDriver[T]{NewDriver(db, t)}
}

var (
	_ backends.Driver[struct{}]        = (*Driver[struct{}])(nil)
	_ backends.BatchInserter[struct{}] = (*Driver[struct{}])(nil)
	_ backends.KeyReader               = (*Driver[struct{}])(nil)
	_ backends.ChangeLister            = (*Driver[struct{}])(nil)
	_ backends.WorkDriver[struct{}]    = (*Driver[struct{}])(nil)
	_ backends.Waker                   = (*Driver[struct{}])(nil)
	_ backends.Claimer[struct{}]       = (*ClaimingDriver[struct{}])(nil)
)

// dbtx is a *sql.DB or a *sql.Tx.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// maxInFlight bounds the batches of a group written at once: one. In the
// worker benchmark (concurrency 128, 5,000 tasks, four alternated runs) two
// batches in flight cost the server 413–493 µs of CPU a
// task and ran 718–830 tasks/s; one cost 247–286 µs and ran 870–1,244: two
// concurrent batches update the same index pages (the newest entries of
// the status and updated_at indexes), and each commits half as many tasks.
// Measured again at concurrency 1000, 20,000 tasks, three rounds: two left
// the machine less idle (4–5 % against 10–13 %), cost the server a tenth
// more CPU a task, and ran no faster.
const maxInFlight = 1

// maxAttempts bounds how many times a transaction runs when the server
// rolls it back for a deadlock or a lock wait timeout.
const maxAttempts = 5

// retry runs fn, again when the server rolled its transaction back for a
// deadlock or a lock wait timeout, up to maxAttempts times.
func retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !IsRetryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
	}
}

// exec runs a statement that writes rows: how many it matched.
func (d *Driver[T]) exec(ctx context.Context, db dbtx, name string, c *sqltable.Call[T]) (int64, error) {
	query, args, err := d.t.Bind(name, c)
	if err != nil {
		return 0, err
	}
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Insert writes a new task and its first history row. Concurrent inserts
// are committed together (groupcommit.Group).
func (d *Driver[T]) Insert(ctx context.Context, x *T, h backends.History) error {
	k := d.t.Key(x)
	return Classify(d.inserts.Do(ctx, sqltable.Call[T]{Task: x, ID: k.ID, ToStatus: k.Status, History: h}))
}

// insertOne writes one task and its first history row: a batch of one.
func (d *Driver[T]) insertOne(ctx context.Context, c sqltable.Call[T]) error {
	return d.flushInserts(ctx, []sqltable.Call[T]{c})[0]
}

// flushInserts writes a batch of inserts in one round trip and one
// transaction; an error aborts the batch, which the group then writes item
// by item.
func (d *Driver[T]) flushInserts(ctx context.Context, calls []sqltable.Call[T]) []error {
	err := d.insertBatch(ctx, calls)
	errs := make([]error, len(calls))
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// InsertMany writes new tasks and their first history rows in one
// transaction, all or none; it implements backends.BatchInserter.
func (d *Driver[T]) InsertMany(ctx context.Context, xs []*T, hs []backends.History) error {
	if len(xs) != len(hs) {
		return fmt.Errorf("InsertMany: %d tasks and %d history rows", len(xs), len(hs))
	}
	if len(xs) == 0 {
		return nil
	}
	calls := make([]sqltable.Call[T], len(xs))
	for i, x := range xs {
		k := d.t.Key(x)
		calls[i] = sqltable.Call[T]{Task: x, ID: k.ID, ToStatus: k.Status, History: hs[i]}
	}
	return Classify(d.insertBatch(ctx, calls))
}

// add appends statement name, bound for c, to a script.
func (d *Driver[T]) add(sc *script, name string, c *sqltable.Call[T]) error {
	query, args, err := d.t.Bind(name, c)
	if err != nil {
		return err
	}
	sc.add(query, args)
	return nil
}

// insertBatch writes new tasks and their first history rows in one script
// of two statements, Insert and InsertHistory, each with its VALUES row
// repeated for every task; again after a deadlock.
func (d *Driver[T]) insertBatch(ctx context.Context, calls []sqltable.Call[T]) error {
	var sc script
	for _, name := range []string{"Insert", "InsertHistory"} {
		query, args, err := d.values(name, calls)
		if err != nil {
			return err
		}
		sc.add(query, args)
	}
	return retry(ctx, func() error {
		_, err := sc.exec(ctx, d.db)
		return err
	})
}

// values binds an INSERT … VALUES statement for every call: its VALUES row
// repeated, the arguments of each call in turn.
func (d *Driver[T]) values(name string, calls []sqltable.Call[T]) (string, []any, error) {
	head, row, ok := strings.Cut(d.t.Stmts[name].SQL, "\nVALUES ")
	if !ok {
		return "", nil, fmt.Errorf("mysql: statement %s has no VALUES row", name)
	}
	row = strings.TrimSuffix(strings.TrimSpace(row), ";")
	var text strings.Builder
	text.Grow(len(head) + len("\nVALUES ") + len(calls)*(len(row)+2))
	text.WriteString(head)
	text.WriteString("\nVALUES ")
	args := make([]any, 0, len(d.t.Stmts[name].Args)*len(calls))
	for i := range calls {
		_, a, err := d.t.Bind(name, &calls[i])
		if err != nil {
			return "", nil, err
		}
		if i > 0 {
			text.WriteString(", ")
		}
		text.WriteString(row)
		args = append(args, a...)
	}
	return text.String(), args, nil
}

// batch runs, for each call, the statements named, in one transaction and
// one round trip (a script), again after a deadlock; it returns the rows
// each statement matched, by call and statement. When a statement fails
// the server runs none after it, and the script is rolled back.
func (d *Driver[T]) batch(ctx context.Context, calls []sqltable.Call[T], names ...string) ([][]int64, error) {
	var sc script
	for i := range calls {
		for _, name := range names {
			if err := d.add(&sc, name, &calls[i]); err != nil {
				return nil, err
			}
		}
	}
	var counts []int64
	err := retry(ctx, func() error {
		var err error
		counts, err = sc.exec(ctx, d.db)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([][]int64, len(calls))
	for i := range calls {
		out[i] = counts[i*len(names) : (i+1)*len(names)]
	}
	return out, nil
}

// Get reads a task.
func (d *Driver[T]) Get(ctx context.Context, id uuid.UUID) (*T, error) {
	query, args, err := d.t.Bind("Get", &sqltable.Call[T]{ID: id})
	if err != nil {
		return nil, err
	}
	x, _, err := d.t.Scan(d.db.QueryRowContext(ctx, query, args...))
	if err != nil {
		return nil, Classify(err)
	}
	return x, nil
}

// Keys reads the keys (status and version) of those of the tasks that
// exist, in one query; it implements backends.KeyReader.
func (d *Driver[T]) Keys(ctx context.Context, ids []uuid.UUID) ([]backends.Key, error) {
	return d.t.Keys(ctx, d.db, Classify, ids)
}

// Transition writes x over the task if it still has from's status and
// version, and appends its history row, in one transaction; false when
// the guard fails. Concurrent transitions are committed together
// (groupcommit.Group).
func (d *Driver[T]) Transition(ctx context.Context, from backends.Key, x *T, h backends.History) (bool, error) {
	err := d.transitions.Do(ctx, sqltable.Call[T]{Task: x, From: from, ID: from.ID, ToStatus: d.t.Key(x).Status, History: h})
	if errors.Is(err, groupcommit.ErrNotApplied) {
		return false, nil
	}
	return err == nil, Classify(err)
}

// transitionOne writes one transition: a batch of one;
// groupcommit.ErrNotApplied when its guard fails.
func (d *Driver[T]) transitionOne(ctx context.Context, c sqltable.Call[T]) error {
	return d.flushTransitions(ctx, []sqltable.Call[T]{c})[0]
}

// flushTransitions writes a batch of transitions in one round trip and one
// transaction, in the order of their tasks' ids (two batches in flight
// lock their rows in the same order): InsertHistoryGuarded and
// UpdateGuarded for each, or, from minTableBatch transitions on, the
// model's Transition statements once (transitionBatch). A transition whose
// guard failed gets groupcommit.ErrNotApplied. The group gives it
// transitions of distinct tasks.
func (d *Driver[T]) flushTransitions(ctx context.Context, calls []sqltable.Call[T]) []error {
	sorted := slices.Clone(calls)
	slices.SortFunc(sorted, func(a, b sqltable.Call[T]) int { return bytes.Compare(a.From.ID[:], b.From.ID[:]) })
	var applied map[uuid.UUID]bool
	var err error
	if len(sorted) < minTableBatch || !d.t.Has("TransitionFill") || d.noBatchTable.Load() {
		applied, err = d.transitionPairs(ctx, sorted)
	} else {
		applied, err = d.transitionBatch(ctx, sorted)
	}
	errs := make([]error, len(calls))
	for i := range calls {
		switch {
		case err != nil:
			errs[i] = err
		case !applied[calls[i].From.ID]:
			errs[i] = groupcommit.ErrNotApplied
		}
	}
	return errs
}

// transitionPairs writes a batch of transitions as InsertHistoryGuarded
// and UpdateGuarded each, and returns the ids of the tasks it moved.
func (d *Driver[T]) transitionPairs(ctx context.Context, calls []sqltable.Call[T]) (map[uuid.UUID]bool, error) {
	counts, err := d.batch(ctx, calls, "InsertHistoryGuarded", "UpdateGuarded")
	if err != nil {
		return nil, err
	}
	applied := make(map[uuid.UUID]bool, len(calls))
	for k, c := range calls {
		if counts[k][1] == 1 {
			applied[c.From.ID] = true
		}
	}
	return applied, nil
}

// minTableBatch is the smallest batch of transitions written through the
// batch's table (transitionBatch); a smaller one is a guarded INSERT and
// UPDATE a transition. BenchmarkTransitions at concurrency 32, whose
// batches are mostly under 32, six rounds alternated: a bound of 8 ran
// 6.2k–7.8k transitions/s against 4.2k–6.8k with 16 (faster in every
// round); 4 and 2 were no faster than 8 (5.6k–7.2k, 4.8k–8.0k).
const minTableBatch = 8

// The statements of a batch of transitions after TransitionClear and
// TransitionFill, in order, for a model without TEXT or JSON columns
// (transitionStmts) and for one with some (longTransitionStmts):
// TransitionUpdateLong sets those columns, and updates nothing unless a
// transition changes one; TransitionUpdateShort sets the others. An update
// of a join that sets a TEXT column keeps its new values in a temporary
// table on disk until the join is read (MariaDB's in-memory tables hold no
// TEXT). Without that table when no text changes, as when workers complete
// tasks, a task cost the server about 15 µs less CPU (BenchmarkWorkQueued).
var (
	transitionStmts     = []string{"TransitionLock", "TransitionHistory", "TransitionUpdate", "Transitioned"}
	longTransitionStmts = []string{"TransitionLock", "TransitionUpdateLong", "TransitionHistory", "TransitionUpdateShort", "Transitioned"}
)

// transitionBatch runs the script of a batch of transitions, again after a
// deadlock: the connection's batch table emptied (TransitionClear, before
// the transaction: a TRUNCATE commits), the transitions into it
// (TransitionFill, its VALUES row repeated; TransitionTable creates the
// table on a connection that has none), the lock of the tasks whose guard
// holds, their history rows, their updates, and the ids locked, which it
// returns: the transitions applied.
//
// The table is a temporary one, which takes the CREATE TEMPORARY TABLES
// privilege, and which a server that logs statements for its replicas
// would replay on them (batchTableLogged). Where the server refuses the
// table, or would log it, the driver writes this batch and every later one
// of the process as pairs of statements (transitionPairs). A batch's rows
// stay in the table until the connection's next batch or its end.
//
// The rows of the table cost the server less than one JSON parameter that
// each statement reads with JSON_TABLE, as batches were written before:
// MariaDB's JSON_TABLE finds each column's value by its path from the start
// of the row's array, about 1 µs a value. A TRUNCATE empties the table in
// 30–75 µs, a DELETE of its rows took 150 µs for 70 rows and 440–600 µs
// for 256, and left the next INSERT slower.
func (d *Driver[T]) transitionBatch(ctx context.Context, calls []sqltable.Call[T]) (map[uuid.UUID]bool, error) {
	query, args, err := d.values("TransitionFill", calls)
	if err != nil {
		return nil, err
	}
	sc := script{setup: d.createBatchTable}
	sc.before(d.t.Stmts["TransitionClear"].SQL)
	sc.add(query, args)
	names := transitionStmts
	if d.t.Has("TransitionUpdateLong") {
		names = longTransitionStmts
	}
	var none sqltable.Call[T]
	for _, name := range names {
		if err := d.add(&sc, name, &none); err != nil {
			return nil, err
		}
	}
	applied := make(map[uuid.UUID]bool, len(calls))
	err = retry(ctx, func() error {
		clear(applied)
		return sc.query(ctx, d.db, func(rows *sql.Rows) error {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				return err
			}
			applied[id] = true
			return nil
		})
	})
	if se := (*setupError)(nil); errors.As(err, &se) && (isAccessDenied(se) || errors.Is(se, errBatchTableLogged)) {
		d.noBatchTable.Store(true)
		return d.transitionPairs(ctx, calls)
	}
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// errBatchTableLogged is createBatchTable's refusal on a server that would
// log the batch's table for its replicas.
var errBatchTableLogged = errors.New("mysql: the server logs statements on temporary tables for its replicas")

// createBatchTable creates the batch's table on conn (TransitionTable),
// unless the server would log it: errBatchTableLogged.
func (d *Driver[T]) createBatchTable(ctx context.Context, conn *sql.Conn) error {
	logged, err := serverLogsBatchTable(ctx, conn)
	if err != nil {
		return err
	}
	if logged {
		return errBatchTableLogged
	}
	_, err = conn.ExecContext(ctx, d.t.Stmts["TransitionTable"].SQL)
	return err
}

// serverLogsBatchTable reports whether db's server, as its session is set,
// would log the batch's table for its replicas (batchTableLogged).
func serverLogsBatchTable(ctx context.Context, db dbtx) (bool, error) {
	var logBin int
	var format, version string
	if err := db.QueryRowContext(ctx, "SELECT @@log_bin, @@session.binlog_format, VERSION()").Scan(&logBin, &format, &version); err != nil {
		return false, err
	}
	return batchTableLogged(logBin == 1, format, strings.Contains(version, "MariaDB")), nil
}

// batchTableLogged reports whether a server writes statements on temporary
// tables to its binary log, from where replicas replay them: with the log
// on, in statement format, and in mixed format on MariaDB (MySQL logs
// neither temporary tables nor statements on them in mixed or row format).
// A replica keeps a replayed temporary table until the connection that
// made it ends, and loses it when it restarts: the next replayed batch
// would then stop replication. In row format the updates of the task
// tables are logged as rows.
func batchTableLogged(logBin bool, format string, mariaDB bool) bool {
	switch {
	case !logBin:
		return false
	case strings.EqualFold(format, "ROW"):
		return false
	case strings.EqualFold(format, "MIXED"):
		return mariaDB
	}
	return true
}

// Update writes x over the task if it still has from's status and version.
func (d *Driver[T]) Update(ctx context.Context, from backends.Key, x *T) (bool, error) {
	n, err := d.exec(ctx, d.db, "Update", &sqltable.Call[T]{Task: x, From: from})
	return n == 1, Classify(err)
}

// Delete removes a task and its history.
func (d *Driver[T]) Delete(ctx context.Context, id uuid.UUID) (bool, error) {
	n, err := d.exec(ctx, d.db, "Delete", &sqltable.Call[T]{ID: id})
	return n == 1, Classify(err)
}

// DeleteFinished removes up to limit finished tasks, and their history,
// whose last change is older than before; it returns how many it removed.
func (d *Driver[T]) DeleteFinished(ctx context.Context, before time.Time, limit int) (int, error) {
	if !d.t.Has("DeleteFinished") {
		return 0, nil
	}
	n, err := d.exec(ctx, d.db, "DeleteFinished", &sqltable.Call[T]{Before: before, Limit: limit})
	return int(n), Classify(err)
}

// History returns a task's history in order.
func (d *Driver[T]) History(ctx context.Context, id uuid.UUID) ([]backends.History, error) {
	return d.t.History(ctx, d.db, Classify, id)
}

// tasks runs a statement that returns task rows.
func (d *Driver[T]) tasks(ctx context.Context, db dbtx, name string, c *sqltable.Call[T]) ([]backends.Claim[T], error) {
	return d.t.Claims(ctx, db, Classify, name, c)
}

// ListByStatus returns up to limit tasks in a status, oldest first.
func (d *Driver[T]) ListByStatus(ctx context.Context, status string, limit int) ([]*T, error) {
	return sqltable.Tasks(d.tasks(ctx, d.db, "ListByStatus", &sqltable.Call[T]{Status: status, Limit: limit}))
}

// Due returns up to limit tasks whose status timeout has passed at now.
func (d *Driver[T]) Due(ctx context.Context, now time.Time, limit int) ([]*T, error) {
	if !d.t.Has("Due") {
		return nil, nil
	}
	return sqltable.Tasks(d.tasks(ctx, d.db, "Due", &sqltable.Call[T]{Now: now, Limit: limit}))
}

// ChangedSince returns up to limit tasks changed since (since, afterID), in
// (updated_at, id) order, as notices; it implements backends.ChangeLister.
func (d *Driver[T]) ChangedSince(ctx context.Context, since time.Time, afterID uuid.UUID, limit int) ([]backends.Notice, error) {
	return d.t.ChangedSince(ctx, d.db, Classify, since, afterID, limit)
}

// lease runs, in one script, lock (ReserveLock or ClaimLock: it locks
// tasks and keeps their ids in @tm_ids), the writes, and Locked, which
// reads the locked tasks back; again after a deadlock. It returns them
// oldest first.
func (d *Driver[T]) lease(ctx context.Context, c *sqltable.Call[T], names ...string) ([]backends.Claim[T], error) {
	var sc script
	for _, name := range append(names, "Locked") {
		if err := d.add(&sc, name, c); err != nil {
			return nil, err
		}
	}
	var cs []backends.Claim[T]
	err := retry(ctx, func() error {
		cs = cs[:0]
		return sc.query(ctx, d.db, func(rows *sql.Rows) error {
			x, l, err := d.t.Scan(rows)
			if err != nil {
				return err
			}
			cs = append(cs, backends.Claim[T]{Task: x, Lease: l})
			return nil
		})
	})
	if err != nil {
		return nil, Classify(err)
	}
	d.oldestFirst(cs)
	return cs, nil
}

// oldestFirst sorts claims in the claim order (creation time, then id):
// Locked reads them back in no order.
func (d *Driver[T]) oldestFirst(cs []backends.Claim[T]) {
	slices.SortFunc(cs, func(a, b backends.Claim[T]) int {
		return d.t.Position(a.Task).Compare(d.t.Position(b.Task))
	})
}

// Reserve leases up to limit tasks in status queue that no live lease
// holds to owner until expires; it implements backends.WorkDriver.
func (d *Driver[T]) Reserve(ctx context.Context, queue, owner string, now, expires time.Time, limit int) ([]backends.Claim[T], error) {
	return d.lease(ctx, &sqltable.Call[T]{Status: queue, Owner: owner, Now: now, Expires: expires, Limit: limit}, "ReserveLock", "Reserve")
}

// Heartbeat extends a lease its holder still has on a task still in status
// running; it implements backends.WorkDriver.
func (d *Driver[T]) Heartbeat(ctx context.Context, id uuid.UUID, lease backends.Lease, running string, expires time.Time) (bool, error) {
	n, err := d.exec(ctx, d.db, "Heartbeat", &sqltable.Call[T]{ID: id, Owner: lease.Owner, History: backends.History{Attempt: lease.Attempt}, Status: running, Expires: expires})
	return n == 1, Classify(err)
}

// Lost returns up to limit tasks in status running whose lease expired by
// now; it implements backends.WorkDriver.
func (d *Driver[T]) Lost(ctx context.Context, running string, now time.Time, limit int) ([]backends.Claim[T], error) {
	return d.tasks(ctx, d.db, "Lost", &sqltable.Call[T]{Status: running, Now: now, Limit: limit})
}

// WakePoll is how often a waiting worker pool reads whether a task became
// claimable in its queue (Wake): MySQL has no notifications, so another
// process's task is found within WakePoll.
const WakePoll = 20 * time.Millisecond

// Wake calls wake when, after idle, a task of the queue is claimable,
// reading it every WakePoll until it is; it implements backends.Waker.
func (d *Driver[T]) Wake(ctx context.Context, idle <-chan struct{}, wake func()) error {
	if d.t.Queue == "" {
		<-ctx.Done()
		return ctx.Err()
	}
	tick := time.NewTicker(WakePoll)
	defer tick.Stop()
	armed := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle:
			armed = true
		case <-tick.C:
			if !armed {
				continue
			}
		}
		query, args, err := d.t.Bind("Claimable", &sqltable.Call[T]{Status: d.t.Queue, Now: time.Now()})
		if err != nil {
			return err
		}
		var ok bool
		if err := d.db.QueryRowContext(ctx, query, args...).Scan(&ok); err != nil || !ok {
			continue // an error waits for the next tick, or the pool's poll
		}
		armed = false
		wake()
	}
}

// Claim reserves like Reserve, after a position in the queue, and fires the
// claim event on every reserved task in the same transaction, with their
// history rows (one statement), all in one round trip; it implements
// backends.Claimer.
func (d *ClaimingDriver[T]) Claim(ctx context.Context, owner string, now, expires time.Time, limit int, after backends.QueuePosition) ([]backends.Claim[T], backends.QueuePosition, error) {
	now = now.UTC().Truncate(time.Microsecond)
	c := &sqltable.Call[T]{Owner: owner, Now: now, Expires: expires, Limit: limit, After: after}
	cs, err := d.lease(ctx, c, "ClaimLock", "Claim", "ClaimHistory")
	if err != nil || len(cs) == 0 {
		return nil, backends.QueuePosition{}, err
	}
	return cs, d.t.Position(cs[len(cs)-1].Task), nil
}
