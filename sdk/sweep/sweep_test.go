package sweep_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/sdk/internal/sdktest"
	"github.com/taskmodel/taskmodel/sdk/sweep"
	"github.com/taskmodel/taskmodel/tasktype"
)

var all = sdktest.All

type Store = backends.Store[analysis.Task, analysis.Event, *analysis.Task]

func setup(t *testing.T, b sdktest.Backend) (*Store, backends.Leases, *backendtest.Clock) {
	driver, leases := b.OpenWithLeases(t)
	clock := backendtest.NewClock()
	return backends.NewStore[analysis.Task, analysis.Event](driver, backends.WithClock(clock.Now)), leases, clock
}

func create(t *testing.T, s *Store, events ...analysis.Event) *analysis.Task {
	t.Helper()
	x := analysis.NewTask()
	x.UserID, x.ToolID, x.Agents = "u", "profile-my-data", []string{"a"}
	x, err := s.Create(context.Background(), x, backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if x, err = s.FireFrom(context.Background(), x, ev, nil, backends.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func status(t *testing.T, s *Store, x *analysis.Task) *analysis.Task {
	t.Helper()
	got, err := s.Get(context.Background(), x.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestUploadProcessTimeouts(t *testing.T) {
	for _, b := range all {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			store, _, clock := setup(t, b)
			created := create(t, store)
			uploading := create(t, store, analysis.EventRequestUploadURLs)
			queued := create(t, store, analysis.EventRequestUploadURLs, analysis.EventVerifyUploads)
			processing := create(t, store, analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart)
			var moves []string
			sw := sweep.New(store, sweep.Config[analysis.Task]{Clock: clock.Now, Owner: "sweeper-1",
				OnTransition: func(_ context.Context, before, after *analysis.Task) error {
					moves = append(moves, string(before.Status)+"->"+string(after.Status))
					return nil
				}})

			clock.Advance(15*time.Minute - time.Microsecond)
			if res, err := sw.Sweep(ctx); err != nil || res.TimedOut != 0 {
				t.Fatalf("just before 15 minutes: %+v, %v", res, err)
			}
			clock.Advance(time.Microsecond)
			if res, err := sw.Sweep(ctx); err != nil || res.TimedOut != 2 {
				t.Fatalf("at 15 minutes: %+v, %v", res, err)
			}
			if got := status(t, store, created); got.Status != analysis.StatusExpired || got.ExpiredAt == nil {
				t.Errorf("CREATED after 15 minutes: %s", got.Status)
			}
			if got := status(t, store, uploading); got.Status != analysis.StatusExpired {
				t.Errorf("UPLOADING after 15 minutes: %s", got.Status)
			}
			clock.Advance(15 * time.Minute)
			if res, err := sw.Sweep(ctx); err != nil || res.TimedOut != 1 {
				t.Fatalf("at 30 minutes: %+v, %v", res, err)
			}
			got := status(t, store, processing)
			if got.Status != analysis.StatusFailed || got.ErrorCode == nil || *got.ErrorCode != analysis.ErrorCodeTimeoutError ||
				got.ErrorMessage == nil || *got.ErrorMessage != "Processing timeout exceeded" {
				t.Errorf("PROCESSING after 30 minutes: %s %v %v", got.Status, got.ErrorCode, got.ErrorMessage)
			}
			h, _ := store.History(ctx, processing.ID)
			if last := h[len(h)-1]; last.Event != "fail" || last.Actor != "sweeper-1" || last.Message != "timeout" {
				t.Errorf("history row of the timeout: %+v", last)
			}
			if got := status(t, store, queued); got.Status != analysis.StatusQueued {
				t.Errorf("QUEUED has no timeout but became %s", got.Status)
			}
			want := []string{"CREATED->EXPIRED", "UPLOADING->EXPIRED", "PROCESSING->FAILED"}
			if len(moves) != 3 || moves[0] != want[0] && moves[0] != want[1] || moves[2] != want[2] {
				t.Errorf("hook saw %v, want %v (the first two in any order)", moves, want)
			}
		})
	}
}

func TestBatchesAndRetention(t *testing.T) {
	for _, b := range all {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			store, _, clock := setup(t, b)
			for range 250 {
				create(t, store)
			}
			keep := create(t, store, analysis.EventRequestUploadURLs, analysis.EventVerifyUploads)
			sw := sweep.New(store, sweep.Config[analysis.Task]{Clock: clock.Now, BatchSize: 100, Retention: time.Hour})
			clock.Advance(15 * time.Minute)
			res, err := sw.Sweep(ctx)
			if err != nil || res.TimedOut != 250 || res.Deleted != 0 {
				t.Fatalf("first sweep: %+v, %v", res, err)
			}
			clock.Advance(time.Hour) // finished exactly an hour ago: not older than the retention
			if res, err = sw.Sweep(ctx); err != nil || res.Deleted != 0 {
				t.Fatalf("at the retention: %+v, %v", res, err)
			}
			clock.Advance(time.Second)
			res, err = sw.Sweep(ctx)
			if err != nil || res.TimedOut != 0 || res.Deleted != 250 {
				t.Fatalf("after the retention: %+v, %v", res, err)
			}
			if got := status(t, store, keep); got.Status != analysis.StatusQueued {
				t.Errorf("an unfinished task was touched: %s", got.Status)
			}
		})
	}
}

func TestOneSweeperAtATime(t *testing.T) {
	for _, b := range all {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			store, leases, clock := setup(t, b)
			create(t, store)
			cfg := sweep.Config[analysis.Task]{Clock: clock.Now, Leases: leases, LeaseTTL: time.Minute}
			cfg.Owner = "a"
			a := sweep.New(store, cfg)
			cfg.Owner = "b"
			bb := sweep.New(store, cfg)
			if res, err := a.Sweep(ctx); err != nil || res.Skipped {
				t.Fatalf("a: %+v, %v", res, err)
			}
			if res, err := bb.Sweep(ctx); err != nil || !res.Skipped {
				t.Fatalf("b swept while a holds the lease: %+v, %v", res, err)
			}
			clock.Advance(15 * time.Minute) // a's lease expired: b takes over
			if res, err := bb.Sweep(ctx); err != nil || res.Skipped || res.TimedOut != 1 {
				t.Fatalf("b after a's lease expired: %+v, %v", res, err)
			}
			if res, _ := a.Sweep(ctx); !res.Skipped {
				t.Fatal("a swept while b holds the lease")
			}
		})
	}
}

