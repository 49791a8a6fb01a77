package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/tasktype"
)

// StartOptions describes a run being started. Zero fields are filled in:
// the process from CurrentProcess, the git commit from the work tree of Dir,
// script and log paths from the task's registration.
type StartOptions struct {
	// Process executes the run; nil means the calling process.
	Process *Process
	// Subtasks is the number of subtasks the run will have (total_subtasks);
	// 0 means not known. Subtask numbers may not pass it.
	Subtasks int64
	// CodeVersion is the version of the code being run (tasker's column version).
	CodeVersion string
	// GitCommit is the commit of the code; "" means the one checked out in
	// the git work tree holding Dir, if any.
	GitCommit string
	// Dir is where the git commit is looked up; "" means the working
	// directory.
	Dir string
	// NoGitLookup records GitCommit as given, "" included, without looking
	// it up: the run executes elsewhere (a script reporting over HTTP), so
	// this process's work tree says nothing about its code.
	NoGitLookup bool
	// Environment is recorded as a JSON object (say {"env": "production"});
	// nothing from the process environment is recorded unless put here.
	Environment map[string]string
	// ScriptPath, ScriptFilename, LogPath and LogFilename override the
	// task's registration.
	ScriptPath, ScriptFilename, LogPath, LogFilename string
	// Message is the run's first status message.
	Message string
}

// Start starts a run of a registered task: it records the run (status
// STARTED, started_at) with its process, user, version, git commit,
// environment and paths, and returns it; the run's ID is the run_id every
// other call takes. An unregistered task is a *NotFoundError listing the
// stage's tasks.
func (t *Tracker) Start(ctx context.Context, stage, task string, o StartOptions) (*Run, error) {
	r, err := t.begin(ctx, stage, task, o, pipelinerun.EventStart)
	if err != nil {
		return nil, fmt.Errorf("start %s / %s: %w", stage, task, err)
	}
	t.log.InfoContext(ctx, fmt.Sprintf("[TASK START] %s / %s (run_id: %s)", stage, task, r.ID), runAttrs(r)...)
	return r, nil
}

// SkipTask records that a registered task was skipped without being
// started (a run going from NOT_STARTED to SKIPPED), with the same details
// as Start.
func (t *Tracker) SkipTask(ctx context.Context, stage, task string, o StartOptions) (*Run, error) {
	r, err := t.begin(ctx, stage, task, o, pipelinerun.EventSkip)
	if err != nil {
		return nil, fmt.Errorf("skip %s / %s: %w", stage, task, err)
	}
	t.log.InfoContext(ctx, fmt.Sprintf("[TASK SKIP] %s / %s (run_id: %s)%s", stage, task, r.ID, suffix(o.Message)), runAttrs(r)...)
	return r, nil
}

// begin records a run. Every problem of the input is reported at once:
// bad names and options, and, when the names are well formed, an unknown
// stage or task.
func (t *Tracker) begin(ctx context.Context, stage, task string, o StartOptions, ev pipelinerun.Event) (*Run, error) {
	names := joinErrs(validateName("stage", stage), validateName("task", task))
	var def *Task
	var lookup error
	if names == nil {
		def, lookup = t.task(ctx, stage, task)
	}
	if err := joinErrs(names, checkStart(o), lookup); err != nil {
		return nil, err
	}
	var err error
	r := pipelinerun.NewPipelineRun()
	r.Stage, r.Task = stage, task
	p := o.Process
	if p == nil {
		cp := CurrentProcess()
		p = &cp
	}
	r.Hostname = optional(p.Hostname)
	r.UserName = optional(p.User)
	if p.PID != 0 {
		r.PID = ptr(int64(p.PID))
	}
	if p.PPID != 0 {
		r.PPID = ptr(int64(p.PPID))
	}
	r.CodeVersion = optional(o.CodeVersion)
	commit := o.GitCommit
	if commit == "" && !o.NoGitLookup {
		commit = GitCommit(ctx, orDot(o.Dir))
	}
	r.GitCommit = optional(commit)
	if o.Environment != nil {
		if r.Environment, err = json.Marshal(o.Environment); err != nil {
			return nil, err
		}
	}
	r.ScriptPath = firstOf(o.ScriptPath, def.ScriptPath)
	r.ScriptFilename = firstOf(o.ScriptFilename, def.ScriptFilename)
	r.LogPath = firstOf(o.LogPath, def.LogPath)
	r.LogFilename = firstOf(o.LogFilename, def.LogFilename)
	if o.Subtasks != 0 {
		r.TotalSubtasks = ptr(o.Subtasks)
	}
	r.Message = optional(o.Message)
	created, err := t.runs.Create(ctx, r, t.meta(o.Message))
	if err != nil {
		return nil, err
	}
	moved, err := t.runEng.FireFrom(ctx, created, ev, nil, t.meta(o.Message))
	if err != nil {
		// Nothing half-written: the run was only just created.
		_ = t.runs.Delete(context.WithoutCancel(ctx), created.ID)
		return nil, err
	}
	return moved, nil
}

