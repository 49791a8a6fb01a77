package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// sweepLoop applies every model's timeouts and retention every SweepEvery,
// one process at a time (a lease per model). A task that times out while
// its uploads were still pending (the upload → process lifecycle: CREATED or UPLOADING →
// EXPIRED) loses its files at once: "Expired task files: Delete
// immediately".
func (s *Server) sweepLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.SweepEvery)
	defer tick.Stop()
	for {
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweep failed", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sweep runs one pass of the sweeper over every model: Run calls it every
// SweepEvery; tests call it after moving their clock.
func (s *Server) Sweep(ctx context.Context) error {
	s.sweepOnce.Do(func() {
		leases := s.models.backend.Leases()
		for _, b := range s.models.order {
			// The history and the dashboard's timeline name the sweeper as
			// such: "sweeper:HOST:PID:…" rather than the server's own name.
			owner := "sweeper:" + strings.TrimPrefix(s.owner, "serve:")
			run := b.sweeper(sweepConfig{leases: leases, retention: s.cfg.Retention, owner: owner, onMove: func(ctx context.Context, before, after *view) error {
				return s.afterTimeout(ctx, b, before, after)
			}})
			s.sweeps = append(s.sweeps, func(ctx context.Context) error {
				res, err := run(ctx)
				if res.TimedOut > 0 || res.Deleted > 0 {
					s.log.InfoContext(ctx, "swept", slog.String("task_type", b.name()), slog.Int("timed_out", res.TimedOut), slog.Int("deleted", res.Deleted))
				}
				if err != nil {
					return fmt.Errorf("sweep %s: %w", b.name(), err)
				}
				return nil
			})
		}
	})
	var errs []error
	for _, sw := range s.sweeps {
		errs = append(errs, sw(ctx))
	}
	return errors.Join(errs...)
}

func (s *Server) afterTimeout(ctx context.Context, b binding, before, after *view) error {
	up := b.api().Uploads
	if up == nil || s.cfg.Blobs == nil || !after.finished {
		return nil
	}
	if !b.canFire(before, up.Request) && !b.canFire(before, up.Verify) {
		return nil // the uploads were done: files follow the retention
	}
	_, err := s.cfg.Blobs.DeletePrefix(ctx, TaskPrefix(before.owner, before.key.ID))
	return err
}
