package pipeline

import (
	"math"
	"time"

	"github.com/google/uuid"
)

// z is the normal quantile of the estimates' range: 1.96 for 95%.
const z = 1.96

// Estimate is a completion estimate from items per second.
//
// The rate is the items processed so far over the time since the start:
// rate = n / t. Treating items as arrivals of a Poisson process, the rate's
// standard error is √n / t, so its 95% range is (n ± 1.96·√n) / t and the
// remaining time's range is remaining items over those rates. With few items
// the range is wide; while n ≤ 1.96² (about 4 items) its upper end is
// unbounded (HighSeconds nil).
type Estimate struct {
	// Known is false when there is nothing to estimate from: no items_total,
	// no item processed yet, or no time elapsed.
	Known bool `json:"known"`
	// ItemsComplete and ItemsTotal are the counts the estimate is made from.
	ItemsComplete int64 `json:"items_complete"`
	ItemsTotal    int64 `json:"items_total"`
	// Rate is items per second.
	Rate float64 `json:"items_per_second"`
	// RemainingSeconds is the point estimate of the time left.
	RemainingSeconds float64 `json:"remaining_seconds"`
	// LowSeconds and HighSeconds bound it; HighSeconds is nil when
	// unbounded.
	LowSeconds  float64  `json:"remaining_low_seconds"`
	HighSeconds *float64 `json:"remaining_high_seconds"`
	// ETA is when the work should be done: at + RemainingSeconds.
	ETA *time.Time `json:"eta"`
}

// Remaining returns RemainingSeconds as a duration.
func (e Estimate) Remaining() time.Duration { return seconds(e.RemainingSeconds) }

// Range returns the bounds of the remaining time; high is false when the
// upper bound is unbounded.
func (e Estimate) Range() (low, high time.Duration, bounded bool) {
	if e.HighSeconds == nil {
		return seconds(e.LowSeconds), 0, false
	}
	return seconds(e.LowSeconds), seconds(*e.HighSeconds), true
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// EstimateSubtask estimates when a subtask will be done, at time now. A
// finished subtask has nothing remaining.
func EstimateSubtask(s *Subtask, now time.Time) Estimate {
	e := Estimate{ItemsComplete: s.ItemsComplete}
	if s.ItemsTotal != nil {
		e.ItemsTotal = *s.ItemsTotal
	}
	end := now
	if s.EndedAt != nil {
		end = *s.EndedAt
	}
	if s.StartedAt != nil && s.ItemsComplete > 0 {
		if t := end.Sub(*s.StartedAt).Seconds(); t > 0 {
			e.Rate = float64(s.ItemsComplete) / t
		}
	}
	if s.Status.IsTerminal() {
		e.Known = true
		zero := 0.0
		e.HighSeconds = &zero
		e.ETA = &end
		return e
	}
	remaining := e.ItemsTotal - e.ItemsComplete
	if s.ItemsTotal == nil || e.Rate == 0 || remaining < 0 {
		return e
	}
	return rangeOf(e, float64(remaining), float64(s.ItemsComplete), end.Sub(*s.StartedAt).Seconds(), now)
}

func rangeOf(e Estimate, remaining, n, t float64, now time.Time) Estimate {
	e.Known = true
	e.RemainingSeconds = remaining / e.Rate
	spread := z * math.Sqrt(n)
	e.LowSeconds = remaining * t / (n + spread)
	if n > spread {
		high := remaining * t / (n - spread)
		e.HighSeconds = &high
	}
	eta := now.Add(seconds(e.RemainingSeconds))
	e.ETA = &eta
	return e
}

// SubtaskEstimate is the estimate of one subtask of a run.
type SubtaskEstimate struct {
	Number int64  `json:"subtask_number"`
	Name   string `json:"name"`
	Status string `json:"status"`
	Estimate
}

// RunEstimate is the completion estimate of a run: of each subtask, and of
// the run as the latest of its unfinished subtasks' estimates (they may run
// in parallel; subtasks not started yet are not counted). It is not Known
// while no unfinished subtask has an estimate, and Known with nothing
// remaining once the run is finished.
type RunEstimate struct {
	RunID uuid.UUID `json:"run_id"`
	Estimate
	Subtasks []SubtaskEstimate `json:"subtasks"`
}

// EstimateRun estimates a run from its subtasks at time now.
func EstimateRun(r *Run, subs []*Subtask, now time.Time) RunEstimate {
	out := RunEstimate{RunID: r.ID, Subtasks: make([]SubtaskEstimate, 0, len(subs))}
	bounded := true
	for _, s := range subs {
		e := EstimateSubtask(s, now)
		out.Subtasks = append(out.Subtasks, SubtaskEstimate{Number: s.SubtaskNumber, Name: s.Name, Status: string(s.Status), Estimate: e})
		out.ItemsComplete += e.ItemsComplete
		out.ItemsTotal += e.ItemsTotal
		if s.Status.IsTerminal() || !e.Known {
			continue
		}
		if !out.Known || e.RemainingSeconds > out.RemainingSeconds {
			out.RemainingSeconds, out.Rate, out.ETA = e.RemainingSeconds, e.Rate, e.ETA
		}
		out.Known = true
		out.LowSeconds = max(out.LowSeconds, e.LowSeconds)
		switch {
		case e.HighSeconds == nil:
			bounded = false
		case out.HighSeconds == nil || *e.HighSeconds > *out.HighSeconds:
			out.HighSeconds = e.HighSeconds
		}
	}
	if !bounded {
		out.HighSeconds = nil
	}
	if r.Status.IsTerminal() {
		end := now
		if r.EndedAt != nil {
			end = *r.EndedAt
		}
		zero := 0.0
		out.Known, out.RemainingSeconds, out.LowSeconds, out.HighSeconds, out.ETA = true, 0, 0, &zero, &end
	}
	return out
}
