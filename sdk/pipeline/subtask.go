package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/tasktype"
)

// SubtaskStart describes a subtask being started.
type SubtaskStart struct {
	// Name is the subtask's name (required), e.g. "Loading data".
	Name string
	// ItemsTotal is the number of items it will process; nil if not known.
	ItemsTotal *int64
	// Message is its first status message.
	Message string
}

// StartSubtask starts subtask number n (1-based) of a run that is STARTED or
// RUNNING, and makes it the run's current subtask (a STARTED run becomes
// RUNNING). n may not pass the run's total_subtasks when that is set, and
// each number starts once per run.
func (t *Tracker) StartSubtask(ctx context.Context, run uuid.UUID, n int64, o SubtaskStart) (*Subtask, error) {
	s, err := t.startSubtask(ctx, run, n, o)
	if err != nil {
		return nil, runError(run, fmt.Sprintf("subtask %d: start", n), err)
	}
	t.log.InfoContext(ctx, fmt.Sprintf("[SUBTASK START] Subtask %d: %s (run_id: %s)", n, o.Name, run), subAttrs(s)...)
	return s, nil
}

func (t *Tracker) startSubtask(ctx context.Context, run uuid.UUID, n int64, o SubtaskStart) (*Subtask, error) {
	if err := validateName("name", o.Name); err != nil {
		return nil, err
	}
	if err := checkMessage("message", o.Message); err != nil {
		return nil, err
	}
	r, err := t.getRun(ctx, run)
	if err != nil {
		return nil, err
	}
	if !r.Status.IsActive() {
		return nil, runFinished(run, r.Status)
	}
	if r.TotalSubtasks != nil && n > *r.TotalSubtasks {
		return nil, fieldError("subtask_number", "le", strconv.FormatInt(n, 10),
			fmt.Sprintf("must be at most %d, the run's total_subtasks", *r.TotalSubtasks))
	}
	s := pipelinesubtask.NewPipelineSubtask()
	s.RunID, s.SubtaskNumber, s.Name, s.ItemsTotal = run, n, o.Name, o.ItemsTotal
	s.Message = optional(o.Message)
	created, err := t.subs.Create(ctx, s, t.meta(o.Message))
	if errors.Is(err, tasktype.ErrDuplicate) {
		return nil, startedAlready(n)
	}
	if err != nil {
		return nil, err
	}
	started, err := t.subEng.FireFrom(ctx, created, pipelinesubtask.EventStart, nil, t.meta(o.Message))
	if err != nil {
		_ = t.subs.Delete(context.WithoutCancel(ctx), created.ID)
		return nil, err
	}
	if _, err := t.progressRun(ctx, run, func(r *Run) { r.CurrentSubtask = &n }); err != nil {
		// The run finished after it was read (a completion that saw no
		// open subtask, say): the subtask may not stay open under it.
		_ = t.subs.Delete(context.WithoutCancel(ctx), created.ID)
		var se *StateError
		if errors.As(err, &se) {
			return nil, runFinished(run, pipelinerun.Status(se.Status))
		}
		var te *pipelinerun.TransitionError
		if errors.As(err, &te) && !te.From.IsActive() {
			return nil, runFinished(run, te.From)
		}
		return nil, err
	}
	return started, nil
}

// startedAlready is StartSubtask's refusal of a number started before. It
// matches tasktype.ErrDuplicate, without that error's wording ("task
// already exists").
type startedAlready int64

func (n startedAlready) Error() string {
	return fmt.Sprintf("subtask %d was started already; each number starts once per run", int64(n))
}

// Is makes errors.Is(err, tasktype.ErrDuplicate) true.
func (startedAlready) Is(target error) bool { return target == tasktype.ErrDuplicate }

// runFinished is StartSubtask's refusal on a run that is no longer active.
func runFinished(run uuid.UUID, status pipelinerun.Status) *StateError {
	return &StateError{What: fmt.Sprintf("run %s", run), Run: run, Status: string(status), Op: "start a subtask",
		Need: "subtasks start while the run is " + joinStatuses(pipelinerun.ActiveStatuses())}
}

// SubtaskUpdate is the progress UpdateSubtask reports; nil fields are left
// as they are.
type SubtaskUpdate struct {
	// Percent is the percent complete, 0 to 100. When it is nil and
	// ItemsComplete is set, the percent follows from items_total.
	Percent *float64
	// ItemsComplete is the number of items processed so far; it may not pass
	// items_total.
	ItemsComplete *int64
	// ItemsTotal changes the number of items to process.
	ItemsTotal *int64
	// Message is the latest status message.
	Message *string
}

