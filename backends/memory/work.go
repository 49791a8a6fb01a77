package memory

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
)

type taskLease struct {
	backends.Lease
	expires time.Time
}

// Reserve implements backends.WorkDriver.
func (d *Driver[T, PT]) Reserve(ctx context.Context, queue, owner string, now, expires time.Time, limit int) ([]backends.Claim[T], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []backends.Claim[T]
	for _, id := range d.order {
		if len(out) >= limit {
			break
		}
		e := d.tasks[id]
		if e.key.Status != queue || e.lease != nil && e.lease.expires.After(now) {
			continue
		}
		t, err := d.decode(e)
		if err != nil {
			return nil, err
		}
		attempt := 1
		if e.lease != nil {
			attempt = e.lease.Attempt + 1
		}
		e.lease = &taskLease{Lease: backends.Lease{Owner: owner, Attempt: attempt}, expires: expires}
		out = append(out, backends.Claim[T]{Task: t, Lease: e.lease.Lease})
	}
	return out, nil
}

// Heartbeat implements backends.WorkDriver.
func (d *Driver[T, PT]) Heartbeat(ctx context.Context, id uuid.UUID, l backends.Lease, running string, expires time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.tasks[id]
	if !ok || e.lease == nil || e.lease.Lease != l || e.key.Status != running {
		return false, nil
	}
	e.lease.expires = expires
	return true, nil
}

// Lost implements backends.WorkDriver.
func (d *Driver[T, PT]) Lost(ctx context.Context, running string, now time.Time, limit int) ([]backends.Claim[T], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var lost []uuid.UUID
	for _, id := range d.order {
		e := d.tasks[id]
		if e.key.Status == running && e.lease != nil && !e.lease.expires.After(now) {
			lost = append(lost, id)
		}
	}
	slices.SortStableFunc(lost, func(a, b uuid.UUID) int { return d.tasks[a].lease.expires.Compare(d.tasks[b].lease.expires) })
	if len(lost) > limit {
		lost = lost[:limit]
	}
	out := make([]backends.Claim[T], 0, len(lost))
	for _, id := range lost {
		t, err := d.decode(d.tasks[id])
		if err != nil {
			return nil, err
		}
		out = append(out, backends.Claim[T]{Task: t, Lease: d.tasks[id].lease.Lease})
	}
	return out, nil
}