// checkStart refuses a negative Subtasks and text of o (and of its
// process) longer than the tracker's limits, all of them at once. The paths
// a run takes from its task's registration passed them (or predate them)
// and are not checked again.
func checkStart(o StartOptions) error {
	var user string
	if o.Process != nil {
		user = o.Process.User
	}
	var subtasks error
	if o.Subtasks < 0 {
		subtasks = fieldError("total_subtasks", "ge", strconv.FormatInt(o.Subtasks, 10),
			fmt.Sprintf("must be ≥ 0 (got %d); 0 means not known", o.Subtasks))
	}
	return joinErrs(
		subtasks,
		checkLen("user_name", &user, MaxLabelLen),
		checkLen("code_version", &o.CodeVersion, MaxLabelLen),
		checkPaths(&o.ScriptPath, &o.ScriptFilename, &o.LogPath, &o.LogFilename),
		checkMessage("message", o.Message))
}

// RunUpdate is the progress Update reports; nil fields are left as they are.
type RunUpdate struct {
	// Percent is the overall percent complete, 0 to 100.
	Percent *float64
	// Message is the latest status message.
	Message *string
}

// Update reports progress on a run (tasker: task_update(run_id, "RUNNING",
// …)). The first update moves a STARTED run to RUNNING; a finished run
// refuses with a *StateError.
func (t *Tracker) Update(ctx context.Context, id uuid.UUID, u RunUpdate) (*Run, error) {
	if err := checkLen("message", u.Message, MaxMessageLen); err != nil {
		return nil, runError(id, "update", err)
	}
	r, err := t.progressRun(ctx, id, func(r *Run) {
		if u.Percent != nil {
			r.OverallPercent = *u.Percent
		}
		if u.Message != nil {
			r.Message = u.Message
		}
	})
	if err != nil {
		return nil, runError(id, "update", err)
	}
	p := Progress{Percent: r.OverallPercent, Source: PercentRun}
	if derives(r) { // the line shows the percent status shows
		if subs, err := t.st.SubtasksOf(ctx, id); err == nil {
			p = RunPercent(r, subs)
		}
	}
	t.log.InfoContext(ctx, fmt.Sprintf("[TASK UPDATE] %s - %s%s (%.1f%%)", id, r.Status, colon(deref(r.Message)), p.Percent), runAttrs(r)...)
	return r, nil
}

// progressRun applies mutate to a run, firing "run" when it is STARTED. A
// run that is not STARTED or RUNNING is a *StateError.
func (t *Tracker) progressRun(ctx context.Context, id uuid.UUID, mutate func(*Run)) (*Run, error) {
	return retry(ctx, func() (*Run, error) {
		cur, err := t.getRun(ctx, id)
		if err != nil {
			return nil, err
		}
		if !cur.Status.IsActive() {
			return nil, &StateError{What: fmt.Sprintf("run %s", id), Run: id, Status: string(cur.Status), Op: "update it",
				Need: "updates need " + joinStatuses(pipelinerun.ActiveStatuses())}
		}
		if cur.Status == pipelinerun.StatusRunning {
			return t.runs.Update(ctx, cur, mutate)
		}
		return t.runEng.FireFrom(ctx, cur, pipelinerun.EventRun, mutate, t.meta(""))
	})
}

// Complete finishes a run successfully (overall percent 100). It refuses,
// with an *UnfinishedError, while a subtask is still started or running or
// when fewer subtasks started than the run declared (total_subtasks); see
// CompleteWith to force it.
func (t *Tracker) Complete(ctx context.Context, id uuid.UUID, message string) (*Run, error) {
	return t.CompleteWith(ctx, id, message, CompleteOptions{})
}

// CompleteOptions are CompleteWith's options.
type CompleteOptions struct {
	// Force completes the run although subtasks are unfinished or were
	// never started: the unfinished ones are cancelled first ("cancelled:
	// run completed by force"), the ones never started stay unrecorded, and
	// the tracking line names both.
	Force bool
}

