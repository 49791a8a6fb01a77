package pipeline_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/tasktype"
)

func ptr[V any](v V) *V { return &v }

var seedTasks = []pipeline.Task{
	{Stage: "PREREQ", Name: "Install System Dependencies", Type: ptr(pipelinerun.TaskKindSh)},
	{Stage: "PREREQ", Name: "Install R", Type: ptr(pipelinerun.TaskKindSh)},
	{Stage: "STATIC", Name: "Build Database", Type: ptr(pipelinerun.TaskKindR),
		ScriptPath: ptr("/srv/scripts"), ScriptFilename: ptr("build_db.R"), LogPath: ptr("/srv/logs"), LogFilename: ptr("build_db.log")},
}

func (e *env) register(t *testing.T) {
	t.Helper()
	if err := e.tr.Register(e.ctx, nil, seedTasks); err != nil {
		t.Fatalf("Register: %v", err)
	}
}

func (e *env) start(t *testing.T, stage, task string, subtasks int64) *pipeline.Run {
	t.Helper()
	r, err := e.tr.Start(e.ctx, stage, task, pipeline.StartOptions{Subtasks: subtasks,
		Process: &pipeline.Process{Hostname: "host-1", PID: 4242, PPID: 1, User: "alice"}, GitCommit: "abc123"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return r
}

func (e *env) run(t *testing.T, id uuid.UUID) *pipeline.Run {
	t.Helper()
	r, err := e.tr.Run(e.ctx, id)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

func (e *env) subtask(t *testing.T, id uuid.UUID, n int64) *pipeline.Subtask {
	t.Helper()
	subs, err := e.tr.Subtasks(e.ctx, id)
	if err != nil {
		t.Fatalf("Subtasks: %v", err)
	}
	for _, s := range subs {
		if s.SubtaskNumber == n {
			return s
		}
	}
	t.Fatalf("run %s has no subtask %d", id, n)
	return nil
}

func names(tasks []pipeline.Task) []string {
	var out []string
	for _, x := range tasks {
		out = append(out, x.Stage+"/"+x.Name)
	}
	return out
}

func TestRegister(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		// Bulk, then one at a time, in order; a task's stage is registered with it.
		e.register(t)
		if err := e.tr.RegisterStage(e.ctx, pipeline.Stage{Name: "DAILY", Description: ptr("every day")}); err != nil {
			t.Fatal(err)
		}
		if err := e.tr.RegisterTask(e.ctx, pipeline.Task{Stage: "DAILY", Name: "Fetch"}); err != nil {
			t.Fatal(err)
		}
		want := []string{"PREREQ/Install System Dependencies", "PREREQ/Install R", "STATIC/Build Database", "DAILY/Fetch"}
		tasks, err := e.tr.Tasks(e.ctx, "")
		if err != nil || !reflect.DeepEqual(names(tasks), want) {
			t.Fatalf("Tasks = %v, %v; want %v", names(tasks), err, want)
		}
		// Idempotent: registering everything again changes nothing, and a
		// re-registration without paths keeps them.
		e.register(t)
		if err := e.tr.RegisterTask(e.ctx, pipeline.Task{Stage: "STATIC", Name: "Build Database"}); err != nil {
			t.Fatal(err)
		}
		again, _ := e.tr.Tasks(e.ctx, "")
		if !reflect.DeepEqual(again, tasks) {
			t.Fatalf("after re-registering:\n got %+v\nwant %+v", again, tasks)
		}
		static, _ := e.tr.Tasks(e.ctx, "STATIC")
		if len(static) != 1 || *static[0].ScriptFilename != "build_db.R" || static[0].Order != 1 || *static[0].Type != pipelinerun.TaskKindR {
			t.Fatalf("STATIC tasks: %+v", static)
		}
		stages, _ := e.tr.Stages(e.ctx)
		var got []string
		for _, s := range stages {
			got = append(got, fmt.Sprintf("%d:%s", s.Order, s.Name))
		}
		if want := []string{"1:PREREQ", "2:STATIC", "3:DAILY"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("stages %v, want %v", got, want)
		}
		if stages[2].Description == nil || *stages[2].Description != "every day" {
			t.Fatalf("DAILY description %v", stages[2].Description)
		}
		// An explicit order moves a task.
		if err := e.tr.RegisterTask(e.ctx, pipeline.Task{Stage: "PREREQ", Name: "Install R", Order: 0}); err != nil {
			t.Fatal(err)
		}
		if err := e.tr.Register(e.ctx, []pipeline.Stage{{Name: "DAILY", Order: 1}, {Name: "PREREQ", Order: 2}, {Name: "STATIC", Order: 3}}, nil); err != nil {
			t.Fatal(err)
		}
		tasks, _ = e.tr.Tasks(e.ctx, "")
		if want := []string{"DAILY/Fetch", "PREREQ/Install System Dependencies", "PREREQ/Install R", "STATIC/Build Database"}; !reflect.DeepEqual(names(tasks), want) {
			t.Fatalf("after reordering stages: %v, want %v", names(tasks), want)
		}
	})
}

func TestRegisterRejectsBadEntriesAndWritesNothing(t *testing.T) {
	cases := []struct {
		name   string
		stages []pipeline.Stage
		tasks  []pipeline.Task
		want   string
	}{
		{"empty stage name", []pipeline.Stage{{Name: " "}}, nil, "stages[0]: name: is required"},
		{"empty task name", nil, []pipeline.Task{{Stage: "A", Name: "ok"}, {Stage: "A"}}, "tasks[1] (A / ): name: is required"},
		{"empty task stage", nil, []pipeline.Task{{Name: "x"}}, "stage: is required"},
		{"stage name ending in a space", []pipeline.Stage{{Name: "TRAIL "}}, nil, "stages[0]: name: must not begin or end with a space"},
		{"task name beginning with a space", nil, []pipeline.Task{{Stage: "A", Name: " Job"}}, "tasks[0] (A /  Job): name: must not begin or end with a space"},
		{"task's stage ending in a tab", nil, []pipeline.Task{{Stage: "A\t", Name: "Job"}}, "tasks[0] (A\t / Job): stage: must not begin or end with a space"},
		{"long task name", nil, []pipeline.Task{{Stage: "A", Name: strings.Repeat("n", 201)}}, "name"},
		{"long stage named by a task", nil, []pipeline.Task{{Stage: strings.Repeat("s", 101), Name: "x"}}, "stage: must be at most 100 characters"},
		{"unknown type", nil, []pipeline.Task{{Stage: "A", Name: "x", Type: ptr(pipelinerun.TaskKind("perl"))}}, "type"},
		{"negative order", []pipeline.Stage{{Name: "A", Order: -1}}, nil, "order"},
		{"long description", []pipeline.Stage{{Name: "A", Description: ptr(strings.Repeat("d", 70000))}}, nil,
			"stages[0]: description: must be at most 4000 characters (got 70000)"},
		{"long script path", nil, []pipeline.Task{{Stage: "A", Name: "x", ScriptPath: ptr(strings.Repeat("é", 1025))}},
			"tasks[0] (A / x): script_path: must be at most 1024 characters (got 1025)"},
		{"long log file name", nil, []pipeline.Task{{Stage: "A", Name: "x", LogFilename: ptr(strings.Repeat("l", 1025))}},
			"tasks[0] (A / x): log_filename: must be at most 1024 characters (got 1025)"},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				err := e.tr.Register(e.ctx, c.stages, c.tasks)
				if !errors.Is(err, tasktype.ErrValidation) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v, want ErrValidation containing %q", err, c.want)
				}
				if stages, _ := e.tr.Stages(e.ctx); len(stages) != 0 {
					t.Fatalf("stages written: %+v", stages)
				}
				if tasks, _ := e.tr.Tasks(e.ctx, ""); len(tasks) != 0 {
					t.Fatalf("tasks written: %+v", tasks)
				}
			})
		}
	})
}