// UpdateSubtask reports progress on subtask n of a run (tasker:
// subtask_update(run_id, n, "RUNNING", …)). The first update moves a
// STARTED subtask to RUNNING; a finished one refuses with a *StateError.
func (t *Tracker) UpdateSubtask(ctx context.Context, run uuid.UUID, n int64, u SubtaskUpdate) (*Subtask, error) {
	if err := checkLen("message", u.Message, MaxMessageLen); err != nil {
		return nil, runError(run, fmt.Sprintf("subtask %d: update", n), err)
	}
	s, err := t.progressSubtask(ctx, run, n, func(s *Subtask) error {
		if u.ItemsTotal != nil {
			s.ItemsTotal = u.ItemsTotal
		}
		if u.ItemsComplete != nil {
			s.ItemsComplete = *u.ItemsComplete
			if u.Percent == nil && s.ItemsTotal != nil && *s.ItemsTotal > 0 && s.ItemsComplete >= 0 {
				s.Percent = min(100, 100*float64(s.ItemsComplete)/float64(*s.ItemsTotal))
			}
		}
		if u.Percent != nil {
			s.Percent = *u.Percent
		}
		if u.Message != nil {
			s.Message = u.Message
		}
		if u.ItemsComplete == nil && u.ItemsTotal != nil && s.ItemsComplete > *u.ItemsTotal {
			// The total sent is below the count already stored: the
			// refused field is the one sent.
			return fieldError("items_total", "ge", strconv.FormatInt(*u.ItemsTotal, 10),
				fmt.Sprintf("must be at least items_complete (%d)", s.ItemsComplete))
		}
		return checkItems(s.ItemsComplete, s.ItemsTotal)
	})
	if err != nil {
		return nil, runError(run, fmt.Sprintf("subtask %d: update", n), err)
	}
	t.logSubtask(ctx, slog.LevelInfo, s, deref(s.Message))
	return s, nil
}

func checkItems(done int64, total *int64) error {
	if total != nil && done > *total {
		return fieldError("items_complete", "le", strconv.FormatInt(done, 10),
			fmt.Sprintf("must be at most items_total (%d)", *total))
	}
	return nil
}

// checkIncrement refuses an increment whose count would pass items_total,
// or the largest count there is (math.MaxInt64). It subtracts instead of
// adding, so that it cannot overflow itself.
func checkIncrement(cur *Subtask, by int64) error {
	if cur.ItemsTotal != nil && cur.ItemsComplete > *cur.ItemsTotal-by {
		return fieldError("by", "le", strconv.FormatInt(by, 10), fmt.Sprintf(
			"must be at most %d: items_complete is %d of items_total %d",
			*cur.ItemsTotal-cur.ItemsComplete, cur.ItemsComplete, *cur.ItemsTotal))
	}
	if cur.ItemsComplete > math.MaxInt64-by {
		return fieldError("by", "le", strconv.FormatInt(by, 10), fmt.Sprintf(
			"must be at most %d: items_complete is %d, and the count may not pass %d, the largest allowed",
			math.MaxInt64-cur.ItemsComplete, cur.ItemsComplete, int64(math.MaxInt64)))
	}
	return nil
}

// progressSubtask applies mutate to a subtask, firing "run" when it is
// STARTED. mutate is tried on a copy first: its error writes nothing. A
// subtask that is not STARTED or RUNNING is a *StateError, as for an
// increment.
func (t *Tracker) progressSubtask(ctx context.Context, run uuid.UUID, n int64, mutate func(*Subtask) error) (*Subtask, error) {
	return retry(ctx, func() (*Subtask, error) {
		cur, err := t.getSubtask(ctx, run, n)
		if err != nil {
			return nil, err
		}
		if !cur.Status.IsActive() {
			return nil, &StateError{What: fmt.Sprintf("subtask %d", n), Status: string(cur.Status), Op: "update it",
				Need: "updates need " + joinStatuses(pipelinesubtask.ActiveStatuses())}
		}
		probe := *cur
		if err := mutate(&probe); err != nil {
			return nil, err
		}
		apply := func(s *Subtask) { _ = mutate(s) }
		if cur.Status == pipelinesubtask.StatusRunning {
			return t.subs.Update(ctx, cur, apply)
		}
		return t.subEng.FireFrom(ctx, cur, pipelinesubtask.EventRun, apply, t.meta(""))
	})
}

// IncrementSubtask adds by (at least 1) to the items_complete of subtask n,
// atomically in the database: any number of workers, in any number of
// processes, may increment the same subtask at once and the counts add up.
// The percent follows from items_total when that is set, and the count may
// not pass it. The first increment moves a STARTED subtask to RUNNING.
func (t *Tracker) IncrementSubtask(ctx context.Context, run uuid.UUID, n, by int64) (*Subtask, error) {
	s, err := t.increment(ctx, run, n, by)
	if err != nil {
		return nil, runError(run, fmt.Sprintf("subtask %d: increment", n), err)
	}
	t.logSubtask(ctx, slog.LevelInfo, s, fmt.Sprintf("+%d, %s items", by, items(s)))
	return s, nil
}

