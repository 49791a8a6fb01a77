package backendtest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
)

// MigratedLeases checks a worker driver over a database whose leases
// migration 0008_lease_in_row moved from the lease table into the task rows.
// Before the migration, held was in status running under a live lease of
// owner "w1" at attempt 2 (until after now), lost was in status running
// under a lease of "w2" at attempt 1 that expired before now, and queued was
// in status queue with no lease. The holder of a moved lease keeps it,
// the expired one is found lost, and the queued task is free.
func MigratedLeases[T any](t *testing.T, d backends.WorkDriver[T], id func(*T) uuid.UUID, queue, running string, now time.Time, held, lost, queued uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	for _, c := range []struct {
		lease backends.Lease
		want  bool
	}{{backends.Lease{Owner: "w1", Attempt: 1}, false}, {backends.Lease{Owner: "w3", Attempt: 2}, false}, {backends.Lease{Owner: "w1", Attempt: 2}, true}} {
		if ok, err := d.Heartbeat(ctx, held, c.lease, running, now.Add(2*time.Minute)); err != nil || ok != c.want {
			t.Errorf("Heartbeat(held task, %+v) = %v, %v; want %v", c.lease, ok, err, c.want)
		}
	}
	got, err := d.Lost(ctx, running, now, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || id(got[0].Task) != lost || got[0].Lease != (backends.Lease{Owner: "w2", Attempt: 1}) {
		t.Errorf("Lost = %d claims (%v), want the lost task %s with its lease {w2 1}", len(got), claimIDs(got, id), lost)
	}
	got, err = d.Reserve(ctx, queue, "w3", now, now.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || id(got[0].Task) != queued || got[0].Lease != (backends.Lease{Owner: "w3", Attempt: 1}) {
		t.Errorf("Reserve = %d claims (%v), want the queued task %s at attempt 1", len(got), claimIDs(got, id), queued)
	}
}

func claimIDs[T any](claims []backends.Claim[T], id func(*T) uuid.UUID) []uuid.UUID {
	out := make([]uuid.UUID, len(claims))
	for i, c := range claims {
		out[i] = id(c.Task)
	}
	return out
}
