package backends_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/tasktype"
)

type store = backends.Store[analysis.Task, analysis.Event, *analysis.Task]

// TestNarrowedRulesKeepStoredTasksMoving: a task stored before its spec
// narrowed a rule that no migration can check in SQL (tool_id's pattern,
// the valid-text rule on agents) still moves and updates; a write that sets
// such a value, and every create, is checked in full.
func TestNarrowedRulesKeepStoredTasksMoving(t *testing.T) {
	ctx := context.Background()
	errMsg := "Required files not found in storage"
	for _, c := range []struct {
		name   string
		write  func(s *store, cur *analysis.Task) (*analysis.Task, error)
		refuse string // the refused field; empty when the write passes
	}{
		{"event that changes no stored value", func(s *store, cur *analysis.Task) (*analysis.Task, error) {
			return s.FireFrom(ctx, cur, analysis.EventRequestUploadURLs, nil, backends.Meta{})
		}, ""},
		{"event that sets a field it requires", func(s *store, cur *analysis.Task) (*analysis.Task, error) {
			up, err := s.FireFrom(ctx, cur, analysis.EventRequestUploadURLs, nil, backends.Meta{})
			if err != nil {
				return nil, err
			}
			return s.FireFrom(ctx, up, analysis.EventUploadFailed, func(x *analysis.Task) { x.ErrorMessage = &errMsg }, backends.Meta{})
		}, ""},
		{"update of another field", func(s *store, cur *analysis.Task) (*analysis.Task, error) {
			return s.Update(ctx, cur, func(x *analysis.Task) { x.BlobsCleaned = true })
		}, ""},
		{"update that rewrites the old value", func(s *store, cur *analysis.Task) (*analysis.Task, error) {
			return s.Update(ctx, cur, func(x *analysis.Task) { x.ToolID += " v2" })
		}, "tool_id"},
		{"update that adds a bad list element", func(s *store, cur *analysis.Task) (*analysis.Task, error) {
			return s.Update(ctx, cur, func(x *analysis.Task) { x.Agents = append(append([]string(nil), x.Agents...), "bell\a") })
		}, "agents"},
		{"update that edits the stored list in place", func(s *store, cur *analysis.Task) (*analysis.Task, error) {
			return s.Update(ctx, cur, func(x *analysis.Task) { x.Agents[0] = "bell\a" })
		}, "agents"},
		{"event whose field breaks a rule", func(s *store, cur *analysis.Task) (*analysis.Task, error) {
			up, err := s.FireFrom(ctx, cur, analysis.EventRequestUploadURLs, nil, backends.Meta{})
			if err != nil {
				return nil, err
			}
			bad := "nul\x00"
			return s.FireFrom(ctx, up, analysis.EventUploadFailed, func(x *analysis.Task) { x.ErrorMessage = &bad }, backends.Meta{})
		}, "error_message"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := memory.New[analysis.Task]()
			s := backends.NewStore[analysis.Task, analysis.Event](d)
			// Stored under the earlier spec: an upper-case tool_id with a
			// space, and an agent name holding a tab.
			old := analysis.NewTask()
			old.ID, old.Version = uuid.New(), 1
			old.CreatedAt, old.UpdatedAt = time.Now().UTC(), time.Now().UTC()
			old.UserID, old.ToolID, old.Agents = "alice", "Profile My Data", []string{"profiler\tv1"}
			if err := d.Insert(ctx, old, backends.History{Seq: 1, To: string(old.Status), At: old.CreatedAt}); err != nil {
				t.Fatal(err)
			}
			if err := old.Validate(); err == nil {
				t.Fatal("the stored task passes today's rules; the test needs one that does not")
			}
			got, err := c.write(s, old)
			if c.refuse == "" {
				if err != nil {
					t.Fatalf("write refused: %v", err)
				}
				if got.ToolID != old.ToolID {
					t.Errorf("tool_id %q, want the stored %q", got.ToolID, old.ToolID)
				}
				return
			}
			var fe *tasktype.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, tasktype.ErrValidation) {
				t.Fatalf("write: %v, want a validation error", err)
			}
			if !strings.HasPrefix(err.Error(), c.refuse) || strings.Contains(err.Error(), "tool_id") != (c.refuse == "tool_id") {
				t.Errorf("error %q, want one naming %s only", err, c.refuse)
			}
		})
	}
	// Create checks every field.
	s := backends.NewStore[analysis.Task, analysis.Event](memory.New[analysis.Task]())
	x := analysis.NewTask()
	x.UserID, x.ToolID, x.Agents = "alice", "Profile My Data", []string{"profiler"}
	if _, err := s.Create(ctx, x, backends.Meta{}); err == nil || !strings.HasPrefix(err.Error(), "tool_id") {
		t.Errorf("create with a bad tool_id: %v", err)
	}
}