func (t *Tracker) increment(ctx context.Context, run uuid.UUID, n, by int64) (*Subtask, error) {
	if by < 1 {
		return nil, fieldError("by", "ge", strconv.FormatInt(by, 10), "must be at least 1")
	}
	active := storage.Statuses(pipelinesubtask.ActiveStatuses())
	for attempt := 1; ; attempt++ {
		s, ok, err := t.st.Increment(ctx, run, n, by, active, t.clock())
		if err != nil {
			return nil, err
		}
		if ok {
			if s.Status == pipelinesubtask.StatusStarted {
				return t.markRunning(ctx, s)
			}
			return s, nil
		}
		// Nothing matched: say why.
		cur, err := t.getSubtask(ctx, run, n)
		if err != nil {
			return nil, err
		}
		if !cur.Status.IsActive() {
			return nil, &StateError{What: fmt.Sprintf("subtask %d", n), Status: string(cur.Status), Op: "increment it",
				Need: "increments need " + joinStatuses(pipelinesubtask.ActiveStatuses())}
		}
		if err := checkIncrement(cur, by); err != nil {
			return nil, err
		}
		if attempt == maxAttempts { // it changed between the two reads each time
			return nil, tasktype.ErrConflict
		}
	}
}

// markRunning fires "run" on a STARTED subtask unless another writer did.
func (t *Tracker) markRunning(ctx context.Context, s *Subtask) (*Subtask, error) {
	return retry(ctx, func() (*Subtask, error) {
		cur, err := t.getSubtask(ctx, s.RunID, s.SubtaskNumber)
		if err != nil || cur.Status != pipelinesubtask.StatusStarted {
			return cur, err
		}
		return t.subEng.FireFrom(ctx, cur, pipelinesubtask.EventRun, nil, t.meta(""))
	})
}

// CompleteSubtask finishes subtask n successfully (percent 100).
func (t *Tracker) CompleteSubtask(ctx context.Context, run uuid.UUID, n int64, message string) (*Subtask, error) {
	return t.finishSubtask(ctx, run, n, pipelinesubtask.EventComplete, message, func(s *Subtask) {
		s.Percent = 100
	})
}

// FailSubtask finishes subtask n with an error message (required). The run
// goes on; fail the run too if the subtask's failure ends it.
func (t *Tracker) FailSubtask(ctx context.Context, run uuid.UUID, n int64, message string) (*Subtask, error) {
	if message == "" {
		return nil, runError(run, fmt.Sprintf("subtask %d: fail", n), required("error_message"))
	}
	if err := checkMessage("error_message", message); err != nil {
		return nil, runError(run, fmt.Sprintf("subtask %d: fail", n), err)
	}
	return t.finishSubtask(ctx, run, n, pipelinesubtask.EventFail, message, func(s *Subtask) {
		s.ErrorMessage = &message
	})
}

func (t *Tracker) finishSubtask(ctx context.Context, run uuid.UUID, n int64, ev pipelinesubtask.Event, message string, mutate func(*Subtask)) (*Subtask, error) {
	if err := checkMessage("message", message); err != nil {
		return nil, runError(run, fmt.Sprintf("subtask %d: %s", n, ev), err)
	}
	s, err := retry(ctx, func() (*Subtask, error) {
		cur, err := t.getSubtask(ctx, run, n)
		if err != nil {
			return nil, err
		}
		return t.subEng.FireFrom(ctx, cur, ev, func(s *Subtask) {
			if message != "" {
				s.Message = &message
			}
			mutate(s)
		}, t.meta(message))
	})
	if err != nil {
		return nil, runError(run, fmt.Sprintf("subtask %d: %s", n, ev), err)
	}
	level := slog.LevelInfo
	if s.Status == pipelinesubtask.StatusFailed {
		level = slog.LevelError
	}
	t.logSubtask(ctx, level, s, message)
	return s, nil
}

func (t *Tracker) logSubtask(ctx context.Context, level slog.Level, s *Subtask, msg string) {
	t.log.Log(ctx, level, fmt.Sprintf("[SUBTASK UPDATE] Subtask %d - %s%s", s.SubtaskNumber, s.Status, colon(msg)), subAttrs(s)...)
}

func subAttrs(s *Subtask) []any {
	return []any{"run_id", s.RunID, "subtask", s.SubtaskNumber, "status", s.Status}
}

func items(s *Subtask) string {
	if s.ItemsTotal == nil {
		return strconv.FormatInt(s.ItemsComplete, 10)
	}
	return fmt.Sprintf("%d/%d", s.ItemsComplete, *s.ItemsTotal)
}

func joinStatuses[S ~string](ss []S) string {
	out := ""
	for i, s := range ss {
		switch {
		case i == 0:
		case i == len(ss)-1:
			out += " or "
		default:
			out += ", "
		}
		out += string(s)
	}
	return out
}
