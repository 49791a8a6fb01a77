package stage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	stagemodel "github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Names of the generated stage-execution model (package gen/stage), so that a user
// of the runner needs only this package.
type (
	// StageState is one stage of one task, as stored: a row of the model.
	StageState = stagemodel.StageState
	// SimpleRecordsResult is a stage's result; the final stage's is the task's.
	SimpleRecordsResult = stagemodel.SimpleRecordsResult
	// RetryPolicy says how a task's failed stages are retried.
	RetryPolicy = stagemodel.RetryPolicy
	// Store stores StageState rows over any backends.Driver.
	Store = backends.Store[stagemodel.StageState, stagemodel.Event, *stagemodel.StageState]
)

// The retry policies.
const (
	// RetryPolicyNone: a single stage failure fails the task.
	RetryPolicyNone = stagemodel.RetryPolicyNone
	// RetryPolicyStage: each stage may run MaxAttempts times.
	RetryPolicyStage = stagemodel.RetryPolicyStage
	// RetryPolicyGlobal: the task may run MaxAttempts stage executions in
	// all, successful ones included.
	RetryPolicyGlobal = stagemodel.RetryPolicyGlobal
)

// MaxNameLength is the longest stage name, in characters.
const MaxNameLength = 150

// Stage is one step of a task. Every stage of a task works on the same state
// S, which the runner checkpoints as JSON after each stage completes.
type Stage[S any] struct {
	// Name identifies the stage within its task: unique, non-empty, valid
	// UTF-8, at most 150 characters. It is part of the stored row's id, so
	// renaming a stage makes a restarted task run it again.
	Name string
	// Run does the stage's work on state, which it may change. Each attempt
	// gets a fresh copy of the state as checkpointed before the stage, so a
	// failed attempt's changes are discarded. The result may be nil (stored
	// as an all-zero SimpleRecordsResult). ctx ends when the task is canceled
	// (context.Cause is ErrCanceled), by this Runner at once or by another
	// process within Config.CancelCheck; when another runner takes the
	// stage over (a cause wrapping tasktype.ErrConflict); or when the
	// caller's context ends.
	Run func(ctx context.Context, state *S) (*SimpleRecordsResult, error)
	// Rollback, optional, undoes a completed stage when a later one fails the
	// task. It gets the state as checkpointed after the last completed stage,
	// shared by the rollbacks in turn (each sees the changes of the ones
	// before it, which are not persisted).
	Rollback func(ctx context.Context, state *S) error
}

// rowNamespace is the UUID namespace of stage row ids.
var rowNamespace = uuid.MustParse("921eed25-9d93-4c3c-8113-7820656d4634")

// RowID returns the id of the StageState row of a stage of a task: a
// name-based (SHA-1) UUID of the pair, so any runner finds the rows of a task
// with Store.Get.
func RowID(taskID, stageName string) uuid.UUID {
	b := make([]byte, 0, binary.MaxVarintLen64+len(taskID)+len(stageName))
	b = binary.AppendUvarint(b, uint64(len(taskID))) // the length keeps ("ab","c") and ("a","bc") apart
	b = append(b, taskID...)
	b = append(b, stageName...)
	return uuid.NewSHA1(rowNamespace, b)
}

// Runner runs tasks made of an ordered list of stages over a Store. It is
// safe for concurrent use by tasks with different ids; a task runs in one
// Runner at a time (see the package doc).
type Runner[S any] struct {
	store  *Store
	stages []Stage[S]
	cfg    Config

	mu      sync.Mutex
	running map[string]context.CancelCauseFunc // task id → its stages' context
}

