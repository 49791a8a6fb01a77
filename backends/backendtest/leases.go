package backendtest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends"
)

// RunLeases checks a backends.Leases: one holder at a time, renewal,
// expiry, release, and exactly one winner among concurrent takers.
func RunLeases(t *testing.T, newLeases func(t testing.TB) backends.Leases) {
	ctx := context.Background()
	l := newLeases(t)
	now := NewClock().Now()
	ttl := time.Minute
	steps := []struct {
		name  string
		owner string
		at    time.Duration
		want  bool
		lease string
	}{
		{"a takes it", "a", 0, true, "sweep"},
		{"b cannot", "b", 10 * time.Second, false, "sweep"},
		{"a renews", "a", 50 * time.Second, true, "sweep"},
		{"b still cannot, the renewal counts", "b", 100 * time.Second, false, "sweep"},
		{"another lease is free", "b", 100 * time.Second, true, "other"},
		{"b takes it once it expired", "b", 111 * time.Second, true, "sweep"},
		{"a lost it", "a", 112 * time.Second, false, "sweep"},
	}
	for _, st := range steps {
		got, err := l.Acquire(ctx, st.lease, st.owner, now.Add(st.at), ttl)
		if err != nil || got != st.want {
			t.Fatalf("%s: Acquire = %v, %v; want %v", st.name, got, err, st.want)
		}
	}
	if err := l.Release(ctx, "sweep", "a"); err != nil { // not the owner: no effect
		t.Fatal(err)
	}
	if got, _ := l.Acquire(ctx, "sweep", "a", now.Add(113*time.Second), ttl); got {
		t.Fatal("a release by a non-owner freed the lease")
	}
	if err := l.Release(ctx, "sweep", "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.Acquire(ctx, "sweep", "a", now.Add(114*time.Second), ttl); !got {
		t.Fatal("the owner's release did not free the lease")
	}

	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := l.Acquire(ctx, "race", string(rune('A'+i)), now, ttl)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d concurrent takers won the lease, want 1", n)
	}
}
