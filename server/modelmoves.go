package server

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/tasktype"
)

// This file is the model page's view of a time window: how many tasks made
// each move of the lifecycle, and how many finished and failed per interval,
// read from the history table's index on its time column.

// MovesLimit bounds the history rows one window reads: the newest
// MovesLimit moves of the window (and one more, which tells that there are
// more), through the history's time index. When a window holds more, its
// counts cover the part since the oldest move read (Moves.Since).
const MovesLimit = 5000

// MovesBuckets is how many intervals a window is cut into for the chart.
const MovesBuckets = 24

// Moves counts a model's moves in a window, as a user may see them.
type Moves struct {
	From, To time.Time
	// Edges counts the moves by status, event and status; a task's
	// creation has From "" and Event "".
	Edges map[tasktype.Edge]int64
	// Buckets cut the window into MovesBuckets intervals, oldest first.
	Buckets []Bucket
	// Limited: the window holds more than MovesLimit moves, and the counts
	// cover those at or after Since alone.
	Limited bool
	Since   time.Time
}

// Bucket is one interval of a window: the tasks that finished in it, and
// of those, the ones that failed (a terminal status of code F).
type Bucket struct {
	Start, End       time.Time
	Finished, Failed int64
	// Partial: the interval was counted from Moves.Since on, not whole;
	// Uncounted: it ends before Moves.Since and was not counted.
	Partial, Uncounted bool
}

// ModelMoves counts a model's moves between from and to (the history rows
// whose time is in [from, to)) as u may see them — their own tasks; an
// admin, every task — in one query over the history's time index that
// reads at most MovesLimit + 1 rows. ok is false on a backend that cannot
// (memory).
func (s *Server) ModelMoves(ctx context.Context, u User, model string, from, to time.Time) (mv Moves, ok bool, err error) {
	b, found := s.models.byName[model]
	if !found {
		return Moves{}, false, notFound(fmt.Sprintf("no model %q", truncate(model, 80)))
	}
	if !to.After(from) {
		return Moves{}, false, badRequest("window", "window", "the window must end after it starts")
	}
	if s.models.backend.memory {
		return Moves{}, false, nil
	}
	from, to = from.UTC(), to.UTC()
	mv = Moves{From: from, To: to, Edges: map[tasktype.Edge]int64{}}
	step := to.Sub(from) / MovesBuckets
	bounds := make([]time.Time, MovesBuckets-1)
	for i := range bounds {
		bounds[i] = from.Add(time.Duration(i+1) * step)
	}
	for i := range MovesBuckets {
		bk := Bucket{Start: from.Add(time.Duration(i) * step), End: from.Add(time.Duration(i+1) * step)}
		if i == MovesBuckets-1 {
			bk.End = to
		}
		mv.Buckets = append(mv.Buckets, bk)
	}
	owner, scoped, none := ownerScope(u, b)
	if none {
		return mv, true, nil
	}
	col := ""
	if scoped {
		col = b.api().Owner
	}
	rows, err := s.models.backend.moves(ctx, model, col, owner, from, to, bounds)
	if err != nil {
		return Moves{}, false, err
	}
	l := b.lifecycle()
	finished, failed := map[string]bool{}, map[string]bool{}
	for _, st := range l.Statuses {
		finished[st.Name] = st.Terminal
		failed[st.Name] = st.Terminal && st.Code == tasktype.CodeFailed
	}
	var read int64
	var since time.Time
	for _, r := range rows {
		read += r.read
		if since.IsZero() || r.oldest.Before(since) {
			since = r.oldest
		}
		if r.n == 0 {
			continue
		}
		mv.Edges[tasktype.Edge{From: r.from, Event: r.event, To: r.to}] += r.n
		if r.bucket >= 0 && r.bucket < MovesBuckets && finished[r.to] {
			mv.Buckets[r.bucket].Finished += r.n
			if failed[r.to] {
				mv.Buckets[r.bucket].Failed += r.n
			}
		}
	}
	if read > MovesLimit {
		mv.Limited, mv.Since = true, since
		for i := range mv.Buckets {
			switch bk := &mv.Buckets[i]; {
			case !bk.End.After(since):
				bk.Uncounted = true
			case bk.Start.Before(since):
				bk.Partial = true
			}
		}
	}
	return mv, true, nil
}

// moveRow is one row of movesSQL: the moves of one (from, event, to) in
// one bucket.
type moveRow struct {
	from, event, to string
	bucket          int
	n, read         int64
	oldest          time.Time
}

// movesSQL counts the history rows of a window ($1 ≤ at < $2) by from
// status, event, to status and bucket: bucket i holds the rows before
// bound $(3+i) and at or after the one before it ($3 … $(1+buckets)). It
// reads the newest MovesLimit + 1 rows of the window through the history's
// (at, …) index, carrying every column it needs; with col, it counts the
// rows of tasks whose col is owner ($(2+buckets)) by the task's primary key,
// and still returns, per group, every row read and the oldest time read.
func movesSQL(model, col string, buckets int) string {
	var c strings.Builder
	c.WriteString("CASE")
	for i := range buckets - 1 {
		fmt.Fprintf(&c, " WHEN w.at < $%d THEN %d", 3+i, i)
	}
	fmt.Fprintf(&c, " ELSE %d END", buckets-1)
	window := `SELECT task_id, from_status, event, to_status, at FROM "` + model + `_history" WHERE at >= $1 AND at < $2 ORDER BY at DESC` +
		fmt.Sprintf(" LIMIT %d", MovesLimit+1)
	count, join := "count(*)", ""
	if col != "" {
		count = "count(t.id)"
		join = fmt.Sprintf(` LEFT JOIN "%s" t ON t.id = w.task_id AND t."%s" = $%d`, model, col, 2+buckets)
	}
	return `SELECT w.from_status, w.event, w.to_status, ` + c.String() + ` AS bucket, ` + count + `, count(*), min(w.at) FROM (` + window + `) w` + join +
		` GROUP BY w.from_status, w.event, w.to_status, bucket`
}

// moves runs movesSQL.
func (b *Backend) moves(ctx context.Context, model, col, owner string, from, to time.Time, bounds []time.Time) ([]moveRow, error) {
	if !reTable.MatchString(model) || (col != "" && !reTable.MatchString(col)) {
		return nil, fmt.Errorf("server: %q.%q is not a table and column name", model, col)
	}
	q := movesSQL(model, col, len(bounds)+1)
	args := []any{from, to}
	for _, t := range bounds {
		args = append(args, t)
	}
	if col != "" {
		args = append(args, owner)
	}
	var out []moveRow
	db, stmt, params, err := b.sqlDB(q, args)
	switch {
	case err != nil:
		return nil, err
	case db != nil:
		rows, err := db.QueryContext(ctx, stmt, params...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var r moveRow
			var f, e sql.NullString
			var at any
			if err := rows.Scan(&f, &e, &r.to, &r.bucket, &r.n, &r.read, &at); err != nil {
				return nil, err
			}
			r.from, r.event = f.String, e.String
			r.oldest, _ = anyTime(at)
			out = append(out, r)
		}
		return out, rows.Err()
	case b.pg != nil:
		rows, err := b.pg.Query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var r moveRow
			var f, e *string
			if err := rows.Scan(&f, &e, &r.to, &r.bucket, &r.n, &r.read, &r.oldest); err != nil {
				return nil, err
			}
			if f != nil {
				r.from = *f
			}
			if e != nil {
				r.event = *e
			}
			r.oldest = r.oldest.UTC()
			out = append(out, r)
		}
		return out, rows.Err()
	}
	return nil, nil
}