// TestNamesWithSpacesAreRefused: a name with leading or trailing space is
// refused by the lookups that take one too, on every engine (MariaDB's
// PAD SPACE collation would otherwise find "TRAIL" for "TRAIL "), and
// nothing is written.
func TestNamesWithSpacesAreRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		if err := e.tr.Register(e.ctx, []pipeline.Stage{{Name: "TRAIL", Order: 1}}, []pipeline.Task{{Stage: "TRAIL", Name: "Job"}}); err != nil {
			t.Fatal(err)
		}
		run, err := e.tr.Start(e.ctx, "TRAIL", "Job", pipeline.StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			call func() error
			want string
		}{
			{"register a stage", func() error {
				return e.tr.Register(e.ctx, []pipeline.Stage{{Name: "TRAIL ", Order: 2}}, []pipeline.Task{{Stage: "TRAIL ", Name: "Job "}})
			}, "stages[0]: name: must not begin or end with a space\ntasks[0] (TRAIL  / Job ): stage: must not begin or end with a space\nname: must not begin or end with a space"},
			{"start a run", func() error { _, err := e.tr.Start(e.ctx, "TRAIL ", "Job", pipeline.StartOptions{}); return err },
				"start TRAIL  / Job: stage: must not begin or end with a space"},
			{"skip a task", func() error { _, err := e.tr.SkipTask(e.ctx, "TRAIL", " Job", pipeline.StartOptions{}); return err },
				"skip TRAIL /  Job: task: must not begin or end with a space"},
			{"start a subtask", func() error {
				_, err := e.tr.StartSubtask(e.ctx, run.ID, 1, pipeline.SubtaskStart{Name: "Load "})
				return err
			}, "run " + run.ID.String() + ": subtask 1: start: name: must not begin or end with a space"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if err := c.call(); !errors.Is(err, tasktype.ErrValidation) || err.Error() != c.want {
					t.Fatalf("err = %v\nwant ErrValidation %q", err, c.want)
				}
			})
		}
		stages, _ := e.tr.Stages(e.ctx)
		tasks, _ := e.tr.Tasks(e.ctx, "")
		subs, _ := e.tr.Subtasks(e.ctx, run.ID)
		if len(stages) != 1 || stages[0].Order != 1 || len(tasks) != 1 || tasks[0].Name != "Job" || len(subs) != 0 {
			t.Fatalf("written: %+v %+v %+v", stages, tasks, subs)
		}
	})
}

