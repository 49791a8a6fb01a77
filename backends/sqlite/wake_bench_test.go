package sqlite_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/sqlite"
)

// BenchmarkWakeIdleCPU measures what an armed sqlite.Wake costs while
// nothing happens: a pool waits on a file no one writes to, and the
// process's CPU time over each second of waiting (b.N seconds) is
// reported as a share of one core.
//
//	go test ./backends/sqlite -run '^$' -bench WakeIdleCPU -benchtime 5x
func BenchmarkWakeIdleCPU(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "tasks.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	idle := make(chan struct{}, 1)
	idle <- struct{}{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sqlite.Wake(ctx, db, func(context.Context, time.Time) (bool, error) { return false, nil }, idle, func() {})
	}()
	time.Sleep(100 * time.Millisecond) // armed
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	start, at := cpu(), time.Now()
	for range b.N {
		time.Sleep(time.Second)
	}
	used, wall := cpu()-start, time.Since(at)
	b.StopTimer()
	b.ReportMetric(100*used.Seconds()/wall.Seconds(), "cpu-%")
	cancel()
	<-done
}
