package server

import (
	"context"
	"log/slog"
	"time"
)

// rescueLoop rescues, for every model with a worker section, the tasks
// whose worker's lease expired, as a Go worker pool does (worker.Leases's
// Rescue): requeued while attempts remain, else failed. It runs whether or
// not a pool of this process works on the model, so that tasks of workers
// over HTTP are rescued too; a pool's own rescue and this one race safely
// (every move is guarded by the task's version). Each model is looked at
// every Config.RescueEvery.
func (s *Server) rescueLoop(ctx context.Context) {
	var ops []workOps
	every := time.Duration(0)
	for _, b := range s.models.order {
		if o := workOpsOf(b); o != nil {
			ops = append(ops, o)
			if l := o.spec().Lease; every == 0 || l < every {
				every = l
			}
		}
	}
	if len(ops) == 0 {
		return
	}
	if s.cfg.RescueEvery > 0 {
		every = s.cfg.RescueEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, o := range ops {
			r, err := o.rescue(ctx, s.owner)
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.ErrorContext(ctx, "rescue failed", slog.String("model", o.name()), slog.Any("error", err))
			case r.Requeued+r.Failed > 0:
				s.log.InfoContext(ctx, "rescued tasks of lost workers", slog.String("model", o.name()), slog.Int("requeued", r.Requeued), slog.Int("failed", r.Failed))
			}
		}
	}
}
