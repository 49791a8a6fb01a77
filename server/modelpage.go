package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/tasktype"
)

// This file is what a model's page (package server/dashboard) reads: the
// model's lifecycle as its generated package describes it, and counts of
// its tasks by status through indexed queries, as a user may see them.

// ModelInfo is a model's lifecycle, as its generated package describes it
// (tasktype.Lifecycle), with its API section.
type ModelInfo struct {
	tasktype.Lifecycle
	API tasktype.API
}

// Model describes a model's lifecycle; an unknown model is a *Problem of
// status 404.
func (s *Server) Model(name string) (ModelInfo, error) {
	b, ok := s.models.byName[name]
	if !ok {
		return ModelInfo{}, notFound(fmt.Sprintf("no model %q", truncate(name, 80)))
	}
	return ModelInfo{Lifecycle: b.lifecycle(), API: b.api()}, nil
}

// StatusCounts counts a model's tasks per status as u may see them (their
// own; an admin, every task): ok is false on a backend that cannot count
// (memory). Each status is counted over the (status, created_at) index,
// or the (owner, status, created_at) index for a user, reading at most
// CountCap entries: a status holding more is shown from a full count that
// runs in the background (Count's CountedAt), or as CountCap and more
// until the first one finishes. Statuses without tasks are missing.
func (s *Server) StatusCounts(ctx context.Context, u User, model string) (counts map[string]Count, ok bool, err error) {
	b, found := s.models.byName[model]
	if !found {
		return nil, false, notFound(fmt.Sprintf("no model %q", truncate(model, 80)))
	}
	if s.models.backend.memory {
		return nil, false, nil
	}
	owner, scoped, none := ownerScope(u, b)
	if none {
		return map[string]Count{}, true, nil
	}
	col := ""
	if scoped {
		col = b.api().Owner
	}
	c, err := s.models.counts.statusCounts(ctx, model, statusNames(b.lifecycle()), col, owner)
	if err != nil {
		return nil, false, err
	}
	return c, true, nil
}

func statusNames(l tasktype.Lifecycle) []string {
	out := make([]string, len(l.Statuses))
	for i, st := range l.Statuses {
		out[i] = st.Name
	}
	return out
}

// Queue is the health of a model's worker queue as u may see it.
type Queue struct {
	// Oldest is when the oldest task waiting in the queue status was
	// created (nil when none waits).
	Oldest *time.Time
	// Running are the tasks in the running status, newest first (at most
	// QueueRunningLimit), with their leases.
	Running []Lease
	// More: more tasks are running than listed.
	More bool
}

// Lease is a running task's lease, as stored in its row.
type Lease struct {
	ID      string
	Owner   string // the worker that holds it
	Expires *time.Time
	// Renewed is when the lease was last renewed, by the claim or a
	// heartbeat: Expires minus the worker section's lease, which both set
	// the expiry from (nil when Expires is).
	Renewed *time.Time
	Attempt int64
}

// QueueRunningLimit bounds the running tasks Queue lists.
const QueueRunningLimit = 20

// ModelQueue reads the queue of a model with a worker section: the oldest
// queued task and the running tasks' leases (indexed reads of the
// (status, created_at) or (owner, status, created_at) index; at most
// QueueRunningLimit + 1 rows). ok is false on a backend that cannot
// (memory) and for a model without a worker section.
func (s *Server) ModelQueue(ctx context.Context, u User, model string) (q Queue, ok bool, err error) {
	b, found := s.models.byName[model]
	if !found {
		return Queue{}, false, notFound(fmt.Sprintf("no model %q", truncate(model, 80)))
	}
	w := b.worker()
	if s.models.backend.memory || w.Claim == "" {
		return Queue{}, false, nil
	}
	owner, scoped, none := ownerScope(u, b)
	if none {
		return Queue{}, true, nil
	}
	col := ""
	if scoped {
		col = b.api().Owner
	}
	q, err = s.models.backend.queue(ctx, model, col, owner, w)
	if err != nil {
		return Queue{}, false, err
	}
	return q, true, nil
}

// ownerScope tells whose tasks u counts: scoped to owner, or every task
// (an admin); none when u may see no task of the model (a user, and a
// model without an owner field).
func ownerScope(u User, b binding) (owner string, scoped, none bool) {
	if u.Admin {
		return "", false, false
	}
	if b.api().Owner == "" {
		return "", false, true
	}
	return u.Name, true, false
}

