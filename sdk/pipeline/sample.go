package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shirou/gopsutil/v4/process"
)

// Usage is what a Probe reads of a process tree at one instant.
type Usage struct {
	// MemoryMB is the resident memory of the process and its descendants,
	// in MB (2^20 bytes).
	MemoryMB float64
	// CPUSeconds is the CPU time (user + system) they have used so far.
	CPUSeconds float64
}

// Probe reads the resource use of a process and its descendants.
type Probe interface {
	// Usage reads it; an error matching ErrProcessGone when the process
	// has exited.
	Usage(ctx context.Context, pid int) (Usage, error)
}

// ErrProcessGone: the sampled process has exited.
var ErrProcessGone = errors.New("process has exited")

// ProcessProbe reads real processes through gopsutil (Linux, macOS,
// Windows). A script's work usually happens in the programs it starts, so
// the whole tree is counted.
type ProcessProbe struct{}

// Usage implements Probe.
func (ProcessProbe) Usage(ctx context.Context, pid int) (Usage, error) {
	root, err := process.NewProcessWithContext(ctx, int32(pid))
	if err != nil {
		return Usage{}, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	}
	var u Usage
	seen := map[int32]bool{}
	var walk func(p *process.Process, isRoot bool) error
	walk = func(p *process.Process, isRoot bool) error {
		if seen[p.Pid] {
			return nil
		}
		seen[p.Pid] = true
		mem, err := p.MemoryInfoWithContext(ctx)
		if err != nil {
			if isRoot {
				return fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
			}
			return nil // a child that exited meanwhile
		}
		u.MemoryMB += float64(mem.RSS) / (1 << 20)
		if t, err := p.TimesWithContext(ctx); err == nil {
			u.CPUSeconds += t.User + t.System
		}
		children, _ := p.ChildrenWithContext(ctx) // none is not an error
		for _, c := range children {
			if err := walk(c, false); err != nil {
				return err
			}
		}
		return nil
	}
	return u, walk(root, true)
}

// Sampler records the memory and CPU use of a run's process in the run
// (memory_mb, cpu_percent) each time Sample is called: CPU percent is the
// CPU time used since the previous sample over the wall time between them
// (more than 100 on several cores), so the first sample records memory
// only.
type Sampler struct {
	tr     *Tracker
	run    uuid.UUID
	pid    int
	probe  Probe
	last   Usage
	lastAt time.Time
	primed bool
}

// NewSampler returns a Sampler of process pid for a run; a nil probe means
// ProcessProbe.
func (t *Tracker) NewSampler(run uuid.UUID, pid int, probe Probe) *Sampler {
	if probe == nil {
		probe = ProcessProbe{}
	}
	return &Sampler{tr: t, run: run, pid: pid, probe: probe}
}

// Sample takes one sample and stores it with the run. done is true, and
// nothing is written, once the run has finished or the process has exited:
// sampling is over.
func (s *Sampler) Sample(ctx context.Context) (done bool, err error) {
	u, err := s.probe.Usage(ctx, s.pid)
	if errors.Is(err, ErrProcessGone) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	at := s.tr.clock()
	var cpu *float64
	if s.primed {
		if wall := at.Sub(s.lastAt).Seconds(); wall > 0 {
			c := max(0, (u.CPUSeconds-s.last.CPUSeconds)/wall*100)
			cpu = &c
		}
	}
	s.last, s.lastAt, s.primed = u, at, true
	_, err = retry(ctx, func() (*Run, error) {
		cur, err := s.tr.getRun(ctx, s.run)
		if err != nil {
			return nil, err
		}
		if cur.Status.IsTerminal() {
			done = true
			return cur, nil
		}
		return s.tr.runs.Update(ctx, cur, func(r *Run) {
			r.MemoryMB = &u.MemoryMB
			if cpu != nil {
				r.CPUPercent = cpu
			}
		})
	})
	return done, err
}

// Run samples at every tick until the run finishes, the process exits or
// ctx ends; each sample is also logged at debug level.
func (s *Sampler) Run(ctx context.Context, ticks <-chan time.Time) error {
	for {
		done, err := s.Sample(ctx)
		if err != nil || done {
			return err
		}
		s.tr.log.DebugContext(ctx, fmt.Sprintf("[TASK SAMPLE] %s - %.1f MB", s.run, s.last.MemoryMB), "run_id", s.run)
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
		}
	}
}
