package pipeline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/tasktype"
)

// TestCompleteRefusesUnfinishedSubtasks: a run completes only when every
// subtask it started finished and every subtask it declared started;
// otherwise the refusal names them and writes nothing. Force completes it
// anyway, cancelling the unfinished ones and naming both on the tracking
// line.
func TestCompleteRefusesUnfinishedSubtasks(t *testing.T) {
	type sub struct {
		n      int64
		finish string // "", "complete", "fail"
	}
	cases := []struct {
		name     string
		declared int64
		subs     []sub
		force    bool
		wantErr  []string // substrings of the refusal; nil: completes
		wantSubs []pipelinesubtask.Status
		wantLog  string
	}{
		{"three declared, two started and finished", 3, []sub{{1, "complete"}, {2, "complete"}}, false,
			[]string{"subtask 3 of 3 never started", "complete or fail them first"}, nil, ""},
		{"three declared, none started", 3, nil, false,
			[]string{"subtasks 1, 2, 3 of 3 never started"}, nil, ""},
		{"one still running", 2, []sub{{1, "complete"}, {2, ""}}, false,
			[]string{"subtask 2 (step 2) is RUNNING"}, nil, ""},
		{"running and never started", 3, []sub{{1, ""}}, false,
			[]string{"subtask 1 (step 1) is RUNNING", "subtasks 2, 3 of 3 never started"}, nil, ""},
		{"all declared finished, one failed", 2, []sub{{1, "complete"}, {2, "fail"}}, false, nil,
			[]pipelinesubtask.Status{pipelinesubtask.StatusCompleted, pipelinesubtask.StatusFailed}, "- COMPLETED: done"},
		{"none declared, all finished", 0, []sub{{1, "complete"}}, false, nil,
			[]pipelinesubtask.Status{pipelinesubtask.StatusCompleted}, "- COMPLETED: done"},
		{"no subtasks at all", 0, nil, false, nil, nil, "- COMPLETED: done"},
		{"forced", 3, []sub{{1, "complete"}, {2, ""}}, true, nil,
			[]pipelinesubtask.Status{pipelinesubtask.StatusCompleted, pipelinesubtask.StatusCancelled},
			"- COMPLETED: done (by force: subtask 2 (step 2) is RUNNING; subtask 3 of 3 never started)"},
		{"forced with nothing left", 1, []sub{{1, "complete"}}, true, nil,
			[]pipelinesubtask.Status{pipelinesubtask.StatusCompleted}, "- COMPLETED: done"},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.start(t, "STATIC", "Build Database", c.declared)
				for _, s := range c.subs {
					if _, err := e.tr.StartSubtask(e.ctx, r.ID, s.n, pipeline.SubtaskStart{Name: "step " + string(rune('0'+s.n))}); err != nil {
						t.Fatal(err)
					}
					if _, err := e.tr.UpdateSubtask(e.ctx, r.ID, s.n, pipeline.SubtaskUpdate{Percent: ptr(40.0)}); err != nil {
						t.Fatal(err)
					}
					var err error
					switch s.finish {
					case "complete":
						_, err = e.tr.CompleteSubtask(e.ctx, r.ID, s.n, "")
					case "fail":
						_, err = e.tr.FailSubtask(e.ctx, r.ID, s.n, "bad")
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				before := e.snapshot(t, r.ID)
				got, err := e.tr.CompleteWith(e.ctx, r.ID, "done", pipeline.CompleteOptions{Force: c.force})
				if c.wantErr != nil {
					var u *pipeline.UnfinishedError
					if !errors.As(err, &u) || !errors.Is(err, tasktype.ErrTransitionNotAllowed) {
						t.Fatalf("CompleteWith: %v, want an *UnfinishedError", err)
					}
					for _, w := range c.wantErr {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("error %q lacks %q", err, w)
						}
					}
					if after := e.snapshot(t, r.ID); after != before {
						t.Errorf("the refusal wrote:\nbefore %s\nafter  %s", before, after)
					}
					return
				}
				if err != nil {
					t.Fatalf("CompleteWith: %v", err)
				}
				if got.Status != pipelinerun.StatusCompleted || got.OverallPercent != 100 {
					t.Errorf("run %s at %v%%", got.Status, got.OverallPercent)
				}
				subs, err := e.tr.Subtasks(e.ctx, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				var statuses []pipelinesubtask.Status
				for _, s := range subs {
					statuses = append(statuses, s.Status)
				}
				if !equalStatuses(statuses, c.wantSubs) {
					t.Errorf("subtasks %v, want %v", statuses, c.wantSubs)
				}
				line := lineWith(e.logs.String(), "[TASK UPDATE] "+r.ID.String()+" - COMPLETED")
				if !strings.HasSuffix(line, c.wantLog) {
					t.Errorf("tracking line %q, want it to end in %q", line, c.wantLog)
				}
			})
		}
	})
}

func equalStatuses(a, b []pipelinesubtask.Status) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lineWith returns the message of the last log line containing s ("" when
// none), unquoted from the text handler's msg="…".
func lineWith(logs, s string) string {
	found := ""
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			found = l
		}
	}
	if i := strings.Index(found, `msg="`); i >= 0 {
		found = found[i+5:]
		if j := strings.Index(found, `" `); j >= 0 {
			found = found[:j]
		}
	}
	return strings.ReplaceAll(found, `\"`, `"`)
}

// TestTrackingLinesWithoutMessage: a tracking line without a message ends
// at the status, not in a colon.
func TestTrackingLinesWithoutMessage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		r := e.start(t, "STATIC", "Build Database", 1)
		steps := []struct {
			do   func(id uuid.UUID) error
			want string
		}{
			{func(id uuid.UUID) error {
				_, err := e.tr.StartSubtask(e.ctx, id, 1, pipeline.SubtaskStart{Name: "load"})
				return err
			}, ""},
			{func(id uuid.UUID) error {
				_, err := e.tr.UpdateSubtask(e.ctx, id, 1, pipeline.SubtaskUpdate{Percent: ptr(50.0)})
				return err
			}, "[SUBTASK UPDATE] Subtask 1 - RUNNING"},
			{func(id uuid.UUID) error {
				_, err := e.tr.CompleteSubtask(e.ctx, id, 1, "")
				return err
			}, "[SUBTASK UPDATE] Subtask 1 - COMPLETED"},
			{func(id uuid.UUID) error { // no percent of its own: its subtasks'
				_, err := e.tr.Update(e.ctx, id, pipeline.RunUpdate{Message: ptr("indexing")})
				return err
			}, "[TASK UPDATE] " + r.ID.String() + " - RUNNING: indexing (100.0%)"},
			{func(id uuid.UUID) error {
				_, err := e.tr.Update(e.ctx, id, pipeline.RunUpdate{Percent: ptr(60.0)})
				return err
			}, "[TASK UPDATE] " + r.ID.String() + " - RUNNING: indexing (60.0%)"}, // the latest message stays
			{func(id uuid.UUID) error {
				_, err := e.tr.Complete(e.ctx, id, "")
				return err
			}, "[TASK UPDATE] " + r.ID.String() + " - COMPLETED"},
		}
		for i, s := range steps {
			if err := s.do(r.ID); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if s.want == "" {
				continue
			}
			lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
			last := lineWith(lines[len(lines)-1], "")
			if last != s.want {
				t.Errorf("step %d: tracking line %q, want %q", i, last, s.want)
			}
		}
	})
}