// TestStartReportsEveryProblem: Start and SkipTask refuse bad input with
// every problem at once: the names, a negative Subtasks, text past the
// limits, and (names well formed) an unknown stage or task; nothing is
// written.
func TestStartReportsEveryProblem(t *testing.T) {
	long := strings.Repeat("x", pipeline.MaxLabelLen+1)
	cases := []struct {
		name, stage, task string
		o                 pipeline.StartOptions
		is                []error
		want              string
	}{
		{"negative subtasks", "STATIC", "Build Database", pipeline.StartOptions{Subtasks: -2},
			[]error{tasktype.ErrValidation},
			"start STATIC / Build Database: total_subtasks: must be ≥ 0 (got -2); 0 means not known"},
		{"bad stage name and negative subtasks", "STATIC ", "Build Database", pipeline.StartOptions{Subtasks: -2},
			[]error{tasktype.ErrValidation},
			"start STATIC  / Build Database: stage: must not begin or end with a space; total_subtasks: must be ≥ 0 (got -2); 0 means not known"},
		{"unknown stage and negative subtasks", "NOPE", "Build Database", pipeline.StartOptions{Subtasks: -2},
			[]error{tasktype.ErrValidation, tasktype.ErrNotFound},
			"start NOPE / Build Database: total_subtasks: must be ≥ 0 (got -2); 0 means not known\n" +
				`stage "NOPE": not found; registered stages: "PREREQ", "STATIC"`},
		{"negative subtasks and a long version", "STATIC", "Build Database", pipeline.StartOptions{Subtasks: -1, CodeVersion: long},
			[]error{tasktype.ErrValidation},
			fmt.Sprintf("start STATIC / Build Database: total_subtasks: must be ≥ 0 (got -1); 0 means not known; code_version: must be at most %d characters (got %d)",
				pipeline.MaxLabelLen, pipeline.MaxLabelLen+1)},
		{"unknown stage alone", "NOPE", "Build Database", pipeline.StartOptions{},
			[]error{tasktype.ErrNotFound},
			`start NOPE / Build Database: stage "NOPE": not found; registered stages: "PREREQ", "STATIC"`},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := e.tr.Start(e.ctx, c.stage, c.task, c.o)
				if err == nil || err.Error() != c.want {
					t.Fatalf("err = %v\nwant %s", err, c.want)
				}
				for _, is := range c.is {
					if !errors.Is(err, is) {
						t.Errorf("err is not %v", is)
					}
				}
			})
		}
		if runs, err := e.tr.Active(e.ctx); err != nil || len(runs) != 0 {
			t.Errorf("runs written: %v, %v", runs, err)
		}
	})
}

func TestStartRecordsTheRun(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		r, err := e.tr.Start(e.ctx, "STATIC", "Build Database", pipeline.StartOptions{
			Subtasks: 3, CodeVersion: "1.2.0", GitCommit: "0123abc", Environment: map[string]string{"env": "production"},
			Process: &pipeline.Process{Hostname: "worker-7", PID: 100, PPID: 99, User: "alice"}, LogFilename: "override.log", Message: "go"})
		if err != nil {
			t.Fatal(err)
		}
		got := e.run(t, r.ID)
		if got.Status != pipelinerun.StatusStarted || got.StartedAt == nil || !got.StartedAt.Equal(e.clock.Now().Truncate(time.Microsecond)) {
			t.Errorf("status %s, started_at %v", got.Status, got.StartedAt)
		}
		checks := map[string][2]any{
			"hostname":        {*got.Hostname, "worker-7"},
			"pid":             {*got.PID, int64(100)},
			"ppid":            {*got.PPID, int64(99)},
			"user_name":       {*got.UserName, "alice"},
			"code_version":    {*got.CodeVersion, "1.2.0"},
			"git_commit":      {*got.GitCommit, "0123abc"},
			"total_subtasks":  {*got.TotalSubtasks, int64(3)},
			"script_path":     {*got.ScriptPath, "/srv/scripts"},
			"script_filename": {*got.ScriptFilename, "build_db.R"},
			"log_path":        {*got.LogPath, "/srv/logs"},
			"log_filename":    {*got.LogFilename, "override.log"},
			"message":         {*got.Message, "go"},
		}
		for field, c := range checks {
			if c[0] != c[1] {
				t.Errorf("%s = %v, want %v", field, c[0], c[1])
			}
		}
		var envJSON map[string]string
		if err := json.Unmarshal(got.Environment, &envJSON); err != nil || envJSON["env"] != "production" {
			t.Errorf("environment %s: %v", got.Environment, err)
		}
		if want := fmt.Sprintf("[TASK START] STATIC / Build Database (run_id: %s)", r.ID); !strings.Contains(e.logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, e.logs)
		}
	})
}

func TestStartDetectsTheProcess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		r, err := e.tr.Start(e.ctx, "PREREQ", "Install R", pipeline.StartOptions{Dir: t.TempDir(), ScriptPath: "/x"})
		if err != nil {
			t.Fatal(err)
		}
		host, _ := os.Hostname()
		if r.Hostname == nil || *r.Hostname != host || r.PID == nil || *r.PID != int64(os.Getpid()) ||
			r.PPID == nil || *r.PPID != int64(os.Getppid()) || r.UserName == nil {
			t.Errorf("process fields: host %v pid %v ppid %v user %v", r.Hostname, r.PID, r.PPID, r.UserName)
		}
		if r.GitCommit != nil {
			t.Errorf("git commit %q outside a work tree", *r.GitCommit)
		}
		if r.ScriptPath == nil || *r.ScriptPath != "/x" || r.LogPath != nil {
			t.Errorf("paths: %v %v", r.ScriptPath, r.LogPath)
		}
	})
}

