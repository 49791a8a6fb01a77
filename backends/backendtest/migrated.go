package backendtest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
)

// MigratedTasks are the tasks of a database whose leases migration
// 0008_lease_in_row moved from the lease table into the task rows, as
// MigratedLeases expects them before the migration (created in this order,
// a lease "expired" if it expired before now and "live" if it expires after).
type MigratedTasks struct {
	Held     uuid.UUID // running, live lease of "w1" at attempt 2
	Lost     uuid.UUID // running, expired lease of "w2" at attempt 1
	Queued   uuid.UUID // queued, no lease
	Reserved uuid.UUID // queued, live lease of "w1" at attempt 1 (reserved, not yet claimed)
	Requeued uuid.UUID // queued, expired lease of "w2" at attempt 3 (rescued)
}

// MigratedLeases checks a worker driver over such a database after the
// migration: the expired lease is found lost and the live one is not, the
// queued tasks without a live lease are reserved (the requeued one at its
// next attempt) and the reserved one is skipped, and the holder of the live
// lease still has it.
func MigratedLeases[T any](t *testing.T, d backends.WorkDriver[T], id func(*T) uuid.UUID, queue, running string, now time.Time, ts MigratedTasks) {
	t.Helper()
	ctx := context.Background()
	type claim struct {
		ID    uuid.UUID
		Lease backends.Lease
	}
	claims := func(cs []backends.Claim[T]) []claim {
		out := make([]claim, len(cs))
		for i, c := range cs {
			out[i] = claim{id(c.Task), c.Lease}
		}
		return out
	}
	got, err := d.Lost(ctx, running, now, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []claim{{ts.Lost, backends.Lease{Owner: "w2", Attempt: 1}}}; !slices.Equal(claims(got), want) {
		t.Errorf("Lost = %v, want %v", claims(got), want)
	}
	got, err = d.Reserve(ctx, queue, "w3", now, now.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []claim{{ts.Queued, backends.Lease{Owner: "w3", Attempt: 1}}, {ts.Requeued, backends.Lease{Owner: "w3", Attempt: 4}}}; !slices.Equal(claims(got), want) {
		t.Errorf("Reserve = %v, want %v", claims(got), want)
	}
	for _, c := range []struct {
		lease backends.Lease
		want  bool
	}{{backends.Lease{Owner: "w1", Attempt: 1}, false}, {backends.Lease{Owner: "w3", Attempt: 2}, false}, {backends.Lease{Owner: "w1", Attempt: 2}, true}} {
		if ok, err := d.Heartbeat(ctx, ts.Held, c.lease, running, now.Add(2*time.Minute)); err != nil || ok != c.want {
			t.Errorf("Heartbeat(held task, %+v) = %v, %v; want %v", c.lease, ok, err, c.want)
		}
	}
}
