package backends

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Poller is the SQLite ChangeSource of one model: SQLite has no
// notifications, so it reads the tasks changed since its last read (the
// generated ChangedSince query, over the (updated_at, id) index of
// migration 0003_changes) every interval.
//
// updated_at is the writer's clock reading, taken before the write waits
// for the database's lock: a change can commit after a later-stamped one.
// Each poll therefore reads again from Lookback before the newest change it
// has seen, and skips what it already sent. A change committed more than
// Lookback after its stamp, or stamped by a clock that far behind, is seen
// only with its task's next change.
type Poller struct {
	lister   ChangeLister
	Interval time.Duration // default 500 ms, also for zero or less
	Lookback time.Duration // default 5 s
	Batch    int           // rows per read, default 500, also for zero or less
}

// NewPoller returns a Poller over a model's driver (a generated SQLite or
// MySQL driver is a ChangeLister). Listen starts it.
func NewPoller(lister ChangeLister) *Poller {
	return &Poller{lister: lister, Interval: defaultPollInterval, Lookback: 5 * time.Second, Batch: defaultPollBatch}
}

// The Poller's defaults, also for an Interval or Batch of zero or less.
const (
	defaultPollInterval = 500 * time.Millisecond
	defaultPollBatch    = 500
)

var _ ChangeSource = (*Poller)(nil)

type seenKey struct {
	id      uuid.UUID
	version int64
}

// Listen polls until ctx ends and returns its error. It starts from now
// minus Lookback: changes older than that are not sent.
func (p *Poller) Listen(ctx context.Context, fn func(Notice)) error {
	newest := time.Now().UTC()
	seen := map[seenKey]time.Time{} // what was sent, by its updated_at
	interval, batch := p.Interval, p.Batch
	if interval <= 0 {
		interval = defaultPollInterval
	}
	if batch <= 0 {
		batch = defaultPollBatch
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		since, after := newest.Add(-p.Lookback), uuid.Nil
		for {
			rows, err := p.lister.ChangedSince(ctx, since, after, batch)
			if err != nil {
				break // retried at the next tick
			}
			for _, r := range rows {
				since, after = r.At, r.ID
				if r.At.After(newest) {
					newest = r.At
				}
				k := seenKey{r.ID, r.Version}
				if _, ok := seen[k]; ok {
					continue
				}
				seen[k] = r.At
				fn(r)
			}
			if len(rows) < batch {
				break
			}
		}
		horizon := newest.Add(-p.Lookback)
		for k, at := range seen {
			if at.Before(horizon) {
				delete(seen, k)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
