package mysql

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends"
)

// testBranches has a model with tag and owner (job), one with an owner and
// no tag (scan) and one with neither (step).
const testBranches = `-- a comment
-- tag: job
` + "`job`.`tag`" + `

-- end_date: job
` + "`job`.`finished_at`" + `

-- branch: job QUEUED
SELECT t.id FROM job AS t WHERE t.status = 'QUEUED' LIMIT sqlc.arg(tm_top)
-- branch: job QUEUED tag
SELECT t.id FROM job AS t WHERE t.status = 'QUEUED' AND t.tag = sqlc.narg(tm_tag) LIMIT sqlc.arg(tm_top)
-- branch: job QUEUED owner
SELECT t.id FROM job AS t WHERE t.status = 'QUEUED' AND t.owner = sqlc.narg(tm_owner) LIMIT sqlc.arg(tm_top)
-- branch: job QUEUED owner tag
SELECT t.id FROM job AS t WHERE t.status = 'QUEUED' AND t.owner = sqlc.narg(tm_owner) AND t.tag = sqlc.narg(tm_tag) LIMIT sqlc.arg(tm_top)
-- branch: job DONE
SELECT t.id FROM job AS t WHERE t.status = 'DONE' AND t.created_at >= sqlc.arg(tm_since) LIMIT sqlc.arg(tm_top)
-- branch: job DONE tag
SELECT t.id FROM job AS t WHERE t.status = 'DONE' AND t.tag = sqlc.narg(tm_tag) AND t.created_at >= sqlc.arg(tm_since) LIMIT sqlc.arg(tm_top)
-- branch: job DONE owner
SELECT t.id FROM job AS t WHERE t.status = 'DONE' AND t.owner = sqlc.narg(tm_owner) AND t.created_at >= sqlc.arg(tm_since) LIMIT sqlc.arg(tm_top)
-- branch: job DONE owner tag
SELECT t.id FROM job AS t WHERE t.status = 'DONE' AND t.owner = sqlc.narg(tm_owner) AND t.tag = sqlc.narg(tm_tag) AND t.created_at >= sqlc.arg(tm_since) LIMIT sqlc.arg(tm_top)

-- end_date: scan
CAST(NULL AS DATETIME(6))
-- branch: scan RUNNING
SELECT t.id FROM scan AS t WHERE t.status = 'RUNNING' LIMIT sqlc.arg(tm_top)
-- branch: scan RUNNING owner
SELECT t.id FROM scan AS t WHERE t.status = 'RUNNING' AND t.owner = sqlc.narg(tm_owner) LIMIT sqlc.arg(tm_top)

-- end_date: step
` + "`step`.`ended_at`" + `
-- branch: step RUNNING
SELECT t.id FROM step AS t WHERE t.status = 'RUNNING' LIMIT sqlc.arg(tm_top)
`

