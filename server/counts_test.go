package server

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/training"
)

// countsBackend opens the training model's table on engine and returns the
// backend with a function inserting n tasks of owner in status.
func countsBackend(t *testing.T, engine string) (*Backend, func(status, owner string, n int)) {
	t.Helper()
	ctx := context.Background()
	switch engine {
	case "sqlite":
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "counts.db"), training.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return SQLite(db), func(status, owner string, n int) {
			for range n {
				if _, err := db.ExecContext(ctx, `INSERT INTO training (id, status, version, created_at, updated_at, user_id, progress) VALUES (?, ?, 1, ?, ?, ?, 0)`,
					uuid.NewString(), status, time.Now().UTC(), time.Now().UTC(), owner); err != nil {
					t.Fatal(err)
				}
			}
		}
	case "mysql":
		db, err := mysql.Open(ctx, mysqltest.Database(t), training.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return MySQL(db), func(status, owner string, n int) {
			for range n {
				if _, err := db.ExecContext(ctx, `INSERT INTO training (id, status, version, created_at, updated_at, user_id, progress) VALUES (?, ?, 1, ?, ?, ?, 0)`,
					uuid.NewString(), status, time.Now().UTC(), time.Now().UTC(), owner); err != nil {
					t.Fatal(err)
				}
			}
		}
	default:
		pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), training.Migrations(postgres.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return Postgres(pool), func(status, owner string, n int) {
			if _, err := pool.Exec(ctx, `INSERT INTO training (id, status, version, created_at, updated_at, user_id, progress)
				SELECT gen_random_uuid(), $1, 1, now(), now(), $2, 0 FROM generate_series(1, $3)`, status, owner, n); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestStatusCounts: statuses at or under the cap are counted now; one over
// it is shown as the cap and more until a full count in the background
// has finished, then from that count with its time; an owner's counts
// are their own.
func TestStatusCounts(t *testing.T) {
	statuses := training.Statuses()
	names := make([]string, len(statuses))
	for i, s := range statuses {
		names[i] = string(s)
	}
	for _, engine := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(engine, func(t *testing.T) {
			b, insert := countsBackend(t, engine)
			insert("QUEUED", "alice", 2)
			insert("DONE", "alice", 4)
			insert("DONE", "bob", 1)
			insert("RUNNING", "bob", 3)
			c := newCounts(b)
			c.cap = 3
			ctx := context.Background()
			cases := []struct {
				name       string
				col, owner string
				want       string
			}{
				{"every task, one status over the cap", "", "", "DONE=3+ QUEUED=2 RUNNING=3"},
				{"alice's, one status over the cap", "user_id", "alice", "DONE=3+ QUEUED=2"},
				{"bob's, none over the cap", "user_id", "bob", "DONE=1 RUNNING=3"},
				{"nobody's", "user_id", "carol", ""},
			}
			for _, tc := range cases {
				got, err := c.statusCounts(ctx, "training", names, tc.col, tc.owner)
				if err != nil {
					t.Fatal(err)
				}
				if s := show(got); s != tc.want {
					t.Errorf("%s: %s, want %s", tc.name, s, tc.want)
				}
			}
			// The full counts started by the capped ones finish; the next
			// counts show them.
			waitFullCounts(t, c)
			got, err := c.statusCounts(ctx, "training", names, "", "")
			if err != nil {
				t.Fatal(err)
			}
			if s := show(got); s != "DONE=5 QUEUED=2 RUNNING=3" {
				t.Errorf("after the full count: %s", s)
			}
			if got["DONE"].CountedAt.IsZero() || !got["QUEUED"].CountedAt.IsZero() {
				t.Errorf("only the status over the cap comes from the full count: %+v", got)
			}
			// A full count is not repeated before its interval has passed:
			// a new task over the cap is not in it yet.
			insert("DONE", "carol", 1)
			got, _ = c.statusCounts(ctx, "training", names, "", "")
			if s := show(got); s != "DONE=5 QUEUED=2 RUNNING=3" {
				t.Errorf("within the interval: %s", s)
			}
			// Once the interval has passed, a new full count runs, and the
			// old one is shown meanwhile.
			c.mu.Lock()
			c.now = func() time.Time { return time.Now().Add(fullCountMaxEvery + time.Second) }
			c.mu.Unlock()
			_, _ = c.statusCounts(ctx, "training", names, "", "")
			waitFullCounts(t, c)
			got, _ = c.statusCounts(ctx, "training", names, "", "")
			if s := show(got); s != "DONE=6 QUEUED=2 RUNNING=3" {
				t.Errorf("after the interval: %s", s)
			}
			// Over the age limit, a full count is no longer shown.
			c.mu.Lock()
			c.now = func() time.Time { return time.Now().Add(fullCountMaxAge + time.Hour) }
			for _, e := range c.entries {
				e.running = true // no new count: see what is shown meanwhile
			}
			c.mu.Unlock()
			got, _ = c.statusCounts(ctx, "training", names, "", "")
			if s := show(got); s != "DONE=3+ QUEUED=2 RUNNING=3" {
				t.Errorf("past the age limit: %s", s)
			}
		})
	}
}

func waitFullCounts(t *testing.T, c *counts) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.mu.Lock()
		running := 0
		for _, e := range c.entries {
			if e.running {
				running++
			}
		}
		c.mu.Unlock()
		if running == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d full counts still running", running)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func show(m map[string]Count) string {
	var out []string
	for _, s := range []string{"CANCELLED", "DONE", "FAILED", "QUEUED", "RUNNING"} {
		if c, ok := m[s]; ok {
			out = append(out, s+"="+c.String())
		}
	}
	return strings.Join(out, " ")
}

func TestCountString(t *testing.T) {
	for _, tc := range []struct {
		c    Count
		want string
	}{
		{Count{N: 0}, "0"},
		{Count{N: 999}, "999"},
		{Count{N: 1000}, "1,000"},
		{Count{N: 10_000, AtLeast: true}, "10,000+"},
		{Count{N: 1_234_567, CountedAt: time.Now()}, "1,234,567"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestRefreshEvery(t *testing.T) {
	for _, tc := range []struct{ took, want time.Duration }{
		{time.Millisecond, fullCountMinEvery},
		{time.Second, 100 * time.Second},
		{time.Hour, fullCountMaxEvery},
	} {
		if got := refreshEvery(tc.took); got != tc.want {
			t.Errorf("refreshEvery(%v) = %v, want %v", tc.took, got, tc.want)
		}
	}
}

// TestCappedCountPlans: on SQLite each status's capped count is a search
// of an index, never a scan of the table.
func TestCappedCountPlans(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "plan.db"), training.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, col := range []string{"", "user_id"} {
		q, args := cappedCountSQL("training", []string{"QUEUED", "DONE"}, col, "alice", 10_001, false)
		text := sqlitePlan(t, db, q, args...)
		if strings.Contains(text, "SCAN training") && !strings.Contains(text, "USING COVERING INDEX") || !strings.Contains(text, "INDEX training_") {
			t.Errorf("owner column %q: plan %q does not search an index", col, text)
		}
		t.Logf("owner column %q: %s", col, text)
	}
}