// CompleteWith is Complete with options.
func (t *Tracker) CompleteWith(ctx context.Context, id uuid.UUID, message string, o CompleteOptions) (*Run, error) {
	f := finishing{ev: pipelinerun.EventComplete, message: message,
		mutate: func(r *Run) { r.OverallPercent = 100 }}
	if o.Force {
		f.subEv = pipelinesubtask.EventCancel
		f.forced = true
		f.subMutate = func(s *Subtask) { s.Message = ptr("cancelled: run completed by force") }
	}
	return t.finish(ctx, id, &f)
}

// Fail finishes a run with an error: message (required) and detail (a
// traceback, say). Its unfinished subtasks fail with it, first.
func (t *Tracker) Fail(ctx context.Context, id uuid.UUID, message, detail string) (*Run, error) {
	if message == "" {
		return nil, runError(id, "fail", required("error_message"))
	}
	if err := cmp.Or(checkMessage("error_message", message), checkLen("error_detail", &detail, MaxDetailLen)); err != nil {
		return nil, runError(id, "fail", err)
	}
	return t.finish(ctx, id, &finishing{ev: pipelinerun.EventFail, subEv: pipelinesubtask.EventFail, message: message,
		mutate: func(r *Run) {
			r.ErrorMessage = &message
			r.ErrorDetail = optional(detail)
		},
		subMutate: func(s *Subtask) { s.ErrorMessage = ptr("run failed: " + message) }})
}

// Skip marks a started run as skipped (the script found nothing to do);
// a run that is RUNNING cannot be skipped. Unfinished subtasks are skipped
// with it.
func (t *Tracker) Skip(ctx context.Context, id uuid.UUID, message string) (*Run, error) {
	return t.finish(ctx, id, &finishing{ev: pipelinerun.EventSkip, subEv: pipelinesubtask.EventSkip, message: message})
}

// Cancel cancels a run that has not finished. Its unfinished subtasks are
// cancelled with it, first.
func (t *Tracker) Cancel(ctx context.Context, id uuid.UUID, message string) (*Run, error) {
	return t.finish(ctx, id, &finishing{ev: pipelinerun.EventCancel, subEv: pipelinesubtask.EventCancel, message: message})
}

type finishing struct {
	ev        pipelinerun.Event
	subEv     pipelinesubtask.Event // "" for complete: unfinished subtasks refuse it
	forced    bool                  // complete by force: subEv cancels, subtasks never started are named
	message   string
	mutate    func(*Run)
	subMutate func(*Subtask)
	note      string // appended to the tracking line (what a forced completion left)
}

// finish checks every move first (the run's event, and the cascade to its
// unfinished subtasks, each tried on a copy with its fields and validated),
// then writes the subtasks' moves, then the run's, so that bad input writes
// nothing.
func (t *Tracker) finish(ctx context.Context, id uuid.UUID, f *finishing) (*Run, error) {
	if err := checkMessage("message", f.message); err != nil {
		return nil, runError(id, string(f.ev), err)
	}
	r, err := t.finishRun(ctx, id, f)
	if err != nil {
		return nil, runError(id, string(f.ev), err)
	}
	level := slog.LevelInfo
	if r.Status == pipelinerun.StatusFailed {
		level = slog.LevelError
	}
	t.log.Log(ctx, level, fmt.Sprintf("[TASK UPDATE] %s - %s%s%s", id, r.Status, colon(f.message), f.note), runAttrs(r)...)
	return r, nil
}

