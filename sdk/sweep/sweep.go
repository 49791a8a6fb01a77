// Package sweep applies a model's timeouts and retention: the cleanup job
// every task system writes by hand (a cleanup_expired_tasks cron),
// driven by the spec instead.
//
// A Sweeper finds the tasks whose status timed out (Driver.Due), fires the
// event the spec names for that timeout with the fields it requires filled in
// (analysis: PROCESSING after 30 minutes → FAILED with TIMEOUT_ERROR), calls
// a hook for each move (delete an expired task's uploads, say), and deletes
// finished tasks older than the retention. With Leases, only one process
// sweeps at a time. The clock is injectable, so tests never sleep.
//
// New does not fail: a nil store or a Config it refuses (a negative
// BatchSize or LeaseTTL, LeaseName or LeaseTTL without Leases) makes every
// Sweep, and Run at once, return the error naming the field ("sweep:
// BatchSize: must not be negative (0 is the default, 100)"); Err returns it
// beforehand.
//
// # Shutting down
//
// Run sweeps until its context ends, then gives its lease up and returns
// nil. Shut down in that order: end the context, wait for Run, then close
// the database. A database closed under a running sweeper (a sweep failing
// with an error that is tasktype.ErrClosed) ends Run too: it reports that
// error once through its error callback and returns it, rather than failing
// again at every interval.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Model is what a Sweeper needs of a generated model struct *T.
type Model[T any, E ~string] interface {
	backends.Model[T, E]
	// PrepareTimeout returns the event the task's timed-out status fires and
	// fills the fields it requires.
	PrepareTimeout() (E, bool)
}

// Config tunes a Sweeper. The zero value sweeps 100 tasks at a time, keeps
// finished tasks forever and does not coordinate with other processes.
// Negative counts and durations are refused, except Retention's.
type Config[T any] struct {
	// BatchSize is how many tasks one query reads (default 100). A sweep
	// goes on batch after batch until nothing is left.
	BatchSize int
	// Retention deletes finished tasks whose last change is older; zero
	// (or a negative duration) keeps them.
	Retention time.Duration
	// Leases, when set, make only one process sweep at a time: the one
	// holding the lease LeaseName (default "taskmodel-sweep") for LeaseTTL
	// (default one minute). Others skip their sweep.
	Leases    backends.Leases
	LeaseName string
	LeaseTTL  time.Duration
	// Owner names this sweeper in leases and history rows (default
	// "sweeper:<hostname>:<pid>:<random>").
	Owner string
	// Clock is the sweeper's time (default time.Now); give the Store the
	// same one.
	Clock func() time.Time
	// OnTransition is called after each timeout move with the task before
	// and after it; its errors are reported by Sweep, the move stands.
	OnTransition func(ctx context.Context, before, after *T) error
}

// Result counts what one Sweep did.
type Result struct {
	// Skipped is true when another process holds the lease.
	Skipped bool
	// TimedOut counts the tasks moved by their timeout.
	TimedOut int
	// Raced counts tasks that changed between being found due and being
	// moved (another writer won; nothing to do).
	Raced int
	// Deleted counts finished tasks removed by retention.
	Deleted int
}

// Sweeper applies the timeouts and retention of one model.
type Sweeper[T any, E ~string, PT Model[T, E]] struct {
	store *backends.Store[T, E, PT]
	cfg   Config[T]
	err   error // New's refusal of its arguments; nil when they are good
}