func TestRunLifecycle(t *testing.T) {
	type step struct {
		do     func(e *env, id uuid.UUID) (*pipeline.Run, error)
		status pipelinerun.Status
	}
	update := func(p float64, msg string) func(e *env, id uuid.UUID) (*pipeline.Run, error) {
		return func(e *env, id uuid.UUID) (*pipeline.Run, error) {
			return e.tr.Update(e.ctx, id, pipeline.RunUpdate{Percent: &p, Message: &msg})
		}
	}
	cases := []struct {
		name   string
		steps  []step
		events []string
		log    string
	}{
		{"update then complete", []step{
			{update(50, "Processing..."), pipelinerun.StatusRunning},
			{update(75, "more"), pipelinerun.StatusRunning},
			{func(e *env, id uuid.UUID) (*pipeline.Run, error) {
				return e.tr.Complete(e.ctx, id, "Finished successfully")
			}, pipelinerun.StatusCompleted},
		}, []string{"", "start", "run", "complete"}, "- COMPLETED: Finished successfully"},
		{"complete right after start", []step{
			{func(e *env, id uuid.UUID) (*pipeline.Run, error) { return e.tr.Complete(e.ctx, id, "") }, pipelinerun.StatusCompleted},
		}, []string{"", "start", "complete"}, "- COMPLETED"},
		{"fail", []step{
			{update(10, "x"), pipelinerun.StatusRunning},
			{func(e *env, id uuid.UUID) (*pipeline.Run, error) { return e.tr.Fail(e.ctx, id, "disk full", "trace") }, pipelinerun.StatusFailed},
		}, []string{"", "start", "run", "fail"}, "- FAILED: disk full"},
		{"skip", []step{
			{func(e *env, id uuid.UUID) (*pipeline.Run, error) { return e.tr.Skip(e.ctx, id, "up to date") }, pipelinerun.StatusSkipped},
		}, []string{"", "start", "skip"}, "- SKIPPED: up to date"},
		{"cancel", []step{
			{update(10, "x"), pipelinerun.StatusRunning},
			{func(e *env, id uuid.UUID) (*pipeline.Run, error) { return e.tr.Cancel(e.ctx, id, "operator") }, pipelinerun.StatusCancelled},
		}, []string{"", "start", "run", "cancel"}, "- CANCELLED: operator"},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.start(t, "STATIC", "Build Database", 0)
				for i, s := range c.steps {
					e.clock.Advance(time.Second)
					got, err := s.do(e, r.ID)
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					if got.Status != s.status {
						t.Fatalf("step %d: status %s, want %s", i, got.Status, s.status)
					}
					if stored := e.run(t, r.ID); !reflect.DeepEqual(stored, got) {
						t.Fatalf("step %d: returned %+v, stored %+v", i, got, stored)
					}
				}
				final := e.run(t, r.ID)
				if final.EndedAt == nil || !final.EndedAt.Equal(e.clock.Now().Truncate(time.Microsecond)) {
					t.Errorf("ended_at %v", final.EndedAt)
				}
				if final.Status == pipelinerun.StatusCompleted && final.OverallPercent != 100 {
					t.Errorf("completed at %v%%", final.OverallPercent)
				}
				if final.Status == pipelinerun.StatusFailed && (*final.ErrorMessage != "disk full" || *final.ErrorDetail != "trace") {
					t.Errorf("error fields %v %v", final.ErrorMessage, final.ErrorDetail)
				}
				h, err := e.st.Runs().History(e.ctx, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				var events []string
				for _, x := range h {
					events = append(events, x.Event)
				}
				if !reflect.DeepEqual(events, c.events) {
					t.Errorf("history events %v, want %v", events, c.events)
				}
				if want := fmt.Sprintf("[TASK UPDATE] %s %s", r.ID, c.log); !strings.Contains(e.logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, e.logs)
				}
			})
		}
	})
}

