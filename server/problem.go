package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/tasktype"
)

// ProblemTypeBase prefixes the type URI of every problem the server returns;
// the fragment names the kind: validation, not-found, transition, conflict,
// unauthorized, too-large, method, internal, timeout (a body too slow),
// no-uploads, unsupported (a request net/http cannot serve: conn.go; a
// listing the catalog has no lister for; a compressed body), busy (the database gave up on
// the request: retry), undeclared-value (a task holds a status or value a newer
// spec declares, which this server's does not: retry once the deploy is done).
const ProblemTypeBase = "urn:taskmodel:problem:"

// Problem is an RFC 9457 problem detail, the body of every error response
// (Content-Type application/problem+json).
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Errors names each field that was refused and what it allows.
	Errors []FieldProblem `json:"errors,omitempty"`
	// CurrentStatus and AllowedActions explain a refused transition (409):
	// the task's status and what a client may still do to it through the
	// API, by the last segment of the route: "upload-urls", "process",
	// "cancel" (on the /pipelines routes, those of the run or subtask:
	// "update", "increment", "complete", "fail", "skip", "cancel"). The model's internal events (a worker's start or complete,
	// the sweeper's expiry, verify_uploads, which only process fires) are
	// not listed: no client can call them.
	CurrentStatus  string   `json:"current_status,omitempty"`
	AllowedActions []string `json:"allowed_actions,omitzero"`
	// events are the model events the status allows, which withActions
	// maps onto AllowedActions.
	events []string
	event  string // the refused event
}

// FieldProblem is one refused field of a request.
type FieldProblem struct {
	Field   string `json:"field"`
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

func problem(status int, kind, title, detail string) *Problem {
	return &Problem{Type: ProblemTypeBase + kind, Title: title, Status: status, Detail: detail}
}

// maxFieldName bounds a field or parameter name a problem echoes (as path
// ids are): a client's unknown name of half a megabyte must not come back
// four times over.
const maxFieldName = 80

// fieldName is name as a problem echoes it: cut to maxFieldName
// characters, with "…" when cut.
func fieldName(name string) string {
	if cut := truncate(name, maxFieldName); cut != name {
		return cut + "…"
	}
	return name
}

// badRequest is a 400 naming one field.
func badRequest(field, rule, message string) *Problem {
	field = fieldName(field)
	p := problem(http.StatusBadRequest, "validation", "Invalid request", field+": "+message)
	p.Errors = []FieldProblem{{Field: field, Rule: rule, Message: message}}
	return p
}

func notFound(what string) *Problem {
	return problem(http.StatusNotFound, "not-found", "Not found", what)
}

// toProblem maps an error of the engine, the store or a decoder onto a
// problem; anything it does not know is a 500 whose detail hides the cause.
func toProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var ve *tasktype.ValidationError
	if errors.As(err, &ve) {
		cut := &tasktype.ValidationError{Type: ve.Type}
		for _, f := range ve.Fields {
			cut.Fields = append(cut.Fields, &tasktype.FieldError{Field: fieldName(f.Field), Rule: f.Rule, Message: f.Message})
		}
		out := problem(http.StatusBadRequest, "validation", "Invalid request", cut.Error())
		for _, f := range cut.Fields {
			out.Errors = append(out.Errors, FieldProblem{Field: f.Field, Rule: f.Rule, Message: f.Message})
		}
		return out
	}
	var fe *tasktype.FieldError
	if errors.As(err, &fe) {
		return badRequest(fe.Field, fe.Rule, fe.Message)
	}
	var ue *backends.UndeclaredValueError
	if errors.As(err, &ue) {
		// A row a newer build of the spec wrote (a rolling deploy): this
		// server cannot say what it means, and neither hides it nor fails
		// as if it were a bug of its own. An instance of the newer build
		// answers; so will this one's replacement.
		what := "status"
		if ue.Column != "status" {
			what = "field " + ue.Column + " holds"
		}
		return problem(http.StatusServiceUnavailable, "undeclared-value", "Task written by a newer version",
			fmt.Sprintf("a task of task_type %s is in %s %q, which this server's spec does not declare (it allows %s); a newer version of the server likely wrote it, while a deploy is under way: retry once every instance runs the newer version",
				ue.Table, what, ue.Value, strings.Join(ue.Allowed, ", ")))
	}
	var sv *backends.StoredValueError
	if errors.As(err, &sv) {
		// A value type stored in the task's JSON holds an enum value the
		// spec no longer (or does not yet) declare: the task cannot be
		// read until the value is declared again or rewritten.
		return problem(http.StatusServiceUnavailable, "undeclared-value", "Task holds a value this version does not declare",
			"a task holds a value this server cannot read: "+sv.Error())
	}
	var te tasktype.TransitionInfoer
	if errors.As(err, &te) {
		t := te.Transition()
		out := problem(http.StatusConflict, "transition", "Transition not allowed", te.Error())
		// events is never nil here (a terminal status allows none), so that
		// withActions words every refused transition alike.
		out.CurrentStatus, out.events, out.event, out.AllowedActions = t.From, append([]string{}, t.Allowed...), t.Event, []string{}
		return out
	}
	switch {
	case errors.Is(err, tasktype.ErrNotFound):
		return notFound("no such task")
	case errors.Is(err, tasktype.ErrConflict):
		return problem(http.StatusConflict, "conflict", "Conflict", "the task changed while the request ran; read it again and retry")
	case errors.Is(err, tasktype.ErrDuplicate):
		return problem(http.StatusConflict, "conflict", "Conflict", "the task exists already")
	case errors.Is(err, tasktype.ErrValidation):
		return problem(http.StatusBadRequest, "validation", "Invalid request", err.Error())
	case mysql.IsRetryable(err):
		// A deadlock or a lock wait timeout that outlasted the driver's
		// retries: the request changed nothing and may be sent again.
		return problem(http.StatusServiceUnavailable, "busy", "Database busy", "the database was busy with other requests and gave up on this one, which changed nothing; retry")
	}
	return problem(http.StatusInternalServerError, "internal", "Internal server error", "the server failed; the error is in its log")
}

