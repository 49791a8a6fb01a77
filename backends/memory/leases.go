package memory

import (
	"context"
	"sync"
	"time"

	"github.com/taskmodel/taskmodel/backends"
)

// Leases are backends.Leases within one process.
type Leases struct {
	mu     sync.Mutex
	leases map[string]lease
}

type lease struct {
	owner   string
	expires time.Time
}

var _ backends.Leases = (*Leases)(nil)

// NewLeases returns Leases with none held.
func NewLeases() *Leases { return &Leases{leases: map[string]lease{}} }

// Acquire implements backends.Leases.
func (l *Leases) Acquire(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.leases[name]; ok && cur.owner != owner && now.Before(cur.expires) {
		return false, nil
	}
	l.leases[name] = lease{owner: owner, expires: now.Add(ttl)}
	return true, nil
}

// Release implements backends.Leases.
func (l *Leases) Release(ctx context.Context, name, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.leases[name]; ok && cur.owner == owner {
		delete(l.leases, name)
	}
	return nil
}
