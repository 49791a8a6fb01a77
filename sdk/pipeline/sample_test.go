package pipeline_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

// scripted is a Probe that returns usages in turn, then reports the process
// gone.
type scripted struct{ usages []pipeline.Usage }

func (s *scripted) Usage(context.Context, int) (pipeline.Usage, error) {
	if len(s.usages) == 0 {
		return pipeline.Usage{}, pipeline.ErrProcessGone
	}
	u := s.usages[0]
	s.usages = s.usages[1:]
	return u, nil
}

func TestSampler(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		r := e.start(t, "STATIC", "Build Database", 0)
		probe := &scripted{usages: []pipeline.Usage{{MemoryMB: 100, CPUSeconds: 1}, {MemoryMB: 150, CPUSeconds: 4}, {MemoryMB: 120, CPUSeconds: 4.5}}}
		s := e.tr.NewSampler(r.ID, 1234, probe)

		cases := []struct {
			advance time.Duration
			mem     float64
			cpu     *float64
			done    bool
		}{
			{0, 100, nil, false},                      // first sample: memory only
			{2 * time.Second, 150, ptr(150.0), false}, // 3 CPU s in 2 s: 150%
			{time.Second, 120, ptr(50.0), false},
			{time.Second, 120, ptr(50.0), true}, // the process is gone: nothing written
		}
		for i, c := range cases {
			e.clock.Advance(c.advance)
			done, err := s.Sample(e.ctx)
			if err != nil || done != c.done {
				t.Fatalf("sample %d: done %v, %v", i, done, err)
			}
			got := e.run(t, r.ID)
			if got.MemoryMB == nil || *got.MemoryMB != c.mem || (c.cpu == nil) != (got.CPUPercent == nil) || c.cpu != nil && *got.CPUPercent != *c.cpu {
				t.Fatalf("sample %d: memory %v cpu %v", i, got.MemoryMB, got.CPUPercent)
			}
			if got.Status != "STARTED" {
				t.Fatalf("sampling changed the status to %s", got.Status)
			}
		}

		// A finished run stops the sampler without writing.
		r2 := e.start(t, "PREREQ", "Install R", 0)
		if _, err := e.tr.Complete(e.ctx, r2.ID, ""); err != nil {
			t.Fatal(err)
		}
		s2 := e.tr.NewSampler(r2.ID, 1, &scripted{usages: []pipeline.Usage{{MemoryMB: 5}}})
		if done, err := s2.Sample(e.ctx); !done || err != nil {
			t.Fatalf("finished run: done %v, %v", done, err)
		}
		if got := e.run(t, r2.ID); got.MemoryMB != nil {
			t.Fatalf("wrote a sample into a finished run: %v", *got.MemoryMB)
		}

		// Run samples at each tick until the process is gone.
		r3 := e.start(t, "PREREQ", "Install System Dependencies", 0)
		ticks := make(chan time.Time, 3)
		for range 3 {
			ticks <- time.Time{}
		}
		probe3 := &scripted{usages: []pipeline.Usage{{MemoryMB: 1}, {MemoryMB: 2}, {MemoryMB: 3}}}
		if err := e.tr.NewSampler(r3.ID, 1, probe3).Run(e.ctx, ticks); err != nil {
			t.Fatal(err)
		}
		if got := e.run(t, r3.ID); *got.MemoryMB != 3 || len(probe3.usages) != 0 {
			t.Fatalf("Run: memory %v, %d samples left", *got.MemoryMB, len(probe3.usages))
		}
	})
}

func TestProcessProbe(t *testing.T) {
	ctx := context.Background()
	self, err := pipeline.ProcessProbe{}.Usage(ctx, os.Getpid())
	if err != nil || self.MemoryMB <= 1 || self.CPUSeconds <= 0 {
		t.Fatalf("this process: %+v, %v", self, err)
	}
	// A shell with a child: the tree's memory is more than the shell's alone.
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var tree pipeline.Usage
	for range 100 { // until the shell has started its child
		if tree, err = (pipeline.ProcessProbe{}).Usage(ctx, cmd.Process.Pid); err == nil && tree.MemoryMB > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || tree.MemoryMB <= 0 {
		t.Fatalf("shell tree: %+v, %v", tree, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := (pipeline.ProcessProbe{}).Usage(ctx, cmd.Process.Pid); !errors.Is(err, pipeline.ErrProcessGone) {
		t.Fatalf("exited process: %v", err)
	}
}