// withActions maps a refused transition's events onto the API actions of
// model b that fire them (see Problem.AllowedActions); other errors pass.
func withActions(b binding, err error) error {
	p := toProblem(err)
	if p.Status != http.StatusConflict || p.events == nil {
		return err
	}
	out := *p
	out.AllowedActions = actionsOf(b, p.events)
	// The detail speaks of API actions too: the spec's event names, some of
	// them fired only by the server, mean nothing to a client.
	what := "this action"
	if a := actionsOf(b, []string{out.event}); len(a) == 1 {
		what = a[0]
	}
	now := "no action is possible now"
	if len(out.AllowedActions) > 0 {
		now = "possible now: " + strings.Join(out.AllowedActions, ", ")
	}
	out.Detail = fmt.Sprintf("%s is not possible while the task is %s; %s", what, out.CurrentStatus, now)
	return &out
}

// actionsOf lists the API actions that fire any of events on model b, in
// the order a client takes them.
func actionsOf(b binding, events []string) []string {
	out := []string{}
	has := func(ev string) bool { return ev != "" && slices.Contains(events, ev) }
	if up := b.api().Uploads; up != nil {
		if has(up.Request) {
			out = append(out, "upload-urls")
		}
		if has(up.Verify) || has(up.Missing) {
			out = append(out, "process")
		}
	}
	if has(b.worker().Cancel) {
		out = append(out, "cancel")
	}
	return out
}

// writeProblem writes err as problem+json; 5xx are logged with the cause
// as errors, but for 501 (a feature the backend does not have) and 505 (a
// client speaking HTTP/2 to this HTTP/1.1 port: its mistake, logged at
// debug level).
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := toProblem(err)
	switch {
	case p.Status == http.StatusHTTPVersionNotSupported:
		s.log.DebugContext(r.Context(), "request refused", slog.String("method", r.Method), slog.String("proto", r.Proto), slog.Any("error", err))
	case p.Status >= 500 && p.Status != http.StatusNotImplemented:
		s.log.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	}
	out := *p
	out.Instance = r.URL.Path
	body, merr := json.Marshal(&out)
	if merr != nil {
		body = []byte(fmt.Sprintf(`{"type":"%sinternal","title":"Internal server error","status":500}`, ProblemTypeBase))
		out.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if out.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="taskmodel"`)
	}
	w.WriteHeader(out.Status)
	_, _ = w.Write(append(body, '\n'))
}
