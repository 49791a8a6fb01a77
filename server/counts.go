package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CountCap is the most index entries a page's count of one status reads.
// A status holding more tasks is shown from the last full count, which
// runs in the background (see Count), so that a page over millions of
// finished tasks costs as much as one over ten thousand.
const CountCap = 10_000

// Count is the number of tasks in one status.
type Count struct {
	// N is the number of tasks.
	N int64
	// AtLeast: the status holds more than CountCap tasks and no full
	// count has finished yet; N is CountCap, and the status holds more.
	AtLeast bool
	// CountedAt is when a full count, in the background, found N; zero
	// when N was counted now (every status at or under CountCap is).
	CountedAt time.Time
}

// String is the count as a page shows it: "42", "10,000+", or
// "1,234,567" for a full count (its time is CountedAt).
func (c Count) String() string {
	s := thousands(c.N)
	if c.AtLeast {
		return s + "+"
	}
	return s
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Full counts in the background: a status over CountCap is shown from a
// full count no older than fullCountMaxAge; a new one starts once the last
// is older than fullCountEvery times its own duration, within
// [fullCountMinEvery, fullCountMaxEvery], so that counting takes at most
// about 1% of one database connection's time.
const (
	fullCountMaxAge   = time.Hour
	fullCountEvery    = 100
	fullCountMinEvery = 30 * time.Second
	fullCountMaxEvery = 30 * time.Minute
	fullCountTimeout  = 10 * time.Minute
)

// counts counts tasks per status, capped per status, with full counts in
// the background for the statuses over the cap. It is shared by the pages
// and the metrics of one Models.
type counts struct {
	backend *Backend
	now     func() time.Time
	cap     int64 // CountCap (tests lower it)

	mu      sync.Mutex
	entries map[countKey]*fullCount
}

// countKey is one full count: a model's tasks, or one owner's.
type countKey struct{ model, col, owner string }

type fullCount struct {
	n       map[string]int64
	at      time.Time
	took    time.Duration
	running bool
}

func newCounts(b *Backend) *counts {
	return &counts{backend: b, now: time.Now, cap: CountCap, entries: map[countKey]*fullCount{}}
}

// statusCounts counts the tasks of model (of one owner when col is set)
// in each of statuses. A status that its last full count, still fresh,
// found holding more than twice the cap is not counted again: it is shown
// from that count until the next one (a status that large stays over the
// cap between two counts but for a mass deletion, which the next full
// count shows).
func (c *counts) statusCounts(ctx context.Context, model string, statuses []string, col, owner string) (map[string]Count, error) {
	key := countKey{model, col, owner}
	out := make(map[string]Count, len(statuses))
	live := statuses
	c.mu.Lock()
	if e := c.entries[key]; e != nil && c.fresh(e) {
		live = nil
		for _, s := range statuses {
			if n := e.n[s]; n > 2*c.cap {
				out[s] = Count{N: n, CountedAt: e.at}
			} else {
				live = append(live, s)
			}
		}
	}
	c.mu.Unlock()
	capped, err := c.backend.cappedCounts(ctx, model, live, col, owner, c.cap+1)
	if err != nil {
		return nil, err
	}
	over := len(out) > 0
	for s, n := range capped {
		if n > c.cap {
			over = true
			continue
		}
		out[s] = Count{N: n}
	}
	if !over {
		return out, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		e = &fullCount{}
		c.entries[key] = e
	}
	if !e.running && (e.at.IsZero() || c.now().Sub(e.at) >= refreshEvery(e.took)) {
		e.running = true
		go c.full(key, e)
	}
	for s, n := range capped {
		if n <= c.cap {
			continue
		}
		if full, ok := e.n[s]; c.fresh(e) && ok && full > c.cap {
			out[s] = Count{N: full, CountedAt: e.at}
		} else {
			out[s] = Count{N: c.cap, AtLeast: true}
		}
	}
	return out, nil
}

// fresh: e holds a full count young enough to be shown (c.mu held).
func (c *counts) fresh(e *fullCount) bool {
	return !e.at.IsZero() && c.now().Sub(e.at) <= fullCountMaxAge
}

func refreshEvery(took time.Duration) time.Duration {
	return min(max(took*fullCountEvery, fullCountMinEvery), fullCountMaxEvery)
}

// full counts key's tasks per status in full, detached from the request
// that started it.
func (c *counts) full(key countKey, e *fullCount) {
	ctx, cancel := context.WithTimeout(context.Background(), fullCountTimeout)
	defer cancel()
	start := c.now()
	var n map[string]int64
	var err error
	if key.col == "" {
		n, err = c.backend.countByStatus(ctx, key.model)
	} else {
		n, err = c.backend.countByStatusOf(ctx, key.model, key.col, key.owner)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e.running = false
	if err != nil {
		// Try again after the usual wait: a count that failed (the
		// database restarting, say) leaves the capped counts shown.
		e.took, e.at = c.now().Sub(start), start.Add(-fullCountMaxAge)
		return
	}
	e.n, e.at, e.took = n, start, c.now().Sub(start)
}

// cappedCounts counts the tasks of model in each of statuses (of one owner
// when col is set), reading at most limit index entries per status: one
// statement, a bounded scan of the (status, created_at) index, or the
// (owner, status, created_at) index, per status.
func (b *Backend) cappedCounts(ctx context.Context, model string, statuses []string, col, owner string, limit int64) (map[string]int64, error) {
	if !reTable.MatchString(model) || (col != "" && !reTable.MatchString(col)) {
		return nil, fmt.Errorf("server: %q.%q is not a table and column name", model, col)
	}
	if len(statuses) == 0 || (b.sqlite == nil && b.pg == nil && b.mysql == nil) {
		return map[string]int64{}, nil
	}
	// $n parameters but on SQLite, which takes ? too (sqlDB rewrites
	// them for MySQL).
	q, args := cappedCountSQL(model, statuses, col, owner, limit, b.sqlite == nil)
	out := make(map[string]int64, len(statuses))
	scan := func(rows interface {
		Next() bool
		Scan(...any) error
		Err() error
	}) error {
		for rows.Next() {
			var i, n int64
			if err := rows.Scan(&i, &n); err != nil {
				return err
			}
			if i < 0 || i >= int64(len(statuses)) {
				return fmt.Errorf("server: count of status number %d of %d", i, len(statuses))
			}
			if n > 0 {
				out[statuses[i]] = n
			}
		}
		return rows.Err()
	}
	db, stmt, params, err := b.sqlDB(q, args)
	if err != nil {
		return nil, err
	}
	if db != nil {
		rows, err := db.QueryContext(ctx, stmt, params...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return out, scan(rows)
	}
	rows, err := b.pg.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return out, scan(rows)
}

// cappedCountSQL is cappedCounts' statement: one row per status, its
// index in statuses and the count of a subquery with a LIMIT.
func cappedCountSQL(model string, statuses []string, col, owner string, limit int64, pg bool) (string, []any) {
	var args []any
	param := func(v any) string {
		args = append(args, v)
		if pg {
			return "$" + strconv.Itoa(len(args))
		}
		return "?"
	}
	var b strings.Builder
	for i, s := range statuses {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT " + strconv.Itoa(i) + `, (SELECT count(*) FROM (SELECT 1 FROM "` + model + `" WHERE `)
		if col != "" {
			b.WriteString(`"` + col + `" = ` + param(owner) + " AND ")
		}
		b.WriteString("status = " + param(s) + " LIMIT " + param(limit) + ") AS x)")
	}
	return b.String(), args
}
