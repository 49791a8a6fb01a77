package worker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/internal/sdktest"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

// BenchmarkEndToEnd measures whole task lives per second: create (QUEUED,
// the training model's initial status) → reserve and claim → a
// no-op handler → DONE, every step with its history row. b.N tasks are
// created by 8 producers (TASKMODEL_BENCH_PRODUCERS), each waiting for its
// create, while one pool runs them. Besides tasks/s, each result reports
// the CPU time per task of this process (client) and of the rest of the
// machine (server), and the machine's idle share. The pool listens for tasks
// queued by other processes (backends.Waker) unless TASKMODEL_BENCH_NOWAKE
// is set.
//
//	go test ./sdk/worker -run '^$' -bench EndToEnd/postgres -benchtime 20000x
func BenchmarkEndToEnd(b *testing.B) {
	for _, bk := range sdktest.TrainingBackends {
		for _, conc := range []int{32, 128, 1000} {
			b.Run(fmt.Sprintf("%s/concurrency=%d", bk.Name, conc), func(b *testing.B) {
				endToEnd(b, bk.Open(b), conc, false, 1)
			})
		}
	}
}

// BenchmarkEndToEndBulk is BenchmarkEndToEnd with producers that create
// 100 tasks at a time (Engine.CreateMany: one statement and one commit on
// PostgreSQL), as a service that receives work in batches would, and as
// queues' insert-many benchmarks do.
//
//	go test ./sdk/worker -run '^$' -bench EndToEndBulk/postgres -benchtime 50000x
func BenchmarkEndToEndBulk(b *testing.B) {
	for _, bk := range sdktest.TrainingBackends {
		for _, conc := range []int{128, 1000} {
			b.Run(fmt.Sprintf("%s/concurrency=%d", bk.Name, conc), func(b *testing.B) {
				endToEnd(b, bk.Open(b), conc, false, 100)
			})
		}
	}
}

// BenchmarkWorkQueued measures the pool alone: b.N tasks are created (QUEUED,
// with their history rows, 1000 at a time) before the clock starts, then one pool reserves
// and claims them, runs a no-op handler and completes each (DONE, history
// rows included). Queues are usually measured this way: work through a
// backlog inserted beforehand. Concurrencies 2000 and 4000 are there because
// the pool's throughput still grows past 1000 on two cores. The comparison
// with River is bench/'s (make bench-compare).
//
//	go test ./sdk/worker -run '^$' -bench WorkQueued/postgres -benchtime 20000x
func BenchmarkWorkQueued(b *testing.B) {
	for _, bk := range sdktest.TrainingBackends {
		for _, conc := range []int{32, 128, 1000, 2000, 4000} {
			b.Run(fmt.Sprintf("%s/concurrency=%d", bk.Name, conc), func(b *testing.B) {
				endToEnd(b, bk.Open(b), conc, true, 1000)
			})
		}
	}
}

// endToEnd creates b.N tasks with producers() producers, batch at a time, while one pool of conc
// handlers runs them, or before the pool starts when queued is set, and
// waits for the last one to be DONE.
func endToEnd(b *testing.B, wd backends.WorkDriver[training.Training], conc int, queued bool, batch int) {
	n := int64(b.N)
	all := make(chan struct{})
	d := &countDone{WorkDriver: wd, n: n, all: all}
	var driver backends.Driver[training.Training] = d
	if c, ok := d.WorkDriver.(backends.Claimer[training.Training]); ok {
		driver = countDoneClaimer{d, c} // keeps the driver's claim in SQL
	}
	e := engine.New[training.Training, training.Event](driver, engine.WithWorker(training.Worker))
	p, err := worker.New(e, func(context.Context, *training.Training, *worker.Progress[training.Training]) error {
		return nil
	}, worker.Config{Concurrency: conc, PollInterval: 5 * time.Millisecond, NoRescue: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		NoWake: os.Getenv("TASKMODEL_BENCH_NOWAKE") != ""})
	if err != nil {
		b.Fatal(err)
	}
	produce := func() {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range producers() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					// Take the next batch: tasks [first, first+k) of n.
					first := next.Add(int64(batch)) - int64(batch)
					if first >= n {
						return
					}
					k := min(int64(batch), n-first)
					var err error
					if batch == 1 {
						_, err = e.Create(context.Background(), training.NewTraining(), engine.Meta{Actor: "bench"})
					} else {
						xs := make([]*training.Training, k)
						for i := range xs {
							xs[i] = training.NewTraining()
						}
						_, err = e.CreateMany(context.Background(), xs, engine.Meta{Actor: "bench"})
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	if queued {
		produce()
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	b.ResetTimer()
	cpu := sdktest.StartCPUMeter()
	go func() { defer close(stopped); _ = p.Run(ctx) }()
	if !queued {
		produce()
	}
	<-all
	b.StopTimer()
	cpu.Report(b, b.N, "task")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
	cancel()
	<-stopped
}

// producers is how many goroutines create tasks: 8, or
// TASKMODEL_BENCH_PRODUCERS. Each creates one task at a time and waits for
// it, so creation runs at most producers / (a create's latency) per second.
func producers() int {
	if n, err := strconv.Atoi(os.Getenv("TASKMODEL_BENCH_PRODUCERS")); err == nil && n > 0 {
		return n
	}
	return 8
}

// countDone is a driver that closes all when the n-th task reaches DONE.
type countDone struct {
	backends.WorkDriver[training.Training]
	n, done int64
	mu      sync.Mutex
	all     chan struct{}
}

func (d *countDone) Transition(ctx context.Context, from backends.Key, next *training.Training, h backends.History) (bool, error) {
	ok, err := d.WorkDriver.Transition(ctx, from, next, h)
	if ok && next.Status == training.StatusDone {
		d.mu.Lock()
		if d.done++; d.done == d.n {
			close(d.all)
		}
		d.mu.Unlock()
	}
	return ok, err
}

// InsertMany keeps the driver's bulk create (all drivers here have one).
func (d *countDone) InsertMany(ctx context.Context, tasks []*training.Training, hs []backends.History) error {
	return d.WorkDriver.(backends.BatchInserter[training.Training]).InsertMany(ctx, tasks, hs)
}

// Keys keeps the driver's batched status reads (all drivers here have them).
func (d *countDone) Keys(ctx context.Context, ids []uuid.UUID) ([]backends.Key, error) {
	return d.WorkDriver.(backends.KeyReader).Keys(ctx, ids)
}

// countDoneClaimer is countDone over a driver that claims in SQL.
type countDoneClaimer struct {
	*countDone
	c backends.Claimer[training.Training]
}

func (d countDoneClaimer) Claim(ctx context.Context, owner string, now, expires time.Time, limit int, after backends.QueuePosition) ([]backends.Claim[training.Training], backends.QueuePosition, error) {
	return d.c.Claim(ctx, owner, now, expires, limit, after)
}

// Wake keeps the driver's wake-up by other processes (backends.Waker: the
// generated drivers have one), so that the benchmarks pay for it.
func (d *countDone) Wake(ctx context.Context, idle <-chan struct{}, wake func()) error {
	if w, ok := d.WorkDriver.(backends.Waker); ok {
		return w.Wake(ctx, idle, wake)
	}
	<-ctx.Done()
	return ctx.Err()
}
