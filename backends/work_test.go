package backends_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
)

// TestQueuePositionOrder: positions order by creation time, then id, and
// the zero position comes before every task's.
func TestQueuePositionOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)
	a := uuid.MustParse("01a22aed-9516-71fd-a0a0-be4f22755758")
	b := uuid.MustParse("01a22aed-951b-73c0-9313-fca9079d13dc")
	pos := func(at time.Time, id uuid.UUID) backends.QueuePosition {
		return backends.QueuePosition{CreatedAt: at, ID: id}
	}
	for _, c := range []struct {
		name   string
		p, q   backends.QueuePosition
		before bool
	}{
		{"earlier creation, greater id", pos(t0, b), pos(t0.Add(time.Microsecond), a), true},
		{"later creation, smaller id", pos(t0.Add(time.Microsecond), a), pos(t0, b), false},
		{"same creation, smaller id", pos(t0, a), pos(t0, b), true},
		{"same creation, greater id", pos(t0, b), pos(t0, a), false},
		{"same position", pos(t0, a), pos(t0, a), false},
		{"same instant in another zone", pos(t0.In(time.FixedZone("CET", 3600)), a), pos(t0, a), false},
		{"zero before a task", backends.QueuePosition{}, pos(t0, a), true},
		{"a task after zero", pos(t0, a), backends.QueuePosition{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.Before(c.q); got != c.before {
				t.Errorf("%+v.Before(%+v) = %v, want %v", c.p, c.q, got, c.before)
			}
		})
	}
	if !(backends.QueuePosition{}).IsZero() || pos(t0, uuid.Nil).IsZero() || pos(time.Time{}, a).IsZero() {
		t.Error("IsZero is true only for the zero position")
	}
}

// coldAt is a ClaimWarmer whose claims go cold at a fixed moment.
type coldAt time.Time

func (c coldAt) ClaimsCold(time.Time) time.Time { return time.Time(c) }

func (coldAt) WarmClaims(context.Context) error { return nil }

// TestNextWarm: the wait before warming claims is a millisecond past the
// moment they go cold, at least 10 ms (a moment already past does not make
// a caller spin), and none when they never go cold.
func TestNextWarm(t *testing.T) {
	now := time.Date(2026, 12, 7, 5, 0, 0, 300_000_000, time.UTC)
	for _, c := range []struct {
		name string
		cold time.Time
		want time.Duration
		ok   bool
	}{
		{"ahead", now.Add(700 * time.Millisecond), 701 * time.Millisecond, true},
		{"just ahead", now.Add(time.Millisecond), 10 * time.Millisecond, true},
		{"past", now.Add(-time.Second), 10 * time.Millisecond, true},
		{"never", time.Time{}, 0, false},
	} {
		if got, ok := backends.NextWarm(coldAt(c.cold), now); got != c.want || ok != c.ok {
			t.Errorf("%s: NextWarm = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