// New returns a Sweeper over store. A nil store or a Config it refuses does
// not make New fail: Err, Sweep and Run return the error, which names the
// field and what is allowed.
func New[T any, E ~string, PT Model[T, E]](store *backends.Store[T, E, PT], cfg Config[T]) *Sweeper[T, E, PT] {
	if err := check(store == nil, cfg); err != nil {
		return &Sweeper[T, E, PT]{err: err}
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 100
	}
	if cfg.LeaseName == "" {
		cfg.LeaseName = "taskmodel-sweep"
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		cfg.Owner = fmt.Sprintf("sweeper:%s:%d:%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	return &Sweeper[T, E, PT]{store: store, cfg: cfg}
}

// check refuses a nil store and the values of cfg New cannot use, all of
// them at once, naming each field.
func check[T any](nilStore bool, cfg Config[T]) error {
	var fields []*tasktype.FieldError
	if nilStore {
		fields = append(fields, &tasktype.FieldError{Field: "store", Rule: "required",
			Message: "is required: pass the engine's Store() (it was nil)"})
	}
	if cfg.BatchSize < 0 {
		fields = append(fields, &tasktype.FieldError{Field: "BatchSize", Rule: "gte", Value: strconv.Itoa(cfg.BatchSize),
			Message: "must not be negative (0 is the default, 100)"})
	}
	if cfg.LeaseTTL < 0 {
		fields = append(fields, &tasktype.FieldError{Field: "LeaseTTL", Rule: "gte", Value: cfg.LeaseTTL.String(),
			Message: "must not be negative (0 is the default, one minute)"})
	}
	if cfg.Leases == nil {
		if cfg.LeaseName != "" {
			fields = append(fields, &tasktype.FieldError{Field: "LeaseName", Rule: "requires", Value: cfg.LeaseName,
				Message: "applies only with Leases: set Leases too, or leave LeaseName empty"})
		}
		if cfg.LeaseTTL > 0 {
			fields = append(fields, &tasktype.FieldError{Field: "LeaseTTL", Rule: "requires", Value: cfg.LeaseTTL.String(),
				Message: "applies only with Leases: set Leases too, or leave LeaseTTL zero"})
		}
	}
	switch len(fields) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("sweep: %w", fields[0])
	}
	return fmt.Errorf("sweep: %w", &tasktype.ValidationError{Fields: fields})
}

// Err returns New's refusal of its arguments (tasktype.ErrValidation),
// which Sweep and Run return too; nil when the Sweeper can sweep.
func (s *Sweeper[T, E, PT]) Err() error { return s.err }

// Sweep runs one pass: timeouts first, then retention. It returns what it
// did and the errors it met (hook errors included); a task that changed
// concurrently is not an error. A database closed under it fails the pass
// with an error that is tasktype.ErrClosed.
func (s *Sweeper[T, E, PT]) Sweep(ctx context.Context) (Result, error) {
	var res Result
	if s.err != nil {
		return res, s.err
	}
	now := s.cfg.Clock()
	if s.cfg.Leases != nil {
		held, err := s.cfg.Leases.Acquire(ctx, s.cfg.LeaseName, s.cfg.Owner, now, s.cfg.LeaseTTL)
		if err != nil {
			return res, fmt.Errorf("sweep: lease: %w", err)
		}
		if !held {
			res.Skipped = true
			return res, nil
		}
	}
	var errs []error
	driver := s.store.Driver()
	// Each batch moves every task it read out of its timed-out status (or
	// finds it moved already), so the next batch reads new ones; the bound
	// stops a pass that cannot make progress.
	for range 1000 {
		due, err := driver.Due(ctx, now, s.cfg.BatchSize)
		if err != nil {
			return res, errors.Join(append(errs, fmt.Errorf("sweep: due: %w", err))...)
		}
		progress := false
		for _, task := range due {
			probe := *task
			ev, ok := PT(&probe).PrepareTimeout()
			if !ok {
				continue
			}
			after, err := s.store.FireFrom(ctx, task, ev, func(x *T) { PT(x).PrepareTimeout() },
				backends.Meta{Actor: s.cfg.Owner, Message: "timeout"})
			switch {
			case err == nil:
				res.TimedOut++
				progress = true
				if s.cfg.OnTransition != nil {
					if herr := s.cfg.OnTransition(ctx, task, after); herr != nil {
						errs = append(errs, fmt.Errorf("sweep: hook for task %s: %w", PT(task).Key().ID, herr))
					}
				}
			case errors.Is(err, tasktype.ErrConflict), errors.Is(err, tasktype.ErrNotFound), errors.Is(err, tasktype.ErrTransitionNotAllowed):
				res.Raced++
				progress = true
			default:
				errs = append(errs, fmt.Errorf("sweep: task %s: %w", PT(task).Key().ID, err))
			}
		}
		if len(due) < s.cfg.BatchSize || !progress {
			break
		}
	}
	if s.cfg.Retention > 0 {
		for range 1000 {
			n, err := driver.DeleteFinished(ctx, now.Add(-s.cfg.Retention), s.cfg.BatchSize)
			res.Deleted += n
			if err != nil {
				errs = append(errs, fmt.Errorf("sweep: retention: %w", err))
				break
			}
			if n < s.cfg.BatchSize {
				break
			}
		}
	}
	return res, errors.Join(errs...)
}

// DefaultEvery is how often Run sweeps when given no positive interval.
const DefaultEvery = 15 * time.Second

// Run sweeps every interval (DefaultEvery when every is zero or negative)
// until ctx ends, reporting each pass's error to onError (which may be nil),
// then releases its lease and returns nil. It returns early, after reporting
// the error once to onError, when the Sweeper cannot sweep: New refused its
// arguments (see Err), or a pass failed because the database was closed
// (an error that is tasktype.ErrClosed).
func (s *Sweeper[T, E, PT]) Run(ctx context.Context, every time.Duration, onError func(error)) error {
	if s.err != nil {
		if onError != nil {
			onError(s.err)
		}
		return s.err
	}
	if every <= 0 {
		every = DefaultEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		_, err := s.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			if onError != nil {
				onError(err)
			}
			if errors.Is(err, tasktype.ErrClosed) {
				return err // nothing to release: the lease is in the closed database
			}
		}
		select {
		case <-ctx.Done():
			if s.cfg.Leases != nil {
				_ = s.cfg.Leases.Release(context.WithoutCancel(ctx), s.cfg.LeaseName, s.cfg.Owner)
			}
			return nil
		case <-t.C:
		}
	}
}