// NewRunner checks the stages and the configuration and returns a Runner.
// Every problem is reported at once in a *tasktype.ValidationError whose
// *tasktype.FieldErrors name the field ("stages[1].name", "max_attempts").
func NewRunner[S any](store *Store, stages []Stage[S], cfg Config) (*Runner[S], error) {
	var errs []*tasktype.FieldError
	if store == nil {
		errs = append(errs, &tasktype.FieldError{Field: "store", Rule: "required", Message: "is required"})
	}
	errs = append(errs, validateStages(stages)...)
	errs = append(errs, cfg.validate(len(stages))...)
	if len(errs) > 0 {
		return nil, &tasktype.ValidationError{Type: "stage runner", Fields: errs}
	}
	return &Runner[S]{store: store, stages: slices.Clone(stages), cfg: cfg.withDefaults(),
		running: map[string]context.CancelCauseFunc{}}, nil
}

func validateStages[S any](stages []Stage[S]) []*tasktype.FieldError {
	if len(stages) == 0 {
		return []*tasktype.FieldError{{Field: "stages", Rule: "min_items", Message: "must have at least one stage"}}
	}
	var errs []*tasktype.FieldError
	seen := make(map[string]int, len(stages))
	for i, st := range stages {
		field := fmt.Sprintf("stages[%d].name", i)
		switch n := utf8.RuneCountInString(st.Name); {
		case st.Name == "":
			errs = append(errs, &tasktype.FieldError{Field: field, Rule: "required", Message: "must not be empty"})
		case !utf8.ValidString(st.Name):
			errs = append(errs, &tasktype.FieldError{Field: field, Rule: "utf8", Value: st.Name, Message: "must be valid UTF-8"})
		case n > MaxNameLength:
			errs = append(errs, &tasktype.FieldError{Field: field, Rule: "max_len", Value: st.Name,
				Message: fmt.Sprintf("must be at most %d characters (got %d)", MaxNameLength, n)})
		default:
			if j, dup := seen[st.Name]; dup {
				errs = append(errs, &tasktype.FieldError{Field: field, Rule: "unique", Value: st.Name,
					Message: fmt.Sprintf("duplicates stages[%d].name %q; stage names must be unique", j, st.Name)})
			}
			seen[st.Name] = i
		}
		if st.Run == nil {
			errs = append(errs, &tasktype.FieldError{Field: fmt.Sprintf("stages[%d].run", i), Rule: "required", Message: "is required"})
		}
	}
	return errs
}

func checkTaskID(taskID string) error {
	switch {
	case taskID == "":
		return &tasktype.FieldError{Field: "task_id", Rule: "required", Message: "must not be empty"}
	case !utf8.ValidString(taskID):
		return &tasktype.FieldError{Field: "task_id", Rule: "utf8", Value: taskID, Message: "must be valid UTF-8"}
	}
	return nil
}

func (r *Runner[S]) now() time.Time { return r.cfg.Clock().UTC().Truncate(time.Microsecond) }

func (r *Runner[S]) meta(msg string, attempt int64) backends.Meta {
	return backends.Meta{Actor: r.cfg.Actor, Message: msg, Attempt: int(attempt)}
}

// Run runs the task taskID: it creates the task's rows on first use (the
// first with initial as its checkpoint), skips COMPLETE stages, and runs the
// others in order from the state as checkpointed, retrying as the policy
// allows. It returns the final stage's result.
//
// For a task that exists, initial is not used: the task resumes from its
// checkpoint. A task that is already COMPLETE returns its result without
// running anything; a failed one returns its *FailedError (finishing any
// rollbacks a crash interrupted); a canceled one an error wrapping
// ErrCanceled. When ctx ends, Run returns ctx's error and leaves the task as
// a crash would: the next Run counts the interrupted attempt as a failed one.
func (r *Runner[S]) Run(ctx context.Context, taskID string, initial S) (*SimpleRecordsResult, error) {
	if err := checkTaskID(taskID); err != nil {
		return nil, err
	}
	first, err := json.Marshal(initial)
	if err != nil {
		return nil, &tasktype.FieldError{Field: "initial", Rule: "json", Message: fmt.Sprintf("the state must encode as JSON: %v", err)}
	}
	taskCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if err := r.register(taskID, cancel); err != nil {
		return nil, err
	}
	defer r.unregister(taskID)
	x := &execution[S]{r: r, taskID: taskID, ctx: ctx, taskCtx: taskCtx}
	if err := x.prepare(first); err != nil {
		return nil, err
	}
	return x.run()
}

