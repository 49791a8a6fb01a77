package worker_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

// BenchmarkPickup measures how soon an idle pool at default settings runs a
// task created by another process: a second driver over the same database
// (its own connection pool, as another process has) creates one task at a
// time, and the time from Create's return to the handler's start is
// recorded. The pool waits idle between tasks (50 ms, more than the 10 ms
// after which it arms its wake-up), as on a quiet queue. It reports the median and the 99th
// percentile.
//
//	go test ./sdk/worker -run '^$' -bench Pickup -benchtime 200x
func BenchmarkPickup(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			ea, ec, _ := twoProcesses(b, kind)
			started := make(chan uuid.UUID, 1)
			p, err := worker.New(ea, func(_ context.Context, x *training.Training, _ *worker.Progress[training.Training]) error {
				started <- x.ID
				return nil
			}, worker.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = p.Run(ctx) }()
			defer func() { cancel(); <-done }()
			lat := make([]time.Duration, 0, b.N)
			time.Sleep(100 * time.Millisecond) // the listener connects
			b.ResetTimer()
			for range b.N {
				time.Sleep(50 * time.Millisecond)
				x, err := ec.Create(context.Background(), training.NewTraining(), engine.Meta{Actor: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				at := time.Now()
				for id := range started {
					if id == x.ID {
						break
					}
				}
				lat = append(lat, time.Since(at))
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(q float64) float64 {
				return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.5), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
