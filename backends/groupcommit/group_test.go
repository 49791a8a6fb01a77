package groupcommit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/groupcommit"
)

type item struct {
	key  int
	fail bool // the item's write errors (aborting the batch's transaction)
	lose bool // the item's guard fails
}

type fakeDB struct {
	mu      sync.Mutex
	batches [][]int
	singles []int
	gate    chan struct{} // flushes wait on it when set
}

func (f *fakeDB) flush(_ context.Context, items []item) []error {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	keys := make([]int, len(items))
	for i, it := range items {
		keys[i] = it.key
	}
	f.batches = append(f.batches, keys)
	f.mu.Unlock()
	errs := make([]error, len(items))
	aborted := false
	for _, it := range items {
		aborted = aborted || it.fail
	}
	for i, it := range items {
		switch {
		case it.fail:
			errs[i] = errors.New("check violation")
		case aborted:
			errs[i] = errors.New("current transaction is aborted")
		case it.lose:
			errs[i] = groupcommit.ErrNotApplied
		}
	}
	return errs
}

func (f *fakeDB) single(ctx context.Context, it item) error {
	f.mu.Lock()
	f.singles = append(f.singles, it.key)
	f.mu.Unlock()
	return f.flush(ctx, []item{it})[0]
}

func TestGroupAloneGoesStraightThrough(t *testing.T) {
	db := &fakeDB{}
	g := groupcommit.NewGroup(db.flush, db.single, func(it item) int { return it.key })
	if err := g.Do(context.Background(), item{key: 1}); err != nil {
		t.Fatal(err)
	}
	if err := g.Do(context.Background(), item{key: 2, lose: true}); !errors.Is(err, groupcommit.ErrNotApplied) {
		t.Fatalf("lost guard: %v", err)
	}
	if len(db.singles) != 2 {
		t.Errorf("lone calls used the batch path: singles %v batches %v", db.singles, db.batches)
	}
}

func TestGroupBatchesConcurrentCalls(t *testing.T) {
	db := &fakeDB{gate: make(chan struct{})}
	g := groupcommit.NewGroup(db.flush, db.single, func(it item) int { return it.key })
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	var started atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Add(1)
			// Key 7 twice: the two may never share a batch. Item 13 fails,
			// item 21 loses its guard.
			it := item{key: i, fail: i == 13, lose: i == 21}
			if i == 39 {
				it.key = 7
			}
			errs[i] = g.Do(context.Background(), it)
		}()
	}
	for started.Load() < n {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let every call queue behind the gated flushes
	close(db.gate)
	wg.Wait()
	for i, err := range errs {
		switch {
		case i == 13:
			if err == nil || err.Error() != "check violation" {
				t.Errorf("item 13: %v", err)
			}
		case i == 21:
			if !errors.Is(err, groupcommit.ErrNotApplied) {
				t.Errorf("item 21: %v", err)
			}
		case err != nil:
			t.Errorf("item %d failed because of a neighbour: %v", i, err)
		}
	}
	biggest := 0
	for _, b := range db.batches {
		biggest = max(biggest, len(b))
		seen := map[int]bool{}
		for _, k := range b {
			if seen[k] {
				t.Errorf("batch %v holds key %d twice", b, k)
			}
			seen[k] = true
		}
	}
	if biggest < 10 {
		t.Errorf("no real batching happened: batches %v", db.batches)
	}
}

func TestGroupCallerGivesUp(t *testing.T) {
	db := &fakeDB{gate: make(chan struct{})}
	g := groupcommit.NewGroup(db.flush, db.single, func(it item) int { return it.key })
	go g.Do(context.Background(), item{key: 1}) // takes the fast path and blocks on the gate
	time.Sleep(10 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Do(ctx, item{key: 2}) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	close(db.gate)
}

// TestGroupMaxInFlight: no more batches are written at once than the bound
// (a lone write included), and the bound is reached when calls pile up.
func TestGroupMaxInFlight(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  int // 0: the default
		want int
	}{
		{"default", 0, 1},
		{"two", 2, 2},
		{"one", 1, 1},
		{"three", 3, 3},
		{"below one means one", -5, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := &fakeDB{gate: make(chan struct{})}
			var now, most atomic.Int32
			flush := func(ctx context.Context, items []item) []error {
				n := now.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				defer now.Add(-1)
				return db.flush(ctx, items)
			}
			single := func(ctx context.Context, it item) error { return flush(ctx, []item{it})[0] }
			g := groupcommit.NewGroup(flush, single, func(it item) int { return it.key })
			if tc.set != 0 {
				g.SetMaxInFlight(tc.set)
			}
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					if err := g.Do(context.Background(), item{key: i}); err != nil {
						t.Errorf("item %d: %v", i, err)
					}
				})
				// Calls arrive over time: each batch in flight took the
				// calls queued before it, and later ones start the next.
				time.Sleep(time.Millisecond)
			}
			// Wait until the bound's worth of batches wait on the gate.
			for deadline := time.Now().Add(5 * time.Second); now.Load() < int32(tc.want) && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // room for a batch too many to start
			close(db.gate)
			wg.Wait()
			if got := most.Load(); got != int32(tc.want) {
				t.Errorf("at most %d batches in flight, want %d", got, tc.want)
			}
		})
	}
}
