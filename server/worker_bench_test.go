package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/sdk/workerhttp"
	"github.com/taskmodel/taskmodel/server"
)

// BenchmarkWorkerProtocol measures tasks per second through the HTTP worker
// protocol — a no-op Go worker (sdk/workerhttp) with batch slots, which
// claims up to batch tasks at a time and completes each on a slot, and a
// no-op Python worker (clients/python's Worker, run with
// concurrency=batch, in /usr/bin/python3) — against an in-process
// worker.Pool of batch handlers on the same database. The b.N training
// tasks are created before the clock starts; the Python interpreter's
// start (about 50 ms) is inside it.
//
//	go test ./server -run '^$' -bench WorkerProtocol -benchtime 5000x
func BenchmarkWorkerProtocol(b *testing.B) {
	for _, bk := range []string{"sqlite", "postgres"} {
		for _, batch := range []int{10, 100} {
			b.Run(fmt.Sprintf("%s/http/batch=%d", bk, batch), func(b *testing.B) { benchWork(b, bk, batch, "http") })
			b.Run(fmt.Sprintf("%s/python/batch=%d", bk, batch), func(b *testing.B) { benchWork(b, bk, batch, "python") })
			b.Run(fmt.Sprintf("%s/pool/batch=%d", bk, batch), func(b *testing.B) { benchWork(b, bk, batch, "pool") })
		}
	}
}

// python is the interpreter of the Python worker.
const python = "/usr/bin/python3"

// pythonNoopWorker is the no-op Python worker of BenchmarkWorkerProtocol:
// argv URL, worker token, concurrency, tasks to run.
const pythonNoopWorker = `import sys
from taskmodel import Worker
url, token, batch, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
w = Worker(url, token, models=["training"], name="bench-python", wait_seconds=1)
@w.handler("training")
def noop(task):
    return None
ran = w.run(concurrency=batch, max_tasks=n, handle_signals=False)
if ran != n:
    sys.exit("ran %d of %d tasks" % (ran, n))
`

func benchWork(b *testing.B, backend string, batch int, mode string) {
	e := newEnv(b, backend, envOptions{})
	w := e.workerToken("bench", "training")
	eng, err := server.Engine[training.Training, training.Event](e.models, training.ModelName)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for left := b.N; left > 0; left -= 1000 {
		xs := make([]*training.Training, min(left, 1000))
		for i := range xs {
			xs[i] = training.NewTraining()
		}
		if _, err := eng.CreateMany(ctx, xs, engine.Meta{Actor: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	n := int64(b.N)
	b.ResetTimer()
	start := time.Now()
	switch mode {
	case "python":
		if _, err := os.Stat(python); err != nil {
			b.Skipf("%s: %v", python, err)
		}
		cmd := exec.CommandContext(ctx, python, "-c", pythonNoopWorker, e.url, e.tokens[w], strconv.Itoa(batch), strconv.FormatInt(n, 10))
		cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join("..", "clients", "python"), "PYTHONDONTWRITEBYTECODE=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("the Python worker: %v\n%s", err, out)
		}
		for e.unfinished(b) > 0 { // the last end writes
			time.Sleep(5 * time.Millisecond)
		}
	case "http":
		// One worker with batch slots, as taskmodel work runs: it claims
		// as many tasks as slots are free and completes each on a slot of
		// its own, as the pool runs batch handlers at once.
		c, err := workerhttp.New(e.url, e.tokens[w])
		if err != nil {
			b.Fatal(err)
		}
		var done atomic.Int64
		slots := make(chan struct{}, batch)
		var wg sync.WaitGroup
		for done.Load() < n && !b.Failed() {
			slots <- struct{}{}
			free := 1
			for free < batch && len(slots) < cap(slots) {
				slots <- struct{}{}
				free++
			}
			tasks, err := c.Claim(ctx, workerhttp.ClaimRequest{Limit: free, Worker: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			for range free - len(tasks) {
				<-slots
			}
			for _, t := range tasks {
				wg.Go(func() {
					defer func() { <-slots }()
					if _, err := c.Complete(ctx, t.ID, t.Lease, nil); err != nil {
						b.Error(err)
						return
					}
					done.Add(1)
				})
			}
			if len(tasks) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		wg.Wait()
	default:
		var ran atomic.Int64
		p, err := worker.New(eng, func(context.Context, *training.Training, *worker.Progress[training.Training]) error {
			ran.Add(1)
			return nil
		}, worker.Config{Concurrency: batch, PollInterval: 5 * time.Millisecond, NoRescue: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		pctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = p.Run(pctx) })
		for ran.Load() < n {
			time.Sleep(time.Millisecond)
		}
		for e.unfinished(b) > 0 { // the last end writes
			time.Sleep(5 * time.Millisecond)
		}
		stop()
		wg.Wait()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if left := e.unfinished(b); left != 0 {
		b.Fatalf("%d tasks unfinished", left)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "tasks/s")
}

// unfinished counts the queued and running training tasks (admin's
// listing, up to 100).
func (e *env) unfinished(t testing.TB) int {
	r := e.must(200, "GET", "/tasks?task_type=training&status=Q&status=R&limit=100", "admin", "")
	var rows []any
	if err := json.Unmarshal(r.body, &rows); err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

// BenchmarkWorkerPickup measures how long a long-polling HTTP worker takes
// to get a task created in the server's process (woken by the creation,
// not by the poll): one task at a time, from Create's return to the claim's
// answer. It reports the median and the 99th percentile.
//
//	go test ./server -run '^$' -bench WorkerPickup -benchtime 300x
func BenchmarkWorkerPickup(b *testing.B) {
	for _, bk := range []string{"sqlite", "postgres"} {
		b.Run(bk, func(b *testing.B) {
			e := newEnv(b, bk, envOptions{})
			w := e.workerToken("bench", "training")
			eng, err := server.Engine[training.Training, training.Event](e.models, training.ModelName)
			if err != nil {
				b.Fatal(err)
			}
			c, err := workerhttp.New(e.url, e.tokens[w])
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make(chan time.Time)
			var wg sync.WaitGroup
			wg.Go(func() {
				for ctx.Err() == nil {
					tasks, err := c.Claim(ctx, workerhttp.ClaimRequest{WaitSeconds: 30})
					if err != nil {
						return
					}
					at := time.Now()
					for _, t := range tasks {
						if _, err := c.Complete(ctx, t.ID, t.Lease, nil); err != nil {
							return
						}
						select {
						case got <- at:
						case <-ctx.Done():
							return
						}
					}
				}
			})
			time.Sleep(100 * time.Millisecond) // the worker is waiting
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				if _, err := eng.Create(ctx, training.NewTraining(), engine.Meta{Actor: "bench"}); err != nil {
					b.Fatal(err)
				}
				created := time.Now()
				lat = append(lat, (<-got).Sub(created))
			}
			b.StopTimer()
			cancel()
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
		})
	}
}