func (r *Runner[S]) register(taskID string, cancel context.CancelCauseFunc) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, busy := r.running[taskID]; busy {
		return fmt.Errorf("stage: task %q is already running in this runner: %w", taskID, tasktype.ErrConflict)
	}
	r.running[taskID] = cancel
	return nil
}

func (r *Runner[S]) unregister(taskID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, taskID)
}

// execution is one call of Run: the task's rows as last written or read.
type execution[S any] struct {
	r       *Runner[S]
	taskID  string
	ctx     context.Context // the caller's: store reads and writes
	taskCtx context.Context // ended by Cancel too: stage code and backoff
	rows    []*StageState
}

// prepare reads the task's rows, creating those that do not exist.
func (x *execution[S]) prepare(first json.RawMessage) error {
	x.rows = make([]*StageState, len(x.r.stages))
	for i := range x.r.stages {
		var cp json.RawMessage
		if i == 0 {
			cp = first
		}
		row, err := x.r.getOrCreate(x.ctx, x.taskID, i, cp)
		if err != nil {
			return err
		}
		x.rows[i] = row
	}
	return nil
}

// getOrCreate reads the row of stage i of a task, or creates it UNBOUND with
// checkpoint cp.
func (r *Runner[S]) getOrCreate(ctx context.Context, taskID string, i int, cp json.RawMessage) (*StageState, error) {
	name := r.stages[i].Name
	id := RowID(taskID, name)
	row, err := r.store.Get(ctx, id)
	if errors.Is(err, tasktype.ErrNotFound) {
		n := stagemodel.NewStageState()
		n.ID, n.StageName, n.TaskID, n.Checkpoint = id, name, taskID, cp
		row, err = r.store.Create(ctx, n, r.meta("created", 0))
		if errors.Is(err, tasktype.ErrDuplicate) { // created meanwhile (by Cancel, say)
			row, err = r.store.Get(ctx, id)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("stage: task %q, stage %q: %w", taskID, name, err)
	}
	return row, nil
}

// run binds the rows and runs the stages in order.
func (x *execution[S]) run() (*SimpleRecordsResult, error) {
	if i, st := firstEnded(x.rows); st == stagemodel.StatusError {
		return nil, x.failed(i, nil)
	} else if st == stagemodel.StatusCanceled {
		return nil, x.canceled()
	}
	if allComplete(x.rows) {
		return x.rows[len(x.rows)-1].Result, nil
	}
	for i, row := range x.rows {
		if row.Status == stagemodel.StatusUnbound {
			if err := x.fire(i, stagemodel.EventBind, nil, "bound to a runner"); err != nil {
				return nil, err
			}
		}
	}
	for i := range x.rows {
		if err := x.runStage(i); err != nil {
			return nil, err
		}
	}
	return x.rows[len(x.rows)-1].Result, nil
}

// runStage runs stage i until it completes, or returns why it cannot.
func (x *execution[S]) runStage(i int) error {
	for {
		switch st := x.rows[i].Status; st {
		case stagemodel.StatusComplete:
			return nil
		case stagemodel.StatusRunning:
			// A runner stopped during this attempt (a crash, or its context
			// ended): the attempt consumed its count and failed.
			err := errors.New("interrupted: the runner stopped during this attempt")
			if err := x.endAttempt(i, err); err != nil {
				return err
			}
		case stagemodel.StatusCreated, stagemodel.StatusRetry:
			if err := x.attempt(i); err != nil {
				return err
			}
		default: // UNBOUND, ERROR, CANCELED are handled before the stages run, and fire reports races
			return fmt.Errorf("stage: task %q, stage %q: unexpected status %s", x.taskID, x.r.stages[i].Name, st)
		}
	}
}

// attempt runs one attempt of stage i, from CREATED or RETRY.
func (x *execution[S]) attempt(i int) error {
	row, st := x.rows[i], x.r.stages[i]
	if !x.canAttempt(i) {
		if row.Status == stagemodel.StatusCreated {
			return x.budgetError(i) // only a lowered GLOBAL max_attempts gets here
		}
		msg := fmt.Sprintf("retry attempts exhausted (policy %s, max_attempts %d)", x.r.cfg.Policy, x.r.cfg.MaxAttempts)
		if err := x.fire(i, stagemodel.EventError, nil, msg); err != nil {
			return err
		}
		return x.failed(i, errors.New(msg))
	}
	if row.Status == stagemodel.StatusRetry {
		ctx, stop := x.watch(i)
		err := x.r.cfg.Sleep(ctx, x.r.cfg.Backoff.Delay(int(row.Attempts)))
		stop()
		if err != nil {
			return x.stopped(i, fmt.Errorf("backoff before attempt %d: %w", row.Attempts+1, err))
		}
	}
	state, err := decode[S](x.checkpointBefore(i))
	if err != nil {
		return fmt.Errorf("stage: task %q: the checkpoint before stage %q does not decode into %T: %w", x.taskID, st.Name, state, err)
	}
	attempt := func(s *StageState) { s.Attempts++ }
	if err := x.fire(i, stagemodel.EventStart, attempt, fmt.Sprintf("attempt %d", row.Attempts+1)); err != nil {
		return err
	}
	ctx, stop := x.watch(i)
	res, runErr := protect(func() (*SimpleRecordsResult, error) { return st.Run(ctx, state) })
	stop()
	if x.ctx.Err() != nil {
		return x.interrupted(i)
	}
	if runErr != nil {
		return x.endAttempt(i, runErr)
	}
	return x.complete(i, state, res)
}

// watch returns the context of work on stage i as x.rows[i] stands (its
// attempt, RUNNING, or its backoff, RETRY): taskCtx, also cancelled when a
// poll of the stored row, every Config.CancelCheck, finds that another
// process moved it. A CANCELED row is a cancel (cause ErrCanceled, as Cancel
// in this Runner gives); any other change (another status or version, or the
// row gone) means another runner has the task (cause wrapping
// tasktype.ErrConflict). A failed poll (a storage or context error) cancels
// nothing. The write that ends the attempt then fails its guard and
// records the outcome as for a cancel in this Runner. stop ends the poller
// and waits for it; call it when the work returns.
func (x *execution[S]) watch(i int) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(x.taskCtx)
	pollCtx, endPoll := context.WithCancel(x.ctx)
	row := x.rows[i]
	id, status, version := row.ID, row.Status, row.Version
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(x.r.cfg.CancelCheck)
		defer tick.Stop()
		for {
			select {
			case <-pollCtx.Done():
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			cur, err := x.r.store.Get(pollCtx, id)
			if cause := x.moved(i, status, version, cur, err); cause != nil {
				cancel(cause)
				return
			}
		}
	}()
	return ctx, func() {
		endPoll()
		<-done
		cancel(nil)
	}
}

