package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/analysis/pgdb"
	"github.com/taskmodel/taskmodel/gen/analysis/sqlitedb"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/internal/sdktest"
)

// twoProcesses opens one database twice, as two processes would: a driver
// for the writer and, for the reader, a driver with its change source.
type twoProcesses struct {
	name string
	open func(t *testing.T) (a, b backends.Driver[analysis.Task], src backends.ChangeSource, ready func() bool)
}

var changeBackends = []twoProcesses{
	{"sqlite", func(t *testing.T) (backends.Driver[analysis.Task], backends.Driver[analysis.Task], backends.ChangeSource, func() bool) {
		path := filepath.Join(t.TempDir(), "tasks.db")
		var drivers []*sqlitedb.Driver
		for range 2 {
			db, err := sqlite.Open(context.Background(), path, analysis.Migrations(sqlite.Engine))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			drivers = append(drivers, sqlitedb.NewDriver(db))
		}
		p := backends.NewPoller(drivers[1])
		p.Interval = 20 * time.Millisecond
		return drivers[0], drivers[1], p, func() bool { return true }
	}},
	{"postgres", func(t *testing.T) (backends.Driver[analysis.Task], backends.Driver[analysis.Task], backends.ChangeSource, func() bool) {
		cfg := pgtest.Schema(t)
		var drivers []*pgdb.Driver
		var n *postgres.Notifier
		for range 2 {
			pool, err := postgres.OpenConfig(context.Background(), cfg.Copy(), analysis.Migrations(postgres.Engine))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			drivers = append(drivers, pgdb.NewDriver(pool))
			n = postgres.NewNotifier(pool, "analysis")
		}
		return drivers[0], drivers[1], n, func() bool { return n.PID() != 0 }
	}},
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestSubscribeAcrossProcesses: engine A writes (creates, fires, progress
// updates: 200 changes over 20 tasks, in parallel); engine B's all-tasks
// subscription sees every task reach its last version, each task's changes
// in version order, none twice.
func TestSubscribeAcrossProcesses(t *testing.T) {
	const tasks, progressSteps = 20, 6 // 1 create + 3 events + 6 progress = 10 changes a task
	for _, b := range changeBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			da, db, src, ready := b.open(t)
			a := engine.New[analysis.Task, analysis.Event](da)
			bEngine := engine.New[analysis.Task, analysis.Event](db, engine.WithChanges(src))
			sub := bEngine.Subscribe(ctx, uuid.Nil)
			defer sub.Close()
			waitFor(ctx, t, "the listener", ready)

			final := make(map[uuid.UUID]*analysis.Task)
			var mu sync.Mutex
			var wg sync.WaitGroup
			errs := make(chan error, tasks)
			for range tasks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					x, err := a.Create(ctx, sdktest.NewTask(), engine.Meta{Actor: "a"})
					for _, ev := range []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart} {
						if err == nil {
							x, err = a.FireFrom(ctx, x, ev, nil, engine.Meta{Actor: "a"})
						}
					}
					for i := 1; i <= progressSteps && err == nil; i++ {
						x, err = a.ProgressFrom(ctx, x, float64(i)/progressSteps, nil)
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					final[x.ID] = x
					mu.Unlock()
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}

			last := map[uuid.UUID]int64{}
			done := 0
			for done < tasks {
				select {
				case <-ctx.Done():
					t.Fatalf("B saw %d of %d tasks reach their last version: %v", done, tasks, last)
				case ch := <-sub.C:
					id := ch.Key.ID
					want, ok := final[id]
					if !ok {
						t.Fatalf("change of an unknown task %s", id)
					}
					if ch.Key.Version <= last[id] {
						t.Fatalf("task %s: version %d after %d", id, ch.Key.Version, last[id])
					}
					if ch.Task == nil || ch.Task.Version != ch.Key.Version || string(ch.Task.Status) != ch.Key.Status {
						t.Fatalf("task %s: change %+v does not match its task", id, ch.Key)
					}
					last[id] = ch.Key.Version
					if ch.Key.Version == want.Version {
						if ch.Task.Progress != want.Progress || ch.Task.Status != want.Status {
							t.Errorf("task %s: last change %s %d%%, want %s %d%%", id, ch.Task.Status, ch.Task.Progress, want.Status, want.Progress)
						}
						done++
					}
				}
			}
			if n := sub.Dropped(); n != 0 {
				t.Errorf("dropped %d changes", n)
			}
		})
	}
}

// TestSubscribeLocalChangesOnce: with a change source, an engine's own
// changes, which also come back from the database, are delivered once,
// with their event.
func TestSubscribeLocalChangesOnce(t *testing.T) {
	for _, b := range changeBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, d, src, ready := b.open(t)
			e := engine.New[analysis.Task, analysis.Event](d, engine.WithChanges(src))
			sub := e.Subscribe(ctx, uuid.Nil)
			defer sub.Close()
			waitFor(ctx, t, "the listener", ready)
			x, err := e.Create(ctx, sdktest.NewTask(), engine.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			x, err = e.FireFrom(ctx, x, analysis.EventRequestUploadURLs, nil, engine.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for len(got) < 2 {
				select {
				case <-ctx.Done():
					t.Fatalf("got %v", got)
				case ch := <-sub.C:
					got = append(got, fmt.Sprintf("v%d %s→%s %s", ch.Key.Version, ch.From, ch.Key.Status, ch.Event))
				}
			}
			// A later change proves nothing more of the first two arrives.
			if _, err := e.FireFrom(ctx, x, analysis.EventVerifyUploads, nil, engine.Meta{}); err != nil {
				t.Fatal(err)
			}
			ch := <-sub.C
			got = append(got, fmt.Sprintf("v%d", ch.Key.Version))
			want := []string{"v1 →CREATED ", "v2 CREATED→UPLOADING request_upload_urls", "v3"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("changes %q, want %q", got, want)
			}
		})
	}
}

// TestNotifierReconnects: the PostgreSQL listener's connection is
// terminated; it reconnects and delivers again.
func TestNotifierReconnects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := changeBackends[1]
	da, db, src, ready := b.open(t)
	n := src.(*postgres.Notifier)
	a := engine.New[analysis.Task, analysis.Event](da)
	e := engine.New[analysis.Task, analysis.Event](db, engine.WithChanges(src))
	sub := e.Subscribe(ctx, uuid.Nil)
	defer sub.Close()
	waitFor(ctx, t, "the listener", ready)
	next := func(want int64) {
		t.Helper()
		for {
			select {
			case <-ctx.Done():
				t.Fatalf("no change to version %d", want)
			case ch := <-sub.C:
				if ch.Key.Version == want {
					return
				}
			}
		}
	}
	x, err := a.Create(ctx, sdktest.NewTask(), engine.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	next(1)
	for round := range 2 {
		pid := n.PID()
		conn, err := pgxConnect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var app string
		if err := conn.QueryRow(ctx, `SELECT application_name FROM pg_stat_activity WHERE pid = $1`, int32(pid)).Scan(&app); err != nil || app != postgres.ApplicationName {
			t.Fatalf("listener %d in pg_stat_activity: %q, %v", pid, app, err)
		}
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, int32(pid)).Scan(&ok); err != nil || !ok {
			t.Fatalf("terminate %d: %v %v", pid, ok, err)
		}
		conn.Close(ctx)
		waitFor(ctx, t, "a new listening connection", func() bool { p := n.PID(); return p != 0 && p != pid })
		x, err = a.FireFrom(ctx, x, []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads}[round], nil, engine.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		next(x.Version)
	}
}

func pgxConnect(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, pgtest.URL()) }
