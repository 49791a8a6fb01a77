package pipeline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/tasktype"
)

// TestStorageNeverCutsText: a registration's text is stored whole, or
// refused (an engine's column may be smaller than the value) and nothing is
// written; never cut. The tracker's own limits are below every engine's
// column; this calls the storage directly, past them.
func TestStorageNeverCutsText(t *testing.T) {
	long := strings.Repeat("x", 70000)
	cases := []struct {
		name   string
		stages []pipeline.Stage
		tasks  []pipeline.Task
		get    func(e *env) *string
	}{
		{"stage description", []pipeline.Stage{{Name: "D", Order: 1, Description: &long}}, nil, func(e *env) *string {
			st, err := e.st.Stages(e.ctx)
			if err != nil || len(st) == 0 {
				return nil
			}
			return st[0].Description
		}},
		{"task script_path", nil, []pipeline.Task{{Stage: "D", Name: "T", ScriptPath: &long}}, func(e *env) *string {
			task, err := e.st.Task(e.ctx, "D", "T")
			if err != nil {
				return nil
			}
			return task.ScriptPath
		}},
		{"task log_filename", nil, []pipeline.Task{{Stage: "D", Name: "T", LogFilename: &long}}, func(e *env) *string {
			task, err := e.st.Task(e.ctx, "D", "T")
			if err != nil {
				return nil
			}
			return task.LogFilename
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) {
				err := e.st.Register(e.ctx, c.stages, c.tasks)
				got := c.get(e)
				switch {
				case err != nil && got != nil:
					t.Fatalf("refused (%v), but %d characters were written", err, len(*got))
				case err == nil && (got == nil || *got != long):
					n := -1
					if got != nil {
						n = len(*got)
					}
					t.Fatalf("stored %d characters of %d", n, len(long))
				}
			})
		})
	}
}

// TestStartRefusesTextPastTheLimits: Start refuses text past the tracker's
// limits, naming the field, on every engine, and records no run.
func TestStartRefusesTextPastTheLimits(t *testing.T) {
	cases := []struct {
		name string
		o    pipeline.StartOptions
		want string
	}{
		{"user", pipeline.StartOptions{Process: &pipeline.Process{User: strings.Repeat("u", 256)}}, "user_name: must be at most 255 characters (got 256)"},
		{"code version", pipeline.StartOptions{CodeVersion: strings.Repeat("é", 256)}, "code_version: must be at most 255 characters (got 256)"},
		{"script path", pipeline.StartOptions{ScriptPath: strings.Repeat("p", 1025)}, "script_path: must be at most 1024 characters (got 1025)"},
		{"script file name", pipeline.StartOptions{ScriptFilename: strings.Repeat("p", 1025)}, "script_filename: must be at most 1024 characters (got 1025)"},
		{"log path", pipeline.StartOptions{LogPath: strings.Repeat("p", 1025)}, "log_path: must be at most 1024 characters (got 1025)"},
		{"log file name", pipeline.StartOptions{LogFilename: strings.Repeat("😀", 1025)}, "log_filename: must be at most 1024 characters (got 1025)"},
		{"message", pipeline.StartOptions{Message: strings.Repeat("m", 4001)}, "message: must be at most 4000 characters (got 4001)"},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				c.o.NoGitLookup = true
				_, err := e.tr.Start(e.ctx, "STATIC", "Build Database", c.o)
				if !errors.Is(err, tasktype.ErrValidation) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v, want ErrValidation containing %q", err, c.want)
				}
				if runs, err := e.tr.History(e.ctx, pipeline.HistoryQuery{}); err != nil || len(runs) != 0 {
					t.Fatalf("runs written: %d, %v", len(runs), err)
				}
			})
		}
	})
}
