package backends_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/analysis/sqlitedb"
)

// TestPoller: every change is noticed once, in order per task, including a
// change that commits after a later-stamped one (its writer's clock read
// before it waited for the lock), within the lookback; more changes than a
// batch are paged through.
// TestPoller runs with a batch of 7 rows, and with a batch of zero or less,
// which reads the default 500 (it read nothing, over and over, before).
func TestPoller(t *testing.T) {
	for _, batch := range []int{7, 0, -3} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) { testPoller(t, batch) })
	}
}

func testPoller(t *testing.T, batch int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tasks.db"), analysis.Migrations(sqlite.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := sqlitedb.NewDriver(db)
	p := backends.NewPoller(d)
	p.Interval, p.Batch = 5*time.Millisecond, batch
	notices := make(chan backends.Notice, 1000)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Listen(lctx, func(n backends.Notice) { notices <- n }) }()
	defer func() { stop(); <-done }()

	var now time.Time
	store := backends.NewStore[analysis.Task, analysis.Event](d, backends.WithClock(func() time.Time { return now }))
	create := func(at time.Time) uuid.UUID {
		now = at
		x := analysis.NewTask()
		x.UserID, x.ToolID, x.Agents = "u", "t", []string{"a"}
		x, err := store.Create(ctx, x, backends.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		return x.ID
	}
	expect := func(ids ...uuid.UUID) {
		t.Helper()
		want := map[uuid.UUID]bool{}
		for _, id := range ids {
			want[id] = true
		}
		for len(want) > 0 {
			select {
			case n := <-notices:
				if !want[n.ID] || n.Version != 1 {
					t.Fatalf("unexpected notice %+v", n)
				}
				delete(want, n.ID)
			case <-ctx.Done():
				t.Fatalf("%d notices missing", len(want))
			}
		}
	}
	base := time.Now()
	var burst []uuid.UUID
	for i := range 20 { // three batches and more, many at the same instant
		burst = append(burst, create(base.Add(time.Duration(i/4)*time.Microsecond)))
	}
	expect(burst...)
	late := create(base.Add(-2 * time.Second)) // stamped before what was seen
	expect(late)
	after := create(time.Now())
	expect(after)
	select {
	case n := <-notices:
		t.Fatalf("notice sent twice: %+v", n)
	case <-time.After(50 * time.Millisecond): // some polls: nothing repeats
	}
}