// snapshot is everything stored about a run: it must not change when a
// call is refused.
func (e *env) snapshot(t *testing.T, id uuid.UUID) string {
	t.Helper()
	r, err := e.tr.Run(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := e.tr.Subtasks(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	h, err := e.st.Runs().History(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var subHist []any
	for _, s := range subs {
		sh, err := e.st.Subtasks().History(e.ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		subHist = append(subHist, sh)
	}
	b, err := json.Marshal([]any{r, subs, h, subHist})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRefusedCallsWriteNothing(t *testing.T) {
	unknown := uuid.MustParse("00000000-0000-7000-8000-000000000001")
	type call func(e *env, id uuid.UUID) error
	cases := []struct {
		name  string
		setup []call // brings the run to the state the call is refused in
		call  call
		is    error
		want  string
	}{
		{"unknown run id", nil, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Update(e.ctx, unknown, pipeline.RunUpdate{Percent: ptr(5.0)})
			return err
		}, tasktype.ErrNotFound, "update: run 00000000-0000-7000-8000-000000000001: not found"},
		{"percent 120", nil, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Update(e.ctx, id, pipeline.RunUpdate{Percent: ptr(120.0)})
			return err
		}, tasktype.ErrValidation, "overall_percent"},
		{"negative percent while running", []call{updateRun(10)}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Update(e.ctx, id, pipeline.RunUpdate{Percent: ptr(-1.0)})
			return err
		}, tasktype.ErrValidation, "overall_percent"},
		{"update a completed run", []call{forceCompleteRun}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Update(e.ctx, id, pipeline.RunUpdate{Percent: ptr(5.0)})
			return err
		}, tasktype.ErrTransitionNotAllowed, `is COMPLETED: cannot update it; updates need STARTED or RUNNING`},
		{"complete twice", []call{forceCompleteRun}, completeRun, tasktype.ErrTransitionNotAllowed, `: complete: not possible while the run is COMPLETED; it has ended`},
		{"skip a running run", []call{updateRun(10)}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Skip(e.ctx, id, "")
			return err
		}, tasktype.ErrTransitionNotAllowed, `: skip: not possible while the run is RUNNING; possible now: complete, fail, cancel`},
		{"fail without a message", nil, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Fail(e.ctx, id, "", "")
			return err
		}, tasktype.ErrValidation, "error_message: is required"},
		{"fail a cancelled run", []call{func(e *env, id uuid.UUID) error { _, err := e.tr.Cancel(e.ctx, id, ""); return err }}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Fail(e.ctx, id, "boom", "")
			return err
		}, tasktype.ErrTransitionNotAllowed, "; it has ended"},
		{"complete with a running subtask", []call{startSub(1, nil)}, completeRun, tasktype.ErrTransitionNotAllowed,
			"cannot complete the run: subtask 1 (step 1) is STARTED; subtasks 2, 3 of 3 never started; complete or fail them first"},
		{"complete with a declared subtask never started", []call{startSub(1, nil), completeSub(1), startSub(2, nil), completeSub(2)}, completeRun,
			tasktype.ErrTransitionNotAllowed, "cannot complete the run: subtask 3 of 3 never started; complete or fail them first"},
		{"subtask number past total_subtasks", nil, startSub(4, nil), tasktype.ErrValidation, "subtask_number: must be at most 3, the run's total_subtasks"},
		{"subtask number 0", nil, startSub(0, nil), tasktype.ErrValidation, "subtask_number"},
		{"subtask started twice", []call{startSub(1, nil)}, startSub(1, nil), tasktype.ErrDuplicate, "subtask 1: start: subtask 1 was started already"},
		{"subtask of a finished run", []call{forceCompleteRun}, startSub(1, nil), tasktype.ErrTransitionNotAllowed, "cannot start a subtask; subtasks start while the run is STARTED or RUNNING"},
		{"negative items_total", nil, startSub(1, ptr(int64(-5))), tasktype.ErrValidation, "items_total"},
		{"increment by a negative number", []call{startSub(1, ptr(int64(10)))}, increment(1, -3), tasktype.ErrValidation, "by: must be at least 1"},
		{"increment by zero", []call{startSub(1, ptr(int64(10)))}, increment(1, 0), tasktype.ErrValidation, "by: must be at least 1"},
		{"increment past items_total", []call{startSub(1, ptr(int64(10))), increment(1, 8)}, increment(1, 3), tasktype.ErrValidation,
			"by: must be at most 2: items_complete is 8 of items_total 10"},
		{"increment past the largest count", []call{startSub(1, nil), increment(1, 1)}, increment(1, math.MaxInt64), tasktype.ErrValidation,
			"by: must be at most 9223372036854775806: items_complete is 1, and the count may not pass 9223372036854775807, the largest allowed"},
		{"increment past items_total by the largest number", []call{startSub(1, ptr(int64(10))), increment(1, 1)}, increment(1, math.MaxInt64), tasktype.ErrValidation,
			"by: must be at most 9: items_complete is 1 of items_total 10"},
		{"increment an unknown subtask", nil, increment(2, 1), tasktype.ErrNotFound, ": subtask 2: increment: not found; start it first"},
		{"increment a subtask of an unknown run", nil, func(e *env, id uuid.UUID) error {
			_, err := e.tr.IncrementSubtask(e.ctx, unknown, 1, 1)
			return err
		}, tasktype.ErrNotFound, "subtask 1: increment: run 00000000-0000-7000-8000-000000000001: not found"},
		{"increment a completed subtask", []call{startSub(1, ptr(int64(10))), completeSub(1)}, increment(1, 1), tasktype.ErrTransitionNotAllowed,
			"subtask 1 is COMPLETED: cannot increment it; increments need STARTED or RUNNING"},
		{"negative items_complete", []call{startSub(1, ptr(int64(10)))}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.UpdateSubtask(e.ctx, id, 1, pipeline.SubtaskUpdate{ItemsComplete: ptr(int64(-1))})
			return err
		}, tasktype.ErrValidation, "items_complete"},
		{"items_complete past items_total", []call{startSub(1, ptr(int64(10)))}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.UpdateSubtask(e.ctx, id, 1, pipeline.SubtaskUpdate{ItemsComplete: ptr(int64(11))})
			return err
		}, tasktype.ErrValidation, "items_complete: must be at most items_total (10)"},
		{"items_total below items_complete", []call{startSub(1, ptr(int64(10))), increment(1, 4)}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.UpdateSubtask(e.ctx, id, 1, pipeline.SubtaskUpdate{ItemsTotal: ptr(int64(3))})
			return err
		}, tasktype.ErrValidation, "items_total: must be at least items_complete (4)"},
		{"subtask percent 120", []call{startSub(1, nil)}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.UpdateSubtask(e.ctx, id, 1, pipeline.SubtaskUpdate{Percent: ptr(120.0)})
			return err
		}, tasktype.ErrValidation, "percent"},
		{"update a failed subtask", []call{startSub(1, nil), func(e *env, id uuid.UUID) error { _, err := e.tr.FailSubtask(e.ctx, id, 1, "x"); return err }},
			func(e *env, id uuid.UUID) error {
				_, err := e.tr.UpdateSubtask(e.ctx, id, 1, pipeline.SubtaskUpdate{Percent: ptr(5.0)})
				return err
			}, tasktype.ErrTransitionNotAllowed, `subtask 1: update: subtask 1 is FAILED: cannot update it; updates need STARTED or RUNNING`},
		{"fail a subtask without a message", []call{startSub(1, nil)}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.FailSubtask(e.ctx, id, 1, "")
			return err
		}, tasktype.ErrValidation, "error_message: is required"},
		{"complete a subtask twice", []call{startSub(1, nil), completeSub(1)}, completeSub(1), tasktype.ErrTransitionNotAllowed, "; it has ended"},
		// Text past the tracker's limits, refused before anything moves: a
		// run's failure does not fail its subtasks first, nor a forced
		// completion cancel them.
		{"fail with a detail too long", []call{startSub(1, nil)}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Fail(e.ctx, id, "boom", strings.Repeat("d", pipeline.MaxDetailLen+1))
			return err
		}, tasktype.ErrValidation, "error_detail: must be at most 16000 characters (got 16001)"},
		{"fail with a message too long", []call{startSub(1, nil)}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Fail(e.ctx, id, strings.Repeat("é", pipeline.MaxMessageLen+1), "")
			return err
		}, tasktype.ErrValidation, "error_message: must be at most 4000 characters (got 4001)"},
		{"complete by force with a message too long", []call{startSub(1, nil)}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.CompleteWith(e.ctx, id, strings.Repeat("m", 70000), pipeline.CompleteOptions{Force: true})
			return err
		}, tasktype.ErrValidation, "message: must be at most 4000 characters (got 70000)"},
		{"cancel with a message too long", []call{startSub(1, nil)}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Cancel(e.ctx, id, strings.Repeat("m", 4001))
			return err
		}, tasktype.ErrValidation, "message: must be at most 4000 characters (got 4001)"},
		{"update with a message too long", nil, func(e *env, id uuid.UUID) error {
			_, err := e.tr.Update(e.ctx, id, pipeline.RunUpdate{Message: ptr(strings.Repeat("m", 4001))})
			return err
		}, tasktype.ErrValidation, "message: must be at most 4000 characters (got 4001)"},
		{"start a subtask with a message too long", nil, func(e *env, id uuid.UUID) error {
			_, err := e.tr.StartSubtask(e.ctx, id, 1, pipeline.SubtaskStart{Name: "x", Message: strings.Repeat("m", 4001)})
			return err
		}, tasktype.ErrValidation, "message: must be at most 4000 characters (got 4001)"},
		{"update a subtask with a message too long", []call{startSub(1, nil)}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.UpdateSubtask(e.ctx, id, 1, pipeline.SubtaskUpdate{Message: ptr(strings.Repeat("m", 4001))})
			return err
		}, tasktype.ErrValidation, "message: must be at most 4000 characters (got 4001)"},
		{"fail a subtask with a message too long", []call{startSub(1, nil)}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.FailSubtask(e.ctx, id, 1, strings.Repeat("m", 4001))
			return err
		}, tasktype.ErrValidation, "error_message: must be at most 4000 characters (got 4001)"},
		{"complete a subtask with a message too long", []call{startSub(1, nil)}, func(e *env, id uuid.UUID) error {
			_, err := e.tr.CompleteSubtask(e.ctx, id, 1, strings.Repeat("m", 4001))
			return err
		}, tasktype.ErrValidation, "message: must be at most 4000 characters (got 4001)"},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.start(t, "STATIC", "Build Database", 3)
				for i, s := range c.setup {
					if err := s(e, r.ID); err != nil {
						t.Fatalf("setup %d: %v", i, err)
					}
				}
				before := e.snapshot(t, r.ID)
				e.clock.Advance(time.Minute)
				err := c.call(e, r.ID)
				if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v\nwant %v containing %q", err, c.is, c.want)
				}
				for _, run := range []string{unknown.String(), r.ID.String()} {
					if strings.Count(err.Error(), run) > 1 {
						t.Errorf("err = %v: names run %s more than once", err, run)
					}
				}
				if after := e.snapshot(t, r.ID); after != before {
					t.Fatalf("a refused call wrote:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
	})
}