// moved returns why a poll of stage i's row (cur, err) ends the work the
// runner is doing on it from status at version, or nil to carry on.
func (x *execution[S]) moved(i int, status stagemodel.Status, version int64, cur *StageState, err error) error {
	switch {
	case errors.Is(err, tasktype.ErrNotFound):
		return fmt.Errorf("stage: task %q, stage %q: the row was deleted while this runner held it at %s: %w",
			x.taskID, x.r.stages[i].Name, status, tasktype.ErrConflict)
	case err != nil: // a transient failure: the next poll tells
		return nil
	case cur.Status == stagemodel.StatusCanceled:
		return ErrCanceled
	case cur.Status != status || cur.Version != version:
		return fmt.Errorf("stage: task %q, stage %q changed to %s while this runner held it at %s (is another runner running the task?): %w",
			x.taskID, x.r.stages[i].Name, cur.Status, status, tasktype.ErrConflict)
	}
	return nil
}

// complete records a successful attempt: result, checkpoint, history entry.
func (x *execution[S]) complete(i int, state *S, res *SimpleRecordsResult) error {
	result := SimpleRecordsResult{}
	if res != nil {
		result = *res
	}
	if err := result.Validate(); err != nil {
		return x.endAttempt(i, fmt.Errorf("invalid result: %w", err))
	}
	cp, err := json.Marshal(state)
	if err != nil {
		return x.endAttempt(i, fmt.Errorf("the state does not encode as JSON: %w", err))
	}
	const msg = "completed"
	e := entry(x.rows[i], stagemodel.StatusComplete, msg, x.r.now())
	return x.fire(i, stagemodel.EventComplete, func(s *StageState) {
		s.Result, s.Checkpoint, s.History = &result, cp, appendEntry(s.History, e)
	}, msg)
}

