package worker

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
)

// fakeQueue is a queue of tasks by position, some of them committed:
// claim takes, in order, up to limit committed tasks after a position, as
// a backends.Claimer does.
type fakeQueue struct {
	base      time.Time
	committed map[int]bool // by task number, the millisecond it was created at
	claimed   map[int]bool
	limit     int
}

type fakeTask struct{ n int }

func (q *fakeQueue) pos(n int) backends.QueuePosition {
	return backends.QueuePosition{CreatedAt: q.base.Add(time.Duration(n) * time.Millisecond), ID: uuid.UUID{byte(n)}}
}

func (q *fakeQueue) claim(after backends.QueuePosition) ([]backends.Claim[fakeTask], backends.QueuePosition, error) {
	var ns []int
	for n := range q.committed {
		if !q.claimed[n] && after.Before(q.pos(n)) {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	if len(ns) > q.limit {
		ns = ns[:q.limit]
	}
	var out []backends.Claim[fakeTask]
	var last backends.QueuePosition
	for _, n := range ns {
		q.claimed[n] = true
		out = append(out, backends.Claim[fakeTask]{Task: &fakeTask{n}})
		last = q.pos(n)
	}
	return out, last, nil
}

// TestCursorLookBehind: once a claim from the head found a task that
// another process committed behind the position, the claims start before
// the position for a while, and the next such task waits for no claim from
// the head; a task far behind (requeued) starts no look-behind.
func TestCursorLookBehind(t *testing.T) {
	q := &fakeQueue{base: time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC), committed: map[int]bool{}, claimed: map[int]bool{}, limit: 3}
	var pos cursor
	at := func(c backends.Claim[fakeTask]) backends.QueuePosition { return q.pos(c.Task.n) }
	steps := []struct {
		name   string
		commit []int
		head   bool // the claim from the head is due
		want   []int
	}{
		{"first claim, from the head", []int{1, 2, 3, 4, 6}, false, []int{1, 2, 3}},
		{"after the position", nil, false, []int{4, 6}},
		{"5 committed late, behind the position: not seen", []int{5, 7}, false, []int{7}},
		{"the claim from the head finds it", nil, true, []int{5}},
		{"in order after it", []int{8, 9}, false, []int{8, 9}},
		{"11 and 12 committed, 10 not yet", []int{11, 12}, false, []int{11, 12}},
		{"10 committed late: the look-behind finds it", []int{10}, false, []int{10}},
		{"a task requeued far behind waits for the head", []int{-1000, 13}, false, []int{13}},
		{"", nil, true, []int{-1000}},
	}
	for _, s := range steps {
		for _, n := range s.commit {
			q.committed[n] = true
		}
		if s.head {
			pos.headAt = time.Time{}
		} else if !pos.after.IsZero() {
			pos.headAt = time.Now()
		}
		got, err := claimAfter(context.Background(), &pos, nil, q.claim, at, q.limit)
		if err != nil {
			t.Fatal(err)
		}
		var ns []int
		for _, c := range got {
			ns = append(ns, c.Task.n)
		}
		if !slices.Equal(ns, s.want) {
			t.Fatalf("%s: claimed %v, want %v (look-behind %v)", s.name, ns, s.want, pos.lookBehind)
		}
	}
	// Twice the lag of 5 (2 ms behind 7) and of 10 (2 ms behind 12); the
	// requeued task, a second behind, left it alone.
	if pos.lookBehind != 4*time.Millisecond {
		t.Errorf("look-behind %v, want 4ms", pos.lookBehind)
	}
}

// TestHeadGap: the claims from the head come an eighth of headEvery apart
// once a task was claimed, doubling up to headEvery.
func TestHeadGap(t *testing.T) {
	for heads, want := range []time.Duration{headEvery / 8, headEvery / 4, headEvery / 2, headEvery, headEvery, headEvery} {
		c := cursor{heads: heads}
		if got := c.headGap(); got != want {
			t.Errorf("after %d claims from the head: %v, want %v", heads, got, want)
		}
	}
}

// TestCursorKeepsWhatFailed: a claim that fails forgets neither a task
// this process queued behind the position nor a Waker's wake-up, whether
// or not the claim was from the head.
func TestCursorKeepsWhatFailed(t *testing.T) {
	q := backends.QueuePosition{CreatedAt: time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)}
	for _, head := range []bool{false, true} {
		pos := cursor{after: backends.QueuePosition{CreatedAt: q.CreatedAt.Add(time.Second)}, headAt: time.Now()}
		if head {
			pos.headAt = time.Time{}
		}
		pos.behind(q)
		pos.wokenByOther()
		failed := errors.New("no connection")
		_, err := claimAfter(context.Background(), &pos, nil, func(backends.QueuePosition) ([]backends.Claim[fakeTask], backends.QueuePosition, error) {
			return nil, backends.QueuePosition{}, failed
		}, func(backends.Claim[fakeTask]) backends.QueuePosition { return backends.QueuePosition{} }, 10)
		if err != failed {
			t.Fatalf("claim error %v", err)
		}
		if back, woken := pos.takeBack(); back != q || !woken {
			t.Errorf("head=%v: after the failed claim, behind %v and woken %v; want %v and true", head, back, woken, q)
		}
	}
}