func updateRun(p float64) func(e *env, id uuid.UUID) error {
	return func(e *env, id uuid.UUID) error {
		_, err := e.tr.Update(e.ctx, id, pipeline.RunUpdate{Percent: &p})
		return err
	}
}

func forceCompleteRun(e *env, id uuid.UUID) error {
	_, err := e.tr.CompleteWith(e.ctx, id, "", pipeline.CompleteOptions{Force: true})
	return err
}

func completeRun(e *env, id uuid.UUID) error {
	_, err := e.tr.Complete(e.ctx, id, "")
	return err
}

func startSub(n int64, total *int64) func(e *env, id uuid.UUID) error {
	return func(e *env, id uuid.UUID) error {
		_, err := e.tr.StartSubtask(e.ctx, id, n, pipeline.SubtaskStart{Name: fmt.Sprintf("step %d", n), ItemsTotal: total})
		return err
	}
}

func completeSub(n int64) func(e *env, id uuid.UUID) error {
	return func(e *env, id uuid.UUID) error {
		_, err := e.tr.CompleteSubtask(e.ctx, id, n, "")
		return err
	}
}

func failSub(n int64) func(e *env, id uuid.UUID) error {
	return func(e *env, id uuid.UUID) error {
		_, err := e.tr.FailSubtask(e.ctx, id, n, "broken")
		return err
	}
}

