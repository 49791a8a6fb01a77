package backends

import (
	"context"
	"time"
)

// Leases elect one holder of a named lease at a time, across processes: the
// sweeper takes one so that a single process applies timeouts. A lease is
// held until it expires or its owner releases it; the owner renews it by
// acquiring it again.
type Leases interface {
	// Acquire takes the lease name for owner until now+ttl, or renews it if
	// owner holds it; it reports whether owner holds it afterwards.
	Acquire(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error)
	// Release gives the lease up if owner holds it.
	Release(ctx context.Context, name, owner string) error
}