func TestHookErrorsAreReported(t *testing.T) {
	ctx := context.Background()
	store, _, clock := setup(t, all[0])
	x := create(t, store)
	boom := errors.New("blob store down")
	sw := sweep.New(store, sweep.Config[analysis.Task]{Clock: clock.Now,
		OnTransition: func(context.Context, *analysis.Task, *analysis.Task) error { return boom }})
	clock.Advance(time.Hour)
	res, err := sw.Sweep(ctx)
	if !errors.Is(err, boom) || res.TimedOut != 1 {
		t.Fatalf("Sweep = %+v, %v", res, err)
	}
	if got := status(t, store, x); got.Status != analysis.StatusExpired {
		t.Errorf("the move did not stand: %s", got.Status)
	}
}

// TestRunSweepsAndReleasesItsLease: Run sweeps at once, and when its context
// ends it stops and gives its lease up for another process.
func TestRunSweepsAndReleasesItsLease(t *testing.T) {
	// An interval of zero or less is sweep.DefaultEvery (it crashed Run).
	for _, every := range []time.Duration{time.Hour, 0, -time.Second} {
		t.Run(every.String(), func(t *testing.T) { testRun(t, every) })
	}
}

func testRun(t *testing.T, every time.Duration) {
	store, leases, clock := setup(t, all[0])
	x := create(t, store)
	clock.Advance(time.Hour)
	swept := make(chan struct{}, 1)
	sw := sweep.New(store, sweep.Config[analysis.Task]{Clock: clock.Now, Leases: leases, Owner: "runner",
		OnTransition: func(context.Context, *analysis.Task, *analysis.Task) error { swept <- struct{}{}; return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sw.Run(ctx, every, func(err error) { t.Error(err) }); close(done) }()
	<-swept
	if held, _ := leases.Acquire(context.Background(), "taskmodel-sweep", "other", clock.Now(), time.Minute); held {
		t.Fatal("another owner took the lease while Run holds it")
	}
	cancel()
	<-done
	if got := status(t, store, x); got.Status != analysis.StatusExpired {
		t.Errorf("Run did not sweep: %s", got.Status)
	}
	if held, _ := leases.Acquire(context.Background(), "taskmodel-sweep", "other", clock.Now(), time.Minute); !held {
		t.Error("Run kept its lease after stopping")
	}
}

// TestNewRefusesBadArguments: a nil store and the Config values New cannot
// use are reported by Err, Sweep and Run (once, through its callback),
// naming each field; Sweep does not panic.
func TestNewRefusesBadArguments(t *testing.T) {
	store, leases, _ := setup(t, all[0])
	cases := []struct {
		name  string
		store *Store
		cfg   sweep.Config[analysis.Task]
		want  string
	}{
		{"nil store", nil, sweep.Config[analysis.Task]{},
			"sweep: store: is required: pass the engine's Store() (it was nil)"},
		{"negative batch size", store, sweep.Config[analysis.Task]{BatchSize: -1},
			"sweep: BatchSize: must not be negative (0 is the default, 100)"},
		{"negative lease TTL", store, sweep.Config[analysis.Task]{Leases: leases, LeaseTTL: -1},
			"sweep: LeaseTTL: must not be negative (0 is the default, one minute)"},
		{"lease name without leases", store, sweep.Config[analysis.Task]{LeaseName: "mine"},
			"sweep: LeaseName: applies only with Leases: set Leases too, or leave LeaseName empty"},
		{"lease TTL without leases", store, sweep.Config[analysis.Task]{LeaseTTL: time.Minute},
			"sweep: LeaseTTL: applies only with Leases: set Leases too, or leave LeaseTTL zero"},
		{"all at once", nil, sweep.Config[analysis.Task]{BatchSize: -1, LeaseTTL: -1},
			"sweep: store: is required: pass the engine's Store() (it was nil); " +
				"BatchSize: must not be negative (0 is the default, 100); LeaseTTL: must not be negative (0 is the default, one minute)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sw := sweep.New(c.store, c.cfg)
			if err := sw.Err(); err == nil || err.Error() != c.want || !errors.Is(err, tasktype.ErrValidation) {
				t.Fatalf("Err() = %v\nwant ErrValidation %q", err, c.want)
			}
			if _, err := sw.Sweep(context.Background()); err == nil || err.Error() != c.want {
				t.Errorf("Sweep = %v, want %q", err, c.want)
			}
			var reported []error
			err := sw.Run(context.Background(), time.Hour, func(err error) { reported = append(reported, err) })
			if err == nil || err.Error() != c.want || len(reported) != 1 || reported[0] != err {
				t.Errorf("Run = %v, reported %v; want %q once", err, reported, c.want)
			}
		})
	}
	if err := sweep.New(store, sweep.Config[analysis.Task]{Leases: leases, LeaseName: "mine", LeaseTTL: time.Minute}).Err(); err != nil {
		t.Errorf("a good config refused: %v", err)
	}
}

// TestRunEndsWhenTheDatabaseCloses: a database closed under a running
// sweeper ends Run with an error that is tasktype.ErrClosed, reported once
// through the callback, with and without leases; it went on failing at
// every interval.
func TestRunEndsWhenTheDatabaseCloses(t *testing.T) {
	for _, b := range all {
		for _, withLeases := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/leases=%v", b.Name, withLeases), func(t *testing.T) {
				driver, leases, closeDB := b.OpenClosableWithLeases(t)
				if closeDB == nil {
					t.Skip("no database to close")
				}
				clock := backendtest.NewClock()
				store := backends.NewStore[analysis.Task, analysis.Event](driver, backends.WithClock(clock.Now))
				cfg := sweep.Config[analysis.Task]{Clock: clock.Now}
				if withLeases {
					cfg.Leases = leases
				}
				sw := sweep.New(store, cfg)
				var mu sync.Mutex
				var reported []error
				ran := make(chan error, 1)
				go func() {
					ran <- sw.Run(context.Background(), time.Millisecond, func(err error) {
						mu.Lock()
						reported = append(reported, err)
						mu.Unlock()
					})
				}()
				time.Sleep(20 * time.Millisecond) // some passes on the open database
				closeDB()
				select {
				case err := <-ran:
					if !errors.Is(err, tasktype.ErrClosed) {
						t.Fatalf("Run = %v, want tasktype.ErrClosed", err)
					}
					mu.Lock()
					defer mu.Unlock()
					if len(reported) != 1 || reported[0] != err {
						t.Errorf("reported %v, want the error once", reported)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("Run goes on after the database was closed")
				}
			})
		}
	}
}