func TestComposeListing(t *testing.T) {
	b, err := parseBranches(testBranches)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 1, 31, 11, 0, 0, 0, time.FixedZone("x", 3600))
	utc := since.UTC()
	tag, owner := "exp-1", "user-1"
	all := map[string][]string{"job": {"DONE", "QUEUED"}, "scan": {"RUNNING"}, "step": {"RUNNING"}}
	tests := []struct {
		name   string
		q      backends.ListQuery
		key    string
		args   []any
		models []string // joined for the page's columns
		err    string
	}{
		{name: "every model and status", q: backends.ListQuery{Statuses: all, Since: since, Limit: 10, Offset: 5},
			key: "0,4,8,10", args: []any{15, utc, 15, 15, 15, 10, 5}, models: []string{"job", "scan", "step"}},
		{name: "one status", q: backends.ListQuery{Statuses: map[string][]string{"job": {"DONE"}}, Since: since, Limit: 3},
			key: "4", args: []any{utc, 3, 3, 0}, models: []string{"job"}},
		{name: "tag: models without one read nothing", q: backends.ListQuery{Statuses: all, Tag: &tag, Since: since, Limit: 10},
			key: "1,5", args: []any{tag, 10, tag, utc, 10, 10, 0}, models: []string{"job"}},
		{name: "owner: models without one read nothing", q: backends.ListQuery{Statuses: all, Owner: &owner, Since: since, Limit: 10},
			key: "2,6,9", args: []any{owner, 10, owner, utc, 10, owner, 10, 10, 0}, models: []string{"job", "scan"}},
		{name: "every filter", q: backends.ListQuery{Statuses: all, Tag: &tag, Owner: &owner, Since: since, Limit: 100, Offset: 1000},
			key: "3,7", args: []any{owner, tag, 1100, owner, tag, utc, 1100, 100, 1000}, models: []string{"job"}},
		{name: "no branch serves the filters", q: backends.ListQuery{Statuses: map[string][]string{"step": {"RUNNING"}}, Tag: &tag, Since: since, Limit: 10}},
		{name: "no model", q: backends.ListQuery{Statuses: map[string][]string{}, Since: since, Limit: 10}},
		{name: "unknown status", q: backends.ListQuery{Statuses: map[string][]string{"job": {"LOST"}}, Since: since, Limit: 10},
			err: "mysql: the listing has no status LOST of model job"},
		{name: "unknown model", q: backends.ListQuery{Statuses: map[string][]string{"other": {"DONE"}}, Since: since, Limit: 10},
			err: "mysql: the listing has no status DONE of model other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := b.compose(tt.q)
			if got := errString(err); got != tt.err {
				t.Fatalf("error = %q, want %q", got, tt.err)
			}
			if c.Key != tt.key || !reflect.DeepEqual(c.Args, tt.args) {
				t.Fatalf("key %q args %v, want %q %v", c.Key, c.Args, tt.key, tt.args)
			}
			if tt.key == "" {
				if len(c.Branches) != 0 {
					t.Fatalf("branches %v, want none", c.Branches)
				}
				return
			}
			sql := b.sql(c.Branches)
			if n := strings.Count(sql, "?"); n != len(c.Args) {
				t.Errorf("%d placeholders for %d arguments:\n%s", n, len(c.Args), sql)
			}
			if n := strings.Count(sql, "UNION ALL"); n != len(c.Branches)-1 {
				t.Errorf("%d UNION ALL for %d branches", n, len(c.Branches))
			}
			for _, m := range []string{"job", "scan", "step"} {
				join := "LEFT JOIN `" + m + "` ON tm_page.task_type = '" + m + "' AND `" + m + "`.id = tm_page.id"
				if want := contains(tt.models, m); strings.Contains(sql, join) != want {
					t.Errorf("join of %s: %v, want %v:\n%s", m, !want, want, sql)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestComposeListingSQL(t *testing.T) {
	b, err := parseBranches(testBranches)
	if err != nil {
		t.Fatal(err)
	}
	tag := "x"
	c, err := b.compose(backends.ListQuery{Statuses: map[string][]string{"job": {"QUEUED"}}, Tag: &tag, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT tm_page.id, tm_page.task_type, tm_page.task_status, `job`.`tag` AS tag, tm_page.created_at, `job`.`finished_at` AS end_date FROM (\n" +
		"SELECT * FROM (\n" +
		"  (SELECT t.id FROM job AS t WHERE t.status = 'QUEUED' AND t.tag = ? LIMIT ?)\n" +
		") AS tm_union\nORDER BY tm_union.created_at DESC, tm_union.id DESC\nLIMIT ? OFFSET ?\n) AS tm_page\n" +
		"LEFT JOIN `job` ON tm_page.task_type = 'job' AND `job`.id = tm_page.id\n" +
		"ORDER BY tm_page.created_at DESC, tm_page.id DESC"
	if got := b.sql(c.Branches); got != want {
		t.Errorf("sql =\n%s\nwant\n%s", got, want)
	}
	c, err = b.compose(backends.ListQuery{Statuses: map[string][]string{"scan": {"RUNNING"}, "step": {"RUNNING"}}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.sql(c.Branches), "SELECT tm_page.id, tm_page.task_type, tm_page.task_status, CAST(NULL AS CHAR) AS tag, tm_page.created_at, coalesce(CAST(NULL AS DATETIME(6)), `step`.`ended_at`) AS end_date FROM ("; !strings.HasPrefix(got, want) {
		t.Errorf("sql =\n%s\nwant it to start with\n%s", got, want)
	}
}

func TestParseBranches(t *testing.T) {
	const end = "-- end_date: job\nNULL\n"
	tests := []struct {
		name, text, err string
	}{
		{name: "empty", text: "-- only a comment\n", err: "no branch"},
		{name: "SQL first", text: "SELECT 1\n-- branch: job DONE\nSELECT 1", err: `line 1: SQL before the first "-- branch:", "-- tag:" or "-- end_date:" line`},
		{name: "malformed branch line", text: "-- branch: job\nSELECT 1", err: `line 1: want "-- branch: <model> <status> [tag|owner|owner tag]", got "-- branch: job"`},
		{name: "unknown filters", text: "-- branch: job DONE\nSELECT 1\n-- branch: job DONE tags\nSELECT 1", err: `line 3: unknown filters "tags"; allowed: tag, owner, owner tag`},
		{name: "tag owner order", text: "-- branch: job DONE\nSELECT 1\n-- branch: job DONE tag owner\nSELECT 1", err: `line 3: unknown filters "tag owner"; allowed: tag, owner, owner tag`},
		{name: "empty branch", text: "-- branch: job DONE\n-- branch: job QUEUED\nSELECT 1", err: "branch job DONE is empty"},
		{name: "twice", text: end + "-- branch: job DONE\nSELECT 1\n-- branch: job DONE\nSELECT 2", err: "branch job DONE is written twice"},
		{name: "filters before base", text: end + "-- branch: job DONE tag\nSELECT sqlc.narg(tm_tag)", err: "branch job DONE tag comes before the status's branch without filters"},
		{name: "unknown parameter", text: "-- branch: job DONE\nSELECT sqlc.arg(tm_limit)", err: "branch job DONE: unknown parameter tm_limit; allowed: tm_top, tm_since, tm_tag, tm_owner"},
		{name: "tag without its filter", text: "-- branch: job DONE owner\nSELECT sqlc.narg(tm_tag)", err: "branch job DONE owner: parameter tm_tag without its filter"},
		{name: "owner without its filter", text: "-- branch: job DONE\nSELECT sqlc.narg(tm_owner)", err: "branch job DONE: parameter tm_owner without its filter"},
		{name: "bare placeholder", text: "-- branch: job DONE\nSELECT ?", err: "branch job DONE: a ? outside sqlc.arg"},
		{name: "no end date", text: "-- branch: job DONE\nSELECT 1", err: "model job has no end_date"},
		{name: "column of no model", text: end + "-- tag: other\nx\n-- branch: job DONE\nSELECT 1", err: "tag of other, which has no branch"},
		{name: "empty column", text: "-- end_date: job\n-- branch: job DONE\nSELECT 1", err: "end_date of job is empty"},
		{name: "column twice", text: end + end + "-- branch: job DONE\nSELECT 1", err: "end_date of job is written twice"},
		{name: "column parameter", text: "-- end_date: job\nsqlc.arg(tm_since)\n-- branch: job DONE\nSELECT 1", err: "end_date of job: a column takes no parameter"},
		{name: "one branch", text: end + "-- branch: job DONE\nSELECT 1 -- no parameter\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseBranches(tt.text)
			if got := errString(err); got != tt.err {
				t.Fatalf("error = %q, want %q", got, tt.err)
			}
		})
	}
}

func FuzzParseBranches(f *testing.F) {
	f.Add(testBranches)
	f.Add("-- end_date: a\nNULL\n-- branch: a B\nSELECT sqlc.arg(tm_top)\n-- branch: a B owner tag\nSELECT sqlc.narg(tm_tag), ?")
	f.Fuzz(func(t *testing.T, text string) {
		b, err := parseBranches(text)
		if err != nil {
			return
		}
		// Every branch the parser accepts composes into a statement with a
		// placeholder per argument.
		tag, owner := "t", "o"
		for i, br := range b.list {
			q := backends.ListQuery{Statuses: map[string][]string{br.Model: {br.Status}}, Limit: 1}
			if br.filters&tagFilter != 0 {
				q.Tag = &tag
			}
			if br.filters&ownerFilter != 0 {
				q.Owner = &owner
			}
			c, err := b.compose(q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Branches, []int{i}) {
				t.Fatalf("branches %v, want [%d]", c.Branches, i)
			}
			if len(br.Args)+2 != len(c.Args) {
				t.Fatalf("%d arguments for a branch of %d parameters", len(c.Args), len(br.Args))
			}
		}
	})
}

// closer is a statement of the cache's tests.
type closer struct {
	query  string
	closed int
}

func (c *closer) Close() error { closeMu.Lock(); c.closed++; closeMu.Unlock(); return nil }

var closeMu sync.Mutex

func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	var prepared []*closer
	fail := errors.New("refused")
	c := newStmtCache(2, func(_ context.Context, query string) (*closer, error) {
		if query == "bad" {
			return nil, fail
		}
		s := &closer{query: query}
		prepared = append(prepared, s)
		return s, nil
	})
	q := func(s string) func() string { return func() string { return s } }
	get := func(key string) *cachedStmt[*closer] {
		t.Helper()
		e, err := c.get(ctx, key, q("q"+key))
		if err != nil {
			t.Fatal(err)
		}
		if e.stmt.query != "q"+key {
			t.Fatalf("statement of %s is %q", key, e.stmt.query)
		}
		return e
	}
	steps := []struct {
		name     string
		do       func()
		prepared int   // statements prepared so far
		closed   []int // close count of each prepared statement
		held     int
	}{
		{"first use prepares", func() { c.release(get("a")) }, 1, []int{0}, 1},
		{"second use reuses", func() { c.release(get("a")) }, 1, []int{0}, 1},
		{"another key", func() { c.release(get("b")) }, 2, []int{0, 0}, 2},
		{"a third evicts the least recently used", func() { c.release(get("a")); c.release(get("c")) }, 3, []int{0, 1, 0}, 2},
		{"an evicted key prepares again", func() { c.release(get("b")) }, 4, []int{1, 1, 0, 0}, 2},
		{"a statement in use is closed on its release", func() {
			e := get("a") // prepared again; evicted by e while in use
			c.release(get("d"))
			c.release(get("e"))
			if e.stmt.closed != 0 {
				t.Fatal("closed while in use")
			}
			c.release(e)
		}, 7, []int{1, 1, 1, 1, 1, 0, 0}, 2},
		{"a failed prepare is not kept", func() {
			if _, err := c.get(ctx, "x", q("bad")); !errors.Is(err, fail) {
				t.Fatalf("error = %v, want %v", err, fail)
			}
		}, 7, []int{1, 1, 1, 1, 1, 0, 0}, 2},
	}
	for _, s := range steps {
		s.do()
		if len(prepared) != s.prepared {
			t.Fatalf("%s: %d prepared, want %d", s.name, len(prepared), s.prepared)
		}
		for i, p := range prepared {
			if p.closed != s.closed[i] {
				t.Fatalf("%s: statement %d (%s) closed %d times, want %d", s.name, i, p.query, p.closed, s.closed[i])
			}
		}
		if n := c.len(); n != s.held {
			t.Fatalf("%s: cache holds %d, want %d", s.name, n, s.held)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestStmtCacheConcurrent uses a cache from many goroutines (run with
// -race): a statement is closed once at most, and only once evicted and
// released.
func TestStmtCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var prepared []*closer
	c := newStmtCache(3, func(_ context.Context, query string) (*closer, error) {
		s := &closer{query: query}
		mu.Lock()
		prepared = append(prepared, s)
		mu.Unlock()
		return s, nil
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				key := strconv.Itoa((g + i) % 6)
				e, err := c.get(ctx, key, func() string { return key })
				if err != nil {
					t.Error(err)
					return
				}
				closeMu.Lock()
				closed := e.stmt.closed
				closeMu.Unlock()
				if closed != 0 || e.stmt.query != key {
					t.Errorf("got statement %q closed %d times for %s", e.stmt.query, closed, key)
				}
				c.release(e)
			}
		}()
	}
	wg.Wait()
	held := map[*closer]bool{}
	for _, el := range c.entries {
		held[el.Value.(*cachedStmt[*closer]).stmt] = true
	}
	for _, p := range prepared {
		if want := map[bool]int{true: 0, false: 1}[held[p]]; p.closed != want {
			t.Errorf("statement %s closed %d times, want %d", p.query, p.closed, want)
		}
	}
}
