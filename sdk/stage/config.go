package stage

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	stagemodel "github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Config sets how a Runner retries, waits and timestamps. The zero value
// runs every stage once (policy NONE) and reads the real clock.
type Config struct {
	// Policy is the retry policy; "" means RetryPolicyNone.
	Policy RetryPolicy
	// MaxAttempts bounds the attempts the policy allows. NONE: 0 or 1
	// (each stage runs once). STAGE: at least 1, the attempts of each stage.
	// GLOBAL: at least the number of stages, the attempts of the whole task,
	// successful ones included.
	MaxAttempts int
	// Backoff says how long to wait before a retry; nil is DefaultBackoff.
	Backoff Backoff
	// Sleep waits d or until ctx ends, returning ctx's error then; nil waits
	// on a timer. Tests inject one that advances a fake clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// Clock stamps the history entries (begin_ts, end_ts, run_time_seconds);
	// nil is time.Now. Give it the Store's clock (backends.WithClock): an
	// attempt begins at the row's started_at, which the Store stamps.
	Clock func() time.Time
	// Actor names the runner in the store's history rows; "" is "stage-runner".
	Actor string
	// CancelCheck is how often the runner reads the row of the stage it is
	// running (or waiting to retry) to see a cancel made by another process;
	// 0 is DefaultCancelCheck. The stage's context is cancelled (cause
	// ErrCanceled) within about this long of the cancel.
	CancelCheck time.Duration
}

// DefaultCancelCheck is the CancelCheck of a Config that sets none.
const DefaultCancelCheck = 250 * time.Millisecond

// Backoff gives the wait before a retry of a stage.
type Backoff interface {
	// Delay returns the wait before the stage's next attempt, after retry
	// failed attempts of that stage (1 before the first retry).
	Delay(retry int) time.Duration
}

// DefaultBackoff is the Backoff of a Config that sets none: 1s, 2s, 4s, …
// capped at one minute.
var DefaultBackoff = Exponential{Initial: time.Second, Max: time.Minute, Multiplier: 2}

// Exponential waits Initial before the first retry, then Multiplier times
// longer before each following one, never more than Max.
type Exponential struct {
	Initial time.Duration // > 0
	Max     time.Duration // ≥ Initial
	// Multiplier is the growth factor, at least 1; 0 means 2.
	Multiplier float64
}

// Delay implements Backoff: Initial × Multiplier^(retry−1), capped at Max.
// A retry below 1 counts as 1.
func (e Exponential) Delay(retry int) time.Duration {
	m := e.Multiplier
	if m == 0 {
		m = 2
	}
	d := float64(e.Initial) * math.Pow(m, float64(max(retry, 1)-1))
	if d >= float64(e.Max) || math.IsNaN(d) {
		return e.Max
	}
	return time.Duration(d)
}

func (e Exponential) check() []*tasktype.FieldError {
	var errs []*tasktype.FieldError
	if e.Initial <= 0 {
		errs = append(errs, &tasktype.FieldError{Field: "backoff.initial", Rule: "gt", Value: e.Initial.String(),
			Message: fmt.Sprintf("must be > 0 (got %s)", e.Initial)})
	}
	if e.Max < e.Initial {
		errs = append(errs, &tasktype.FieldError{Field: "backoff.max", Rule: "ge", Value: e.Max.String(),
			Message: fmt.Sprintf("must be ≥ backoff.initial %s (got %s)", e.Initial, e.Max)})
	}
	if m := e.Multiplier; m != 0 && !(m >= 1 && !math.IsInf(m, 1)) {
		errs = append(errs, &tasktype.FieldError{Field: "backoff.multiplier", Rule: "ge", Value: fmt.Sprint(m),
			Message: fmt.Sprintf("must be a finite number ≥ 1, or 0 for 2 (got %v)", m)})
	}
	return errs
}

// Constant waits the same duration before every retry; 0 retries at once.
type Constant time.Duration

// Delay implements Backoff.
func (c Constant) Delay(int) time.Duration { return time.Duration(c) }

func (c Constant) check() []*tasktype.FieldError {
	if c < 0 {
		return []*tasktype.FieldError{{Field: "backoff", Rule: "ge", Value: time.Duration(c).String(),
			Message: fmt.Sprintf("must be ≥ 0 (got %s)", time.Duration(c))}}
	}
	return nil
}

// checker is implemented by the package's own Backoffs, whose settings
// NewRunner checks.
type checker interface{ check() []*tasktype.FieldError }

// validate returns what is wrong with c for a task of n stages.
func (c Config) validate(n int) []*tasktype.FieldError {
	var errs []*tasktype.FieldError
	max := fmt.Sprint(c.MaxAttempts)
	switch c.Policy {
	case "", RetryPolicyNone:
		if c.MaxAttempts != 0 && c.MaxAttempts != 1 {
			errs = append(errs, &tasktype.FieldError{Field: "max_attempts", Rule: "range", Value: max,
				Message: fmt.Sprintf("must be 0 or 1 with policy NONE, which runs each stage once (got %d)", c.MaxAttempts)})
		}
	case RetryPolicyStage:
		if c.MaxAttempts < 1 {
			errs = append(errs, &tasktype.FieldError{Field: "max_attempts", Rule: "ge", Value: max,
				Message: fmt.Sprintf("must be ≥ 1 with policy STAGE, the attempts of each stage (got %d)", c.MaxAttempts)})
		}
	case RetryPolicyGlobal:
		if c.MaxAttempts < n {
			errs = append(errs, &tasktype.FieldError{Field: "max_attempts", Rule: "ge", Value: max,
				Message: fmt.Sprintf("must be ≥ %d with policy GLOBAL: every stage execution consumes an attempt, so each of the %d stages needs one (got %d)", n, n, c.MaxAttempts)})
		}
	default:
		allowed := make([]string, 0, 3)
		for _, p := range stagemodel.RetryPolicyValues() {
			allowed = append(allowed, string(p))
		}
		errs = append(errs, &tasktype.FieldError{Field: "policy", Rule: "one_of", Value: string(c.Policy),
			Message: fmt.Sprintf("unknown retry policy %q; allowed: %s (or empty for NONE)", c.Policy, strings.Join(allowed, ", "))})
	}
	if b, ok := c.Backoff.(checker); ok {
		errs = append(errs, b.check()...)
	}
	if c.CancelCheck < 0 {
		errs = append(errs, &tasktype.FieldError{Field: "cancel_check", Rule: "ge", Value: c.CancelCheck.String(),
			Message: fmt.Sprintf("must be ≥ 0, or 0 for %s (got %s)", DefaultCancelCheck, c.CancelCheck)})
	}
	return errs
}

// withDefaults fills what c leaves unset.
func (c Config) withDefaults() Config {
	if c.Policy == "" {
		c.Policy = RetryPolicyNone
	}
	if c.Backoff == nil {
		c.Backoff = DefaultBackoff
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Actor == "" {
		c.Actor = "stage-runner"
	}
	if c.CancelCheck == 0 {
		c.CancelCheck = DefaultCancelCheck
	}
	return c
}

// sleep waits d on a timer, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
