package pipeline_test

import (
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/sdk/pipeline"
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