// endAttempt records a failed attempt of stage i (RUNNING): RETRY when the
// policy allows another attempt, else ERROR, which fails the task.
func (x *execution[S]) endAttempt(i int, cause error) error {
	ev := stagemodel.EventRetry
	if !x.canAttempt(i) {
		ev = stagemodel.EventError
	}
	msg := cause.Error()
	e := entry(x.rows[i], ev.Target(), msg, x.r.now())
	if err := x.fire(i, ev, func(s *StageState) { s.History = appendEntry(s.History, e) }, msg); err != nil {
		return err
	}
	if ev == stagemodel.EventError {
		return x.failed(i, cause)
	}
	return nil
}

// canAttempt reports whether the policy lets stage i run another attempt.
// GLOBAL keeps one attempt for every later stage that has not completed:
// a retry that would leave a later stage no attempt cannot make the task
// succeed, so the stage fails instead.
func (x *execution[S]) canAttempt(i int) bool {
	a, max := x.rows[i].Attempts, int64(x.r.cfg.MaxAttempts)
	switch x.r.cfg.Policy {
	case RetryPolicyStage:
		return a < max
	case RetryPolicyGlobal:
		used, rest := x.budget(i)
		return used < max-rest
	}
	return a < 1
}

// budget returns the attempts the task has used, and how many stages after
// i have not completed.
func (x *execution[S]) budget(i int) (used, rest int64) {
	for j, row := range x.rows {
		used += row.Attempts
		if j > i && row.Status != stagemodel.StatusComplete {
			rest++
		}
	}
	return used, rest
}

func (x *execution[S]) budgetError(i int) error {
	used, rest := x.budget(i)
	need := used + rest + 1
	return &tasktype.FieldError{Field: "max_attempts", Rule: "ge", Value: fmt.Sprint(x.r.cfg.MaxAttempts),
		Message: fmt.Sprintf("task %q has used %d attempts and has %d stage(s) left, starting with %q: policy GLOBAL needs max_attempts ≥ %d (got %d); nothing was changed",
			x.taskID, used, rest+1, x.r.stages[i].Name, need, x.r.cfg.MaxAttempts)}
}

// checkpointBefore returns the state stage i starts from: the checkpoint of
// the last COMPLETE stage before it, else the task's initial state (the
// first row's checkpoint, which is replaced only when that stage completes).
func (x *execution[S]) checkpointBefore(i int) json.RawMessage {
	for j := i - 1; j >= 0; j-- {
		if x.rows[j].Status == stagemodel.StatusComplete {
			return x.rows[j].Checkpoint
		}
	}
	return x.rows[0].Checkpoint
}