func updateSub(n int64) func(e *env, id uuid.UUID) error {
	return func(e *env, id uuid.UUID) error {
		_, err := e.tr.UpdateSubtask(e.ctx, id, n, pipeline.SubtaskUpdate{Message: ptr("m")})
		return err
	}
}

func increment(n, by int64) func(e *env, id uuid.UUID) error {
	return func(e *env, id uuid.UUID) error {
		_, err := e.tr.IncrementSubtask(e.ctx, id, n, by)
		return err
	}
}

func TestUnknownTaskListsTheRegisteredOnes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		if err := e.tr.Register(e.ctx, []pipeline.Stage{{Name: "EMPTY"}}, nil); err != nil {
			t.Fatal(err)
		}
		cases := []struct{ stage, task, want string }{
			{"PREREQ", "Install Python", `task "Install Python" in stage "PREREQ": not found; registered in that stage: "Install System Dependencies", "Install R"`},
			// A stage that is not registered is named as such, with the
			// stages that are, not as a stage without tasks.
			{"STAT", "Build Database", `start STAT / Build Database: stage "STAT": not found; registered stages: "PREREQ", "STATIC", "EMPTY"`},
			{"EMPTY", "x", `task "x" in stage "EMPTY": not found; stage "EMPTY" has no registered task; register tasks first`},
		}
		for _, c := range cases {
			_, err := e.tr.Start(e.ctx, c.stage, c.task, pipeline.StartOptions{})
			var nf *pipeline.NotFoundError
			if !errors.As(err, &nf) || !errors.Is(err, tasktype.ErrNotFound) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Start(%s, %s) = %v, want %q", c.stage, c.task, err, c.want)
			}
		}
		if h, _ := e.tr.History(e.ctx, pipeline.HistoryQuery{}); len(h) != 0 {
			t.Errorf("runs written: %d", len(h))
		}
		if _, err := e.tr.Start(e.ctx, "", "x", pipeline.StartOptions{}); !errors.Is(err, tasktype.ErrValidation) || !strings.Contains(err.Error(), "stage: is required") {
			t.Errorf("empty stage: %v", err)
		}
	})
}

func TestSubtasks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		r := e.start(t, "STATIC", "Build Database", 3)
		s, err := e.tr.StartSubtask(e.ctx, r.ID, 1, pipeline.SubtaskStart{Name: "Loading data", ItemsTotal: ptr(int64(56))})
		if err != nil {
			t.Fatal(err)
		}
		if s.Status != pipelinesubtask.StatusStarted || s.StartedAt == nil || s.RunID != r.ID {
			t.Fatalf("started subtask %+v", s)
		}
		run := e.run(t, r.ID)
		if run.Status != pipelinerun.StatusRunning || run.CurrentSubtask == nil || *run.CurrentSubtask != 1 {
			t.Fatalf("run after subtask start: %s, current %v", run.Status, run.CurrentSubtask)
		}
		e.clock.Advance(10 * time.Second)
		s, err = e.tr.UpdateSubtask(e.ctx, r.ID, 1, pipeline.SubtaskUpdate{ItemsComplete: ptr(int64(28)), Message: ptr("Processing state 28/56")})
		if err != nil {
			t.Fatal(err)
		}
		if s.Status != pipelinesubtask.StatusRunning || s.Percent != 50 || s.ItemsComplete != 28 {
			t.Fatalf("after update: %s %v%% %d", s.Status, s.Percent, s.ItemsComplete)
		}
		s, err = e.tr.IncrementSubtask(e.ctx, r.ID, 1, 14)
		if err != nil {
			t.Fatal(err)
		}
		if s.ItemsComplete != 42 || s.Percent != 75 || s.Status != pipelinesubtask.StatusRunning {
			t.Fatalf("after increment: %d %v%% %s", s.ItemsComplete, s.Percent, s.Status)
		}
		if stored := e.subtask(t, r.ID, 1); !reflect.DeepEqual(stored, s) {
			t.Fatalf("returned %+v\nstored %+v", s, stored)
		}
		s, err = e.tr.CompleteSubtask(e.ctx, r.ID, 1, "All states loaded")
		if err != nil || s.Status != pipelinesubtask.StatusCompleted || s.Percent != 100 || s.EndedAt == nil {
			t.Fatalf("complete: %+v, %v", s, err)
		}
		// A subtask with no items: start then complete, no update (as tasker's scripts do).
		if _, err := e.tr.StartSubtask(e.ctx, r.ID, 2, pipeline.SubtaskStart{Name: "Indexes"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.tr.IncrementSubtask(e.ctx, r.ID, 2, 5); err != nil {
			t.Fatal(err)
		}
		if got := e.subtask(t, r.ID, 2); got.ItemsComplete != 5 || got.Percent != 0 || got.Status != pipelinesubtask.StatusRunning {
			t.Fatalf("increment without total: %+v", got)
		}
		// Up to the largest count exactly: no engine overflows on the way.
		if got, err := e.tr.IncrementSubtask(e.ctx, r.ID, 2, math.MaxInt64-5); err != nil || got.ItemsComplete != math.MaxInt64 {
			t.Fatalf("increment to the largest count: %+v, %v", got, err)
		}
		if got := e.subtask(t, r.ID, 2); got.ItemsComplete != math.MaxInt64 {
			t.Fatalf("stored after the increment to the largest count: %d", got.ItemsComplete)
		}
		if _, err := e.tr.FailSubtask(e.ctx, r.ID, 2, "index build failed"); err != nil {
			t.Fatal(err)
		}
		subs, err := e.tr.Subtasks(e.ctx, r.ID)
		if err != nil || len(subs) != 2 || subs[0].SubtaskNumber != 1 || subs[1].Status != pipelinesubtask.StatusFailed || *subs[1].ErrorMessage != "index build failed" {
			t.Fatalf("Subtasks = %+v, %v", subs, err)
		}
		if h, _ := e.st.Subtasks().History(e.ctx, subs[0].ID); len(h) != 4 || h[2].Event != "run" || h[3].Event != "complete" {
			t.Fatalf("subtask history %+v", h)
		}
		for _, want := range []string{
			fmt.Sprintf("[SUBTASK START] Subtask 1: Loading data (run_id: %s)", r.ID),
			"[SUBTASK UPDATE] Subtask 1 - RUNNING: Processing state 28/56",
			"[SUBTASK UPDATE] Subtask 1 - RUNNING: +14, 42/56 items",
			"[SUBTASK UPDATE] Subtask 1 - COMPLETED: All states loaded",
			"[SUBTASK UPDATE] Subtask 2 - FAILED: index build failed",
		} {
			if !strings.Contains(e.logs.String(), want) {
				t.Errorf("log lacks %q", want)
			}
		}
		if _, err := e.tr.Subtasks(e.ctx, uuid.New()); !errors.Is(err, tasktype.ErrNotFound) {
			t.Errorf("Subtasks of an unknown run: %v", err)
		}
	})
}

