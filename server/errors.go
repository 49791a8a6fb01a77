package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/taskmodel/taskmodel/tasktype"
)

func unknownField(model, name string, allowed []string) error {
	name = fieldName(name)
	msg := fmt.Sprintf("unknown field %q for task_type %s; allowed: %s", name, model, strings.Join(append([]string{"task_type"}, allowed...), ", "))
	return &tasktype.FieldError{Field: name, Rule: "unknown_field", Message: msg}
}

// noCancel is the 409 of a cancel of a task whose model has no cancel
// event (the pipeline models): a transition problem like any other, with
// the task's status and the API actions its status allows (none of the
// built-in models without a cancel event has any).
func noCancel(b binding, v *view) *Problem {
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
	p.Detail = fmt.Sprintf("cancel is never possible for task type %s, whose lifecycle has no cancel event; the task is %s; %s", b.name(), v.key.Status, now)
	return p
}