// finishRun checks and moves the run and its unfinished subtasks, from one
// read of the run. When the run changed before its own move (a subtask
// started meanwhile, which the check did not see), it starts over: the
// run moves only from the state its subtasks were checked in.
func (t *Tracker) finishRun(ctx context.Context, id uuid.UUID, f *finishing) (*Run, error) {
	for attempt := 1; ; attempt++ {
		r, lost, err := t.finishOnce(ctx, id, f)
		if !lost || attempt == maxAttempts {
			return r, err
		}
		if err := pause(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// finishOnce is one attempt of finishRun; lost says that the run's move
// failed because the run changed since it was read.
func (t *Tracker) finishOnce(ctx context.Context, id uuid.UUID, f *finishing) (r *Run, lost bool, err error) {
	f.note = ""
	cur, err := t.getRun(ctx, id)
	if err != nil {
		return nil, false, err
	}
	if err := t.tryRun(cur, f); err != nil {
		return nil, false, err
	}
	subs, err := t.st.SubtasksOf(ctx, id)
	if err != nil {
		return nil, false, err
	}
	// A NOT_STARTED row is a subtask being started: StartSubtask writes
	// it, then fires its start, then moves the run, which fails once the
	// run is finished, and then deletes it. It is not there for this call:
	// moving it would fail (fail is not an event of NOT_STARTED) or race
	// with its start.
	subs = slices.DeleteFunc(subs, func(s *Subtask) bool { return s.Status == pipelinesubtask.StatusNotStarted })
	var open []*Subtask
	for _, s := range subs {
		if s.Status.IsTerminal() {
			continue
		}
		if f.subEv != "" {
			if err := t.trySubtask(s, f); err != nil {
				return nil, false, fmt.Errorf("subtask %d: %w", s.SubtaskNumber, err)
			}
		}
		open = append(open, s)
	}
	if f.ev == pipelinerun.EventComplete {
		count, first := notStarted(cur, subs)
		if len(open) > 0 || count > 0 {
			u := &UnfinishedError{Run: id, Open: open, NotStarted: first, NotStartedCount: count, Declared: deref64(cur.TotalSubtasks)}
			if !f.forced {
				return nil, false, u
			}
			f.note = " (by force: " + u.list() + ")"
		}
	}
	// From cur, the run as its subtasks were checked: a subtask started
	// since moved the run (to RUNNING, or to a new current_subtask), and
	// this write loses. The run moves first, its subtasks after: of two
	// finishes at once (a fail and a complete by force), the one whose
	// run move loses writes nothing, and the subtasks follow the winner.
	r, err = t.runEng.FireFrom(ctx, cur, f.ev, f.apply, t.meta(f.message))
	if err != nil {
		return nil, errors.Is(err, tasktype.ErrConflict), err
	}
	for _, s := range open {
		if _, err := t.cascade(ctx, s, f); err != nil {
			return r, false, fmt.Errorf("the run is %s, but subtask %d could not be moved with it: %w", r.Status, s.SubtaskNumber, err)
		}
	}
	return r, false, nil
}

// apply sets the fields the run's move writes.
func (f *finishing) apply(r *Run) {
	if f.message != "" {
		r.Message = &f.message
	}
	if f.mutate != nil {
		f.mutate(r)
	}
}

// tryRun fires the run's move on a copy of cur, with the fields it writes,
// and validates the result: what would refuse the run's write refuses before
// any subtask moves.
func (t *Tracker) tryRun(cur *Run, f *finishing) error {
	trial := *cur
	f.apply(&trial)
	if err := trial.Fire(f.ev, t.clock()); err != nil {
		return err
	}
	return trial.Validate()
}

// trySubtask is tryRun for an unfinished subtask moving with its run.
func (t *Tracker) trySubtask(s *Subtask, f *finishing) error {
	trial := *s
	if f.subMutate != nil {
		f.subMutate(&trial)
	}
	if err := trial.Fire(f.subEv, t.clock()); err != nil {
		return err
	}
	return trial.Validate()
}

// cascade moves one unfinished subtask with the run, unless another writer
// finished it in the meantime.
func (t *Tracker) cascade(ctx context.Context, s *Subtask, f *finishing) (*Subtask, error) {
	return retry(ctx, func() (*Subtask, error) {
		cur, err := t.getSubtask(ctx, s.RunID, s.SubtaskNumber)
		if err != nil || cur.Status.IsTerminal() {
			return cur, err
		}
		return t.subEng.FireFrom(ctx, cur, f.subEv, f.subMutate, t.meta("with its run: "+f.message))
	})
}

func runAttrs(r *Run) []any {
	return []any{"run_id", r.ID, "stage", r.Stage, "task", r.Task, "status", r.Status}
}

// colon is ": msg", or nothing without a message: a tracking line never
// ends in a colon.
func colon(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return " " + msg
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func firstOf(s string, fallback *string) *string {
	if s != "" {
		return &s
	}
	return fallback
}

func ptr[V any](v V) *V { return &v }

func deref64(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

// notStarted returns how many subtask numbers, 1 to the run's
// total_subtasks, have no subtask, and the first ten of them.
func notStarted(r *Run, subs []*Subtask) (int64, []int64) {
	if r.TotalSubtasks == nil {
		return 0, nil
	}
	total := *r.TotalSubtasks
	have := make(map[int64]bool, len(subs))
	for _, s := range subs {
		if s.SubtaskNumber <= total {
			have[s.SubtaskNumber] = true
		}
	}
	var first []int64
	for n := int64(1); n <= total && len(first) < 10; n++ {
		if !have[n] {
			first = append(first, n)
		}
	}
	return total - int64(len(have)), first
}
