package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/sdk/internal/sdktest"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/tasktype"
)

// errorLines counts the log records at level error.
type errorLines struct{ n atomic.Int32 }

func (h *errorLines) Enabled(context.Context, slog.Level) bool { return true }
func (h *errorLines) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.n.Add(1)
	}
	return nil
}
func (h *errorLines) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorLines) WithGroup(string) slog.Handler      { return h }

// TestRunEndsWhenTheDatabaseCloses: a program that closes its database
// while a pool runs (the wrong shutdown order) gets an error from Run,
// which returns, rather than a Run that logs a failed claim at every poll
// and never ends; the running handler's context ends, its cause saying why.
func TestRunEndsWhenTheDatabaseCloses(t *testing.T) {
	for _, b := range sdktest.All {
		t.Run(b.Name, func(t *testing.T) {
			d, closeDB := b.OpenClosable(t)
			if closeDB == nil {
				t.Skip("memory has no database to close")
			}
			e := newEngine(d, backendtest.NewClock())
			running := make(chan struct{})
			var cause atomic.Value
			logs := &errorLines{}
			p := newPool(t, e, func(ctx context.Context, _ *analysis.Task, _ *worker.Progress[analysis.Task]) error {
				close(running)
				<-ctx.Done()
				cause.Store(context.Cause(ctx))
				return ctx.Err()
			}, worker.Config{Logger: slog.New(logs)})
			queued(t, e, 1)
			ran := make(chan error, 1)
			go func() { ran <- p.Run(ctx) }() // a context that never ends
			<-running
			closeDB()
			select {
			case err := <-ran:
				if !errors.Is(err, tasktype.ErrClosed) {
					t.Fatalf("Run returned %v; want an error that is tasktype.ErrClosed", err)
				}
			case <-time.After(20 * time.Second): // a hang, not a speed goal
				t.Fatal("Run did not return after its database was closed")
			}
			if c, _ := cause.Load().(error); !errors.Is(c, tasktype.ErrClosed) {
				t.Errorf("the handler's context ended with cause %v; want tasktype.ErrClosed", c)
			}
			if n := logs.n.Load(); n > 3 {
				t.Errorf("%d error lines logged; want Run's error, not a line per poll", n)
			}
		})
	}
}
