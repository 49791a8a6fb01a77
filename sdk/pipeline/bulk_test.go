package pipeline_test

import (
	"errors"
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/tasktype"
)

// TestStorageBulkCreates: a bulk create of subtasks (backends.Store
// CreateMany) keeps every storage's rule of one subtask per run and number,
// against stored subtasks and within the batch, and writes nothing when it
// refuses; an accepted batch is read back like single creates.
func TestStorageBulkCreates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		r := e.start(t, seedTasks[0].Stage, seedTasks[0].Name, 0)
		subs := backends.NewStore[storage.Subtask, pipelinesubtask.Event](e.st.Subtasks())
		sub := func(n int64) *storage.Subtask {
			s := pipelinesubtask.NewPipelineSubtask()
			s.RunID, s.SubtaskNumber, s.Name = r.ID, n, "part"
			return s
		}
		if _, err := subs.CreateMany(e.ctx, []*storage.Subtask{sub(1), sub(2)}, backends.Meta{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name  string
			batch []*storage.Subtask
		}{
			{"a number stored before", []*storage.Subtask{sub(3), sub(2)}},
			{"a number twice in the batch", []*storage.Subtask{sub(4), sub(5), sub(4)}},
		} {
			if _, err := subs.CreateMany(e.ctx, c.batch, backends.Meta{}); !errors.Is(err, tasktype.ErrDuplicate) {
				t.Errorf("%s: CreateMany error %v, want ErrDuplicate", c.name, err)
			}
		}
		got, err := e.st.SubtasksOf(e.ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].SubtaskNumber != 1 || got[1].SubtaskNumber != 2 {
			t.Errorf("subtasks after the refused batches: %d (%v), want numbers 1 and 2", len(got), got)
		}
	})
}
