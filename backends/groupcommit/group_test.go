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
