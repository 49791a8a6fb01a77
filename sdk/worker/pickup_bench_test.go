package worker_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
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
			runBenchPool(b, ea, func(_ context.Context, x *training.Training, _ *worker.Progress[training.Training]) error {
				started <- x.ID
				return nil
			}, worker.Config{})
			lat := make([]time.Duration, 0, b.N)
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
			reportLatency(b, lat, 0.5, 0.99)
		})
	}
}

// runBenchPool runs a pool of eng's with handler and cfg (its logger quiet)
// until the benchmark ends, and waits for its wake-up listener to connect.
func runBenchPool(b *testing.B, eng *trainingEngine, handler worker.Handler[training.Training], cfg worker.Config) {
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := worker.New(eng, handler, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	time.Sleep(100 * time.Millisecond) // the listener connects
}

// reportLatency reports the percentiles qs of lat in milliseconds
// ("p50-ms", "p99.9-ms"), in place of ns/op.
func reportLatency(b *testing.B, lat []time.Duration, qs ...float64) {
	slices.Sort(lat)
	for _, q := range qs {
		v := lat[min(len(lat)-1, int(q*float64(len(lat))))]
		b.ReportMetric(float64(v.Microseconds())/1000, "p"+strconv.FormatFloat(100*q, 'f', -1, 64)+"-ms")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkPickupUnderLoad measures how long a task waits for its handler
// while the pool is busy, when the tasks come from another process (an API
// server's concurrent requests, say): 8 producers over a second driver of
// the same database each create one task at a time, b.N in all, and a pool
// of concurrency 128 at its defaults runs them. Concurrent creates commit
// in an order of their own, so some tasks land behind the position the
// pool's claims have reached (see claimAfter). It reports the median, 99th
// and 99.9th percentile of the time from the task's creation time to its
// handler's start.
//
//	go test ./sdk/worker -run '^$' -bench PickupUnderLoad -benchtime 20000x
func BenchmarkPickupUnderLoad(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres", "mysql"} {
		b.Run(kind, func(b *testing.B) {
			ea, ec, _ := twoProcesses(b, kind)
			var mu sync.Mutex
			lat := make([]time.Duration, 0, b.N)
			all := make(chan struct{})
			runBenchPool(b, ea, func(_ context.Context, x *training.Training, _ *worker.Progress[training.Training]) error {
				d := time.Since(x.CreatedAt)
				mu.Lock()
				if lat = append(lat, d); len(lat) == b.N {
					close(all)
				}
				mu.Unlock()
				return nil
			}, worker.Config{Concurrency: 128})
			b.ResetTimer()
			var next atomic.Int64
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := ec.Create(context.Background(), training.NewTraining(), engine.Meta{Actor: "bench"}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if b.Failed() {
				return // a create failed: not every task will run
			}
			<-all
			b.StopTimer()
			reportLatency(b, lat, 0.5, 0.99, 0.999)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
		})
	}
}
