package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/tasktype"
)

func unknownField(model, name string, allowed []string) error {
	name = fieldName(name)
	fields := strings.Join(append([]string{"task_type"}, allowed...), ", ")
	if name == "" {
		// No name to put before the message: the body is at fault.
		return &tasktype.FieldError{Field: "body", Rule: "unknown_field", Message: fmt.Sprintf("has a member with an empty name; task_type %s takes: %s", model, fields)}
	}
	msg := fmt.Sprintf("unknown field %q for task_type %s; allowed: %s", name, model, fields)
	return &tasktype.FieldError{Field: name, Rule: "unknown_field", Message: msg}
}

// noCancel is the 409 of a cancel of a task that the API does not cancel:
// its model has no cancel for clients (no worker section naming one), and
// it is not a pipeline run the server's tracker cancels (cancelsRuns). It
// is a transition problem like any other, with the task's status and the
// API actions its status allows (none, for the built-in models), and a
// detail saying how such a task ends.
func (s *Server) noCancel(b binding, v *view) *Problem {
	var events []string
	for _, e := range b.lifecycle().Events {
		if slices.Contains(e.From, v.key.Status) {
			events = append(events, e.Name)
		}
	}
	p := problem(http.StatusConflict, "transition", "Transition not allowed", "")
	p.CurrentStatus, p.AllowedActions = v.key.Status, actionsOf(b, events)
	now := "no action is possible now"
	if len(p.AllowedActions) > 0 {
		now = "possible now: " + strings.Join(p.AllowedActions, ", ")
	}
	why := fmt.Sprintf("tasks of type %s cannot be cancelled through the API", b.name())
	switch b.name() {
	case pipelinerun.ModelName:
		why = "pipeline runs are cancelled by the server's pipeline tracking, which is not enabled on this server"
	case pipelinesubtask.ModelName:
		why = "a pipeline subtask is not cancelled on its own but with its run"
		if st, ok := v.task.(*pipelinesubtask.PipelineSubtask); ok && s.cfg.Pipelines != nil {
			why += fmt.Sprintf(" (POST /tasks/%s/cancel or /pipelines/runs/%s/cancel)", st.RunID, st.RunID)
		}
	}
	p.Detail = fmt.Sprintf("%s; the task is %s; %s", why, v.key.Status, now)
	return p
}

// cancelsRuns reports whether the API cancels the tasks of model b through
// the pipeline tracker: b is pipeline_run, and the server has a tracker.
func (s *Server) cancelsRuns(b binding) bool {
	return s.cfg.Pipelines != nil && b.name() == pipelinerun.ModelName
}

// cancelRun cancels the pipeline run v (of model b) as POST
// /pipelines/runs/{id}/cancel and taskmodel run cancel do, its unfinished
// subtasks with it, recording actor, and reads it back. A finished run is
// the 409 of any task that cannot be cancelled any more.
func (s *Server) cancelRun(ctx context.Context, b binding, v *view, actor string) (*view, error) {
	tr := s.cfg.Pipelines.As(actor)
	if _, err := tr.Cancel(ctx, v.key.ID, ""); err != nil {
		if !errors.Is(err, tasktype.ErrTransitionNotAllowed) {
			return nil, err
		}
		status := v.key.Status
		if r, rerr := tr.Run(ctx, v.key.ID); rerr == nil {
			status = string(r.Status)
		}
		p := problem(http.StatusConflict, "transition", "Transition not allowed", "")
		p.CurrentStatus, p.AllowedActions = status, []string{}
		now := "no action is possible now"
		if !pipelinerun.Status(status).IsTerminal() {
			p.AllowedActions = []string{"cancel"}
			now = "possible now: cancel"
		}
		p.Detail = fmt.Sprintf("cancel is not possible while the task is %s; %s", status, now)
		return nil, p
	}
	return b.get(ctx, v.key.ID)
}
