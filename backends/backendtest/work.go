package backendtest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/analysis"
)

// The worker half of the suite: the leases a model with a worker
// section keeps (backends.WorkDriver).

func (e env) work(t *testing.T) backends.WorkDriver[analysis.Task] {
	t.Helper()
	w, ok := e.store.Driver().(backends.WorkDriver[analysis.Task])
	if !ok {
		t.Fatalf("%T does not implement backends.WorkDriver; the analysis model has a worker section", e.store.Driver())
	}
	return w
}

// queued creates n tasks and moves them to QUEUED, a clock tick apart.
func (e env) queued(t *testing.T, n int) []*analysis.Task {
	t.Helper()
	out := make([]*analysis.Task, n)
	for i := range out {
		x := e.create(t)
		x = e.fire(t, x, analysis.EventRequestUploadURLs, nil)
		out[i] = e.fire(t, x, analysis.EventVerifyUploads, nil)
		e.clock.Advance(time.Millisecond)
	}
	return out
}

func ids(claims []backends.Claim[analysis.Task]) []uuid.UUID {
	out := make([]uuid.UUID, len(claims))
	for i, c := range claims {
		out[i] = c.Task.ID
	}
	return out
}

func testReserve(t *testing.T, e env) {
	w := e.work(t)
	tasks := e.queued(t, 3)
	e.create(t) // CREATED: never reserved
	now := e.clock.Now()
	got, err := w.Reserve(e.ctx, "QUEUED", "w1", now, now.Add(time.Minute), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Task.ID != tasks[0].ID || got[1].Task.ID != tasks[1].ID {
		t.Fatalf("reserved %v, want the two oldest %v %v", ids(got), tasks[0].ID, tasks[1].ID)
	}
	for _, c := range got {
		if c.Lease != (backends.Lease{Owner: "w1", Attempt: 1}) {
			t.Errorf("lease %+v, want w1 attempt 1", c.Lease)
		}
		assertSame(t, c.Task, tasks[slicesIndex(tasks, c.Task.ID)])
	}
	// Held tasks are skipped: only the third is left.
	more, err := w.Reserve(e.ctx, "QUEUED", "w2", now, now.Add(time.Minute), 10)
	if err != nil || len(more) != 1 || more[0].Task.ID != tasks[2].ID {
		t.Fatalf("second reserve = %v, %v; want only %s", ids(more), err, tasks[2].ID)
	}
	// Once expired, a lease is taken over with the next attempt.
	later := now.Add(time.Minute)
	again, err := w.Reserve(e.ctx, "QUEUED", "w3", later, later.Add(time.Minute), 10)
	if err != nil || len(again) != 3 {
		t.Fatalf("reserve after expiry = %v, %v; want all three", ids(again), err)
	}
	for _, c := range again {
		if c.Lease != (backends.Lease{Owner: "w3", Attempt: 2}) {
			t.Errorf("taken-over lease %+v, want w3 attempt 2", c.Lease)
		}
	}
	// A reservation leaves the task as it was.
	x, err := e.store.Get(e.ctx, tasks[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	assertSame(t, x, tasks[0])
}

func slicesIndex(tasks []*analysis.Task, id uuid.UUID) int {
	for i, x := range tasks {
		if x.ID == id {
			return i
		}
	}
	return -1
}

// testReserveRace: 16 workers reserve concurrently; every task goes to
// exactly one of them.
func testReserveRace(t *testing.T, e env) {
	w := e.work(t)
	tasks := e.queued(t, 40)
	now := e.clock.Now()
	race(t, len(tasks), "reserved", func(owner string) ([]backends.Claim[analysis.Task], error) {
		return w.Reserve(e.ctx, "QUEUED", owner, now, now.Add(time.Minute), 3)
	})
}

func testHeartbeat(t *testing.T, e env) {
	w := e.work(t)
	x := e.queued(t, 1)[0]
	now := e.clock.Now()
	got, err := w.Reserve(e.ctx, "QUEUED", "w1", now, now.Add(time.Minute), 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("reserve: %v, %v", ids(got), err)
	}
	l := got[0].Lease
	// Still QUEUED: a heartbeat for the running status fails.
	if ok, err := w.Heartbeat(e.ctx, x.ID, l, "PROCESSING", now.Add(2*time.Minute)); ok || err != nil {
		t.Fatalf("heartbeat before start = %v, %v; want false", ok, err)
	}
	x = e.fire(t, got[0].Task, analysis.EventStart, nil)
	for _, tc := range []struct {
		name  string
		id    uuid.UUID
		lease backends.Lease
		want  bool
	}{
		{"holder", x.ID, l, true},
		{"other owner", x.ID, backends.Lease{Owner: "w2", Attempt: 1}, false},
		{"stale attempt", x.ID, backends.Lease{Owner: "w1", Attempt: 2}, false},
		{"unknown task", uuid.New(), l, false},
	} {
		ok, err := w.Heartbeat(e.ctx, tc.id, tc.lease, "PROCESSING", now.Add(2*time.Minute))
		if ok != tc.want || err != nil {
			t.Errorf("%s: heartbeat = %v, %v; want %v", tc.name, ok, err, tc.want)
		}
	}
	// Extended to now+2m: not lost at now+1m, lost at now+2m.
	if lost, err := w.Lost(e.ctx, "PROCESSING", now.Add(time.Minute+time.Second), 10); err != nil || len(lost) != 0 {
		t.Fatalf("lost before the extended expiry: %v, %v", ids(lost), err)
	}
	lost, err := w.Lost(e.ctx, "PROCESSING", now.Add(2*time.Minute), 10)
	if err != nil || len(lost) != 1 || lost[0].Task.ID != x.ID || lost[0].Lease != l {
		t.Fatalf("lost = %+v, %v; want %s with %+v", lost, err, x.ID, l)
	}
	assertSame(t, lost[0].Task, x)
	// Cancelled: a heartbeat fails, and the task is no longer lost.
	x = e.fire(t, x, analysis.EventCancel, nil)
	if ok, err := w.Heartbeat(e.ctx, x.ID, l, "PROCESSING", now.Add(3*time.Minute)); ok || err != nil {
		t.Errorf("heartbeat after cancel = %v, %v; want false", ok, err)
	}
	if lost, err := w.Lost(e.ctx, "PROCESSING", now.Add(time.Hour), 10); err != nil || len(lost) != 0 {
		t.Errorf("lost after cancel: %v, %v", ids(lost), err)
	}
	// Deleting the task deletes its lease.
	if err := e.store.Delete(e.ctx, x.ID); err != nil {
		t.Fatal(err)
	}
}

func testLostOrderAndLimit(t *testing.T, e env) {
	w := e.work(t)
	tasks := e.queued(t, 3)
	now := e.clock.Now()
	// Reserved with decreasing expiry: lost comes back by expiry, oldest first.
	for i, x := range tasks {
		got, err := w.Reserve(e.ctx, "QUEUED", "w", now, now.Add(time.Duration(10-i)*time.Second), 1)
		if err != nil || len(got) != 1 || got[0].Task.ID != x.ID {
			t.Fatalf("reserve %d: %v, %v", i, ids(got), err)
		}
		e.fire(t, got[0].Task, analysis.EventStart, nil)
	}
	lost, err := w.Lost(e.ctx, "PROCESSING", now.Add(time.Minute), 2)
	if err != nil || len(lost) != 2 || lost[0].Task.ID != tasks[2].ID || lost[1].Task.ID != tasks[1].ID {
		t.Fatalf("lost = %v, %v; want %s then %s", ids(lost), err, tasks[2].ID, tasks[1].ID)
	}
}

// claimer returns the driver as a backends.Claimer, or nil when it fires the
// claim event through Fire instead (the worker then uses Reserve).
func (e env) claimer(t *testing.T) backends.Claimer[analysis.Task] {
	t.Helper()
	c, _ := e.store.Driver().(backends.Claimer[analysis.Task])
	if c == nil {
		t.Logf("%T claims through Reserve and Fire: nothing to test here", e.store.Driver())
	}
	return c
}

// testClaim: a Claimer's claim, done in SQL, leaves every task and history
// row exactly as Reserve followed by the model's Fire would.
func testClaim(t *testing.T, e env) {
	w := e.claimer(t)
	if w == nil {
		return
	}
	tasks := e.queued(t, 3)
	e.create(t) // CREATED: never claimed
	now := e.clock.Now()
	got, _, err := w.Claim(e.ctx, "w1", now, now.Add(time.Minute), 2, backends.QueuePosition{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Task.ID != tasks[0].ID || got[1].Task.ID != tasks[1].ID {
		t.Fatalf("claimed %v, want the two oldest %v %v", ids(got), tasks[0].ID, tasks[1].ID)
	}
	for i, c := range got {
		if c.Lease != (backends.Lease{Owner: "w1", Attempt: 1}) {
			t.Errorf("lease %+v, want w1 attempt 1", c.Lease)
		}
		want := *tasks[i]
		if err := want.Fire(analysis.EventStart, now); err != nil {
			t.Fatal(err)
		}
		if err := want.Validate(); err != nil {
			t.Fatal(err)
		}
		assertSame(t, c.Task, &want)
		stored, err := e.store.Get(e.ctx, c.Task.ID)
		if err != nil {
			t.Fatal(err)
		}
		assertSame(t, stored, &want)
		h, err := e.store.History(e.ctx, c.Task.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := h[len(h)-1]
		wantH := backends.History{Seq: int64(len(h)), From: "QUEUED", To: "PROCESSING", Event: "start", At: now, Attempt: 1, Actor: "w1", Message: "claimed by w1 (attempt 1)"}
		if len(h) != 4 || last != wantH {
			t.Errorf("history has %d rows, last %+v; want 4, last %+v", len(h), last, wantH)
		}
	}
	// A task another worker holds a live lease on is skipped; the rest of
	// the queue is claimed.
	held, err := w.Reserve(e.ctx, "QUEUED", "w2", now, now.Add(time.Minute), 1)
	if err != nil || len(held) != 1 || held[0].Task.ID != tasks[2].ID {
		t.Fatalf("reserve = %v, %v; want %s", ids(held), err, tasks[2].ID)
	}
	more := e.queued(t, 1)[0]
	got, _, err = w.Claim(e.ctx, "w3", now, now.Add(time.Minute), 10, backends.QueuePosition{})
	if err != nil || len(got) != 1 || got[0].Task.ID != more.ID {
		t.Fatalf("claim = %v, %v; want only %s", ids(got), err, more.ID)
	}
	// Once that lease expired, the task is claimed with the next attempt;
	// claimed tasks (no longer queued) are not claimed again.
	later := now.Add(time.Hour)
	got, _, err = w.Claim(e.ctx, "w4", later, later.Add(time.Minute), 10, backends.QueuePosition{})
	if err != nil || len(got) != 1 || got[0].Task.ID != tasks[2].ID || got[0].Lease != (backends.Lease{Owner: "w4", Attempt: 2}) {
		t.Fatalf("claim after expiry = %+v, %v; want %s with w4 attempt 2", got, err, tasks[2].ID)
	}
	h, err := e.store.History(e.ctx, tasks[2].ID)
	if err != nil || h[len(h)-1].Message != "claimed by w4 (attempt 2)" || h[len(h)-1].Attempt != 2 {
		t.Errorf("history %+v, %v", h, err)
	}
	// The claimed task goes on through Fire, guarded by the version Claim
	// returned.
	if _, err := e.store.FireFrom(e.ctx, got[0].Task, analysis.EventComplete, nil, backends.Meta{Actor: "w4"}); err != nil {
		t.Errorf("complete after claim: %v", err)
	}
}

// testClaimAfter: a claim after a position takes only the tasks that come
// later in the claim order and returns the last one's position; a task
// queued behind the position (here one created first and queued last, as
// an upload-then-process task is) is left to a claim from the zero position.
func testClaimAfter(t *testing.T, e env) {
	w := e.claimer(t)
	if w == nil {
		return
	}
	early := e.create(t) // created first, queued last
	e.clock.Advance(time.Millisecond)
	tasks := e.queued(t, 4)
	at := func(x *analysis.Task) backends.QueuePosition {
		return backends.QueuePosition{CreatedAt: x.CreatedAt, ID: x.ID}
	}
	now := e.clock.Now()
	claim := func(after backends.QueuePosition, limit int) ([]uuid.UUID, backends.QueuePosition) {
		t.Helper()
		got, last, err := w.Claim(e.ctx, "w1", now, now.Add(time.Minute), limit, after)
		if err != nil {
			t.Fatal(err)
		}
		return ids(got), last
	}
	same := func(a, b backends.QueuePosition) bool { return !a.Before(b) && !b.Before(a) }
	got, last := claim(backends.QueuePosition{}, 2)
	if !slices.Equal(got, []uuid.UUID{tasks[0].ID, tasks[1].ID}) || !same(last, at(tasks[1])) {
		t.Fatalf("from the start: claimed %v up to %+v; want %v %v up to %+v", got, last, tasks[0].ID, tasks[1].ID, at(tasks[1]))
	}
	x := e.fire(t, early, analysis.EventRequestUploadURLs, nil)
	e.fire(t, x, analysis.EventVerifyUploads, nil)
	// Not after tasks[2]: tasks[3] only.
	if got, last = claim(at(tasks[2]), 10); !slices.Equal(got, []uuid.UUID{tasks[3].ID}) || !same(last, at(tasks[3])) {
		t.Fatalf("after the third: claimed %v up to %+v; want %v up to %+v", got, last, tasks[3].ID, at(tasks[3]))
	}
	if got, last = claim(at(tasks[3]), 10); len(got) != 0 || !last.IsZero() {
		t.Fatalf("after the last: claimed %v up to %+v; want none, zero", got, last)
	}
	// From the start: the task queued behind, then the one skipped above.
	if got, last = claim(backends.QueuePosition{}, 10); !slices.Equal(got, []uuid.UUID{early.ID, tasks[2].ID}) || !same(last, at(tasks[2])) {
		t.Fatalf("from the start again: claimed %v up to %+v; want %v %v up to %+v", got, last, early.ID, tasks[2].ID, at(tasks[2]))
	}
}

// testClaimRace: 16 workers claim concurrently; every task is claimed by
// exactly one of them, once, with one history row.
func testClaimRace(t *testing.T, e env) {
	w := e.claimer(t)
	if w == nil {
		return
	}
	tasks := e.queued(t, 40)
	now := e.clock.Now()
	seen := race(t, len(tasks), "claimed", func(owner string) ([]backends.Claim[analysis.Task], error) {
		got, _, err := w.Claim(e.ctx, owner, now, now.Add(time.Minute), 3, backends.QueuePosition{})
		return got, err
	})
	for _, x := range tasks {
		h, err := e.store.History(e.ctx, x.ID)
		if err != nil || len(h) != 4 || h[3].To != "PROCESSING" || h[3].Actor != seen[x.ID] {
			t.Errorf("task %s: history %+v, %v", x.ID, h, err)
		}
	}
}

// race runs 16 workers that take batches with take until none is left,
// checks that each of the n tasks went to exactly one of them, and returns
// which worker took each.
func race(t *testing.T, n int, verb string, take func(owner string) ([]backends.Claim[analysis.Task], error)) map[uuid.UUID]string {
	var mu sync.Mutex
	seen := map[uuid.UUID]string{}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			owner := "w" + string(rune('a'+i))
			for {
				got, err := take(owner)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					if prev, dup := seen[c.Task.ID]; dup {
						t.Errorf("task %s %s by %s and %s", c.Task.ID, verb, prev, owner)
					}
					seen[c.Task.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d of %d tasks %s", len(seen), n, verb)
	}
	return seen
}