// countByStatusOf counts the tasks of one owner per status (the owner
// column's index leads with it).
func (b *Backend) countByStatusOf(ctx context.Context, model, col, owner string) (map[string]int64, error) {
	if !reTable.MatchString(model) || !reTable.MatchString(col) {
		return nil, fmt.Errorf("server: %q.%q is not a table and column name", model, col)
	}
	q := countOfSQL(model, col)
	db, stmt, params, err := b.sqlDB(q, []any{owner})
	switch {
	case err != nil:
		return nil, err
	case db != nil:
		rows, err := db.QueryContext(ctx, stmt, params...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return scanCounts(rows)
	case b.pg != nil:
		rows, err := b.pg.Query(ctx, q, owner)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return scanCounts(rows)
	}
	return nil, nil
}

// queue reads a model's oldest queued task and running leases, of one
// owner when col is set.
func (b *Backend) queue(ctx context.Context, model, col, owner string, w tasktype.Worker) (Queue, error) {
	if !reTable.MatchString(model) || (col != "" && !reTable.MatchString(col)) {
		return Queue{}, fmt.Errorf("server: %q.%q is not a table and column name", model, col)
	}
	args := []any{w.Queue}
	if col != "" {
		args = append(args, owner)
	}
	oldest, running := queueSQL(model, col)
	var q Queue
	scanLease := func(id, expires any, leaseOwner string, attempt int64) {
		l := Lease{ID: fmt.Sprint(id), Owner: leaseOwner, Attempt: attempt}
		if u, ok := id.([16]byte); ok {
			l.ID = uuid.UUID(u).String()
		}
		if s, ok := id.(string); ok {
			l.ID = s
		}
		if t, ok := anyTime(expires); ok {
			l.Expires = &t
			if w.Lease > 0 {
				hb := t.Add(-w.Lease)
				l.Renewed = &hb
			}
		}
		q.Running = append(q.Running, l)
	}
	switch db, stmt, params, err := b.sqlDB(oldest, args); {
	case err != nil:
		return Queue{}, err
	case db != nil:
		var at any
		err := db.QueryRowContext(ctx, stmt, params...).Scan(&at)
		if err == nil {
			if t, ok := anyTime(at); ok {
				q.Oldest = &t
			}
		} else if !isNoRows(err) {
			return Queue{}, err
		}
		args[0] = w.Running
		_, stmt, params, err = b.sqlDB(running, args)
		if err != nil {
			return Queue{}, err
		}
		rows, err := db.QueryContext(ctx, stmt, params...)
		if err != nil {
			return Queue{}, err
		}
		defer rows.Close()
		for rows.Next() {
			var id, exp any
			var lo string
			var n int64
			if err := rows.Scan(&id, &lo, &exp, &n); err != nil {
				return Queue{}, err
			}
			if raw, ok := id.([]byte); ok {
				id = string(raw)
			}
			scanLease(id, exp, lo, n)
		}
		if err := rows.Err(); err != nil {
			return Queue{}, err
		}
	case b.pg != nil:
		var at *time.Time
		err := b.pg.QueryRow(ctx, oldest, args...).Scan(&at)
		if err == nil {
			q.Oldest = at
		} else if !isNoRows(err) {
			return Queue{}, err
		}
		args[0] = w.Running
		rows, err := b.pg.Query(ctx, running, args...)
		if err != nil {
			return Queue{}, err
		}
		defer rows.Close()
		for rows.Next() {
			var id uuid.UUID
			var exp *time.Time
			var lo string
			var n int64
			if err := rows.Scan(&id, &lo, &exp, &n); err != nil {
				return Queue{}, err
			}
			var e any
			if exp != nil {
				e = *exp
			}
			scanLease(id.String(), e, lo, n)
		}
		if err := rows.Err(); err != nil {
			return Queue{}, err
		}
	}
	if len(q.Running) > QueueRunningLimit {
		q.Running, q.More = q.Running[:QueueRunningLimit], true
	}
	return q, nil
}

// countOfSQL counts one owner's tasks by status ($1 the owner): over the
// (owner, status, created_at) index.
func countOfSQL(model, col string) string {
	return `SELECT status, count(*) FROM "` + model + `" WHERE "` + col + `" = $1 GROUP BY status`
}

// queueSQL reads the oldest task of a status ($1), and the newest tasks of
// a status with their leases, of one owner ($2) when col is set: over the
// (status, created_at) or (owner, status, created_at) index.
func queueSQL(model, col string) (oldest, running string) {
	where := `status = $1`
	if col != "" {
		where = `"` + col + `" = $2 AND status = $1`
	}
	oldest = `SELECT created_at FROM "` + model + `" WHERE ` + where + ` ORDER BY created_at ASC LIMIT 1`
	running = `SELECT id, tm_lease_owner, tm_lease_expires_at, tm_lease_attempt FROM "` + model + `" WHERE ` + where +
		fmt.Sprintf(` ORDER BY created_at DESC LIMIT %d`, QueueRunningLimit+1)
	return oldest, running
}

func isNoRows(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows)
}

// anyTime reads a timestamp column as a driver returns it: a time.Time, or
// text in one of SQLite's layouts.
func anyTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), true
	case []byte:
		return anyTime(string(x))
	case string:
		for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}