// fire moves row i with ev. A lost race ends the run: the row was canceled
// (ErrCanceled), or another runner is running the task (ErrConflict).
func (x *execution[S]) fire(i int, ev stagemodel.Event, mutate func(*StageState), msg string) error {
	row := x.rows[i]
	attempts := row.Attempts
	if ev == stagemodel.EventStart {
		attempts++
	}
	next, err := x.r.store.FireFrom(x.ctx, row, ev, mutate, x.r.meta(msg, attempts))
	if err == nil {
		x.rows[i] = next
		return nil
	}
	if !errors.Is(err, tasktype.ErrConflict) {
		return x.storeError(i, err)
	}
	cur, gerr := x.r.store.Get(x.ctx, row.ID)
	if gerr != nil {
		return x.storeError(i, gerr)
	}
	x.rows[i] = cur
	if cur.Status == stagemodel.StatusCanceled {
		return x.canceled()
	}
	return fmt.Errorf("stage: task %q, stage %q changed to %s while this runner moved it from %s (is another runner running the task?): %w",
		x.taskID, row.StageName, cur.Status, row.Status, err)
}

// stopped explains an interrupted backoff: Cancel, the caller's context, or
// the sleep function's own error.
func (x *execution[S]) stopped(i int, err error) error {
	if x.ctx.Err() != nil {
		return x.interrupted(i)
	}
	cur, gerr := x.r.store.Get(x.ctx, x.rows[i].ID)
	if gerr == nil && cur.Status == stagemodel.StatusCanceled {
		x.rows[i] = cur
		return x.canceled()
	}
	return fmt.Errorf("stage: task %q, stage %q: %w", x.taskID, x.r.stages[i].Name, err)
}

func (x *execution[S]) interrupted(i int) error {
	return fmt.Errorf("stage: task %q interrupted at stage %q: %w", x.taskID, x.r.stages[i].Name, context.Cause(x.ctx))
}

func (x *execution[S]) canceled() error {
	return fmt.Errorf("stage: task %q: %w", x.taskID, ErrCanceled)
}

func (x *execution[S]) storeError(i int, err error) error {
	return fmt.Errorf("stage: task %q, stage %q: %w", x.taskID, x.r.stages[i].Name, err)
}

// entry is the history entry of row's current attempt (the row is RUNNING:
// it began at started_at), ending now in status end.
func entry(row *StageState, end stagemodel.Status, msg string, now time.Time) stagemodel.StageStateHistoryEntry {
	begin := now
	if row.StartedAt != nil {
		begin = *row.StartedAt
	}
	from := stagemodel.StatusCreated // the first attempt starts from CREATED, every retry from RETRY
	if row.Attempts > 1 {
		from = stagemodel.StatusRetry
	}
	return stagemodel.StageStateHistoryEntry{Attempt: row.Attempts, BeginStatus: from, BeginTs: timestamp(begin),
		EndStatus: end, EndTs: timestamp(now), Message: msg, RunTimeSeconds: max(now.Sub(begin).Seconds(), 0)}
}

// timestamp formats a history entry's begin_ts and end_ts (no format was
// prescribed): RFC 3339 in UTC with the stored microseconds.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }

// appendEntry appends without writing into a backing array another copy of
// the row shares.
func appendEntry(h []stagemodel.StageStateHistoryEntry, e stagemodel.StageStateHistoryEntry) []stagemodel.StageStateHistoryEntry {
	return append(slices.Clip(h), e)
}

func decode[S any](cp json.RawMessage) (*S, error) {
	s := new(S)
	if len(cp) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(cp, s); err != nil {
		return nil, err
	}
	return s, nil
}

// protect runs user code, turning a panic into an error.
func protect[R any](f func() (R, error)) (res R, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f()
}

// firstEnded returns the first row, in stage order, that is ERROR or
// CANCELED (what the task is), else -1 and "".
func firstEnded(rows []*StageState) (int, stagemodel.Status) {
	for i, row := range rows {
		if row != nil && (row.Status == stagemodel.StatusError || row.Status == stagemodel.StatusCanceled) {
			return i, row.Status
		}
	}
	return -1, ""
}

func allComplete(rows []*StageState) bool {
	for _, row := range rows {
		if row == nil || row.Status != stagemodel.StatusComplete {
			return false
		}
	}
	return true
}