func TestFinishingARunMovesItsUnfinishedSubtasks(t *testing.T) {
	cases := []struct {
		name   string
		finish func(e *env, id uuid.UUID) (*pipeline.Run, error)
		run    pipelinerun.Status
		sub    pipelinesubtask.Status
	}{
		{"fail", func(e *env, id uuid.UUID) (*pipeline.Run, error) { return e.tr.Fail(e.ctx, id, "out of memory", "") },
			pipelinerun.StatusFailed, pipelinesubtask.StatusFailed},
		{"cancel", func(e *env, id uuid.UUID) (*pipeline.Run, error) { return e.tr.Cancel(e.ctx, id, "stop") },
			pipelinerun.StatusCancelled, pipelinesubtask.StatusCancelled},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.start(t, "STATIC", "Build Database", 0)
				for n := int64(1); n <= 3; n++ {
					if err := startSub(n, ptr(int64(10)))(e, r.ID); err != nil {
						t.Fatal(err)
					}
				}
				if err := completeSub(1)(e, r.ID); err != nil {
					t.Fatal(err)
				}
				if err := increment(2, 3)(e, r.ID); err != nil {
					t.Fatal(err)
				}
				got, err := c.finish(e, r.ID)
				if err != nil || got.Status != c.run {
					t.Fatalf("finish: %+v, %v", got, err)
				}
				subs, _ := e.tr.Subtasks(e.ctx, r.ID)
				want := []pipelinesubtask.Status{pipelinesubtask.StatusCompleted, c.sub, c.sub}
				for i, s := range subs {
					if s.Status != want[i] {
						t.Errorf("subtask %d: %s, want %s", s.SubtaskNumber, s.Status, want[i])
					}
					if c.sub == pipelinesubtask.StatusFailed && i > 0 && (s.ErrorMessage == nil || *s.ErrorMessage != "run failed: out of memory") {
						t.Errorf("subtask %d error_message %v", s.SubtaskNumber, s.ErrorMessage)
					}
				}
			})
		}
	})
}

func TestSkipTask(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		r, err := e.tr.SkipTask(e.ctx, "PREREQ", "Install R", pipeline.StartOptions{Message: "already installed"})
		if err != nil || r.Status != pipelinerun.StatusSkipped || r.StartedAt != nil || r.EndedAt == nil {
			t.Fatalf("SkipTask: %+v, %v", r, err)
		}
		h, _ := e.st.Runs().History(e.ctx, r.ID)
		if len(h) != 2 || h[1].Event != "skip" || h[1].From != "NOT_STARTED" {
			t.Fatalf("history %+v", h)
		}
	})
}

// TestFinishesAtOnceAgree: a fail and a complete by force of the same run
// at once leave records that agree — the run's status and its subtasks'
// are the winner's. The subtasks moved before the run's guarded move, so
// the loser's subtask moves stayed: a COMPLETED run with FAILED subtasks,
// or a FAILED one with subtasks cancelled by the force.
func TestFinishesAtOnceAgree(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		for round := range 8 {
			r := e.start(t, "STATIC", "Build Database", 0)
			for n := int64(1); n <= 3; n++ {
				if err := startSub(n, ptr(int64(10)))(e, r.ID); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() { _, _ = e.tr.CompleteWith(e.ctx, r.ID, "forced", pipeline.CompleteOptions{Force: true}) })
				wg.Go(func() { _, _ = e.tr.Fail(e.ctx, r.ID, "broken", "") })
			}
			wg.Wait()
			want := map[pipelinerun.Status]pipelinesubtask.Status{
				pipelinerun.StatusCompleted: pipelinesubtask.StatusCancelled,
				pipelinerun.StatusFailed:    pipelinesubtask.StatusFailed,
			}
			run := e.run(t, r.ID)
			subs, err := e.tr.Subtasks(e.ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range subs {
				if s.Status != want[run.Status] {
					t.Errorf("round %d: the run is %s, its subtask %d %s; want %s", round, run.Status, s.SubtaskNumber, s.Status, want[run.Status])
				}
			}
		}
	})
}
