package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/memstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/mysqlstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/pgstore"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/sqlitestore"
	"github.com/taskmodel/taskmodel/tasktype"
)

// This file serves pipeline tracking over HTTP (/pipelines/…): thin
// handlers over Config.Pipelines, a *pipeline.Tracker, for scripts in any
// language. Every authenticated user may read and report; the user is the
// actor of the history rows ("user:NAME").

// pipelineRoutes adds the /pipelines routes with the API's add function.
func (s *Server) pipelineRoutes(api func(pattern string, methods map[string]http.HandlerFunc)) {
	h := s.withTracker
	api("/pipelines/stages", map[string]http.HandlerFunc{"GET": h(s.pipelineStages), "POST": h(s.pipelineRegister)})
	api("/pipelines/status", map[string]http.HandlerFunc{"GET": h(s.pipelineStatus)})
	api("/pipelines/active", map[string]http.HandlerFunc{"GET": h(s.pipelineActive)})
	api("/pipelines/history", map[string]http.HandlerFunc{"GET": h(s.pipelineHistory)})
	api("/pipelines/runs", map[string]http.HandlerFunc{"POST": h(s.pipelineStart)})
	api("/pipelines/runs/{id}", map[string]http.HandlerFunc{"GET": h(s.pipelineGetRun)})
	api("/pipelines/runs/{id}/update", map[string]http.HandlerFunc{"POST": h(s.pipelineUpdate())})
	api("/pipelines/runs/{id}/complete", map[string]http.HandlerFunc{"POST": h(s.pipelineComplete())})
	api("/pipelines/runs/{id}/fail", map[string]http.HandlerFunc{"POST": h(s.pipelineFail())})
	api("/pipelines/runs/{id}/skip", map[string]http.HandlerFunc{"POST": h(s.pipelineSkip())})
	api("/pipelines/runs/{id}/cancel", map[string]http.HandlerFunc{"POST": h(s.pipelineCancel())})
	api("/pipelines/runs/{id}/subtasks", map[string]http.HandlerFunc{"GET": h(s.pipelineSubtasks)})
	api("/pipelines/runs/{id}/subtasks/{n}/start", map[string]http.HandlerFunc{"POST": h(s.subtaskStart())})
	api("/pipelines/runs/{id}/subtasks/{n}/update", map[string]http.HandlerFunc{"POST": h(s.subtaskUpdate())})
	api("/pipelines/runs/{id}/subtasks/{n}/increment", map[string]http.HandlerFunc{"POST": h(s.subtaskIncrement())})
	api("/pipelines/runs/{id}/subtasks/{n}/complete", map[string]http.HandlerFunc{"POST": h(s.subtaskComplete())})
	api("/pipelines/runs/{id}/subtasks/{n}/fail", map[string]http.HandlerFunc{"POST": h(s.subtaskFail())})
}

// pipelineHandler is a /pipelines handler with the request's tracker,
// which records the request's user as the actor.
type pipelineHandler func(w http.ResponseWriter, r *http.Request, tr *pipeline.Tracker) error

// errNoPipelines answers every /pipelines route of a server without a
// tracker.
var errNoPipelines = notFound("pipeline tracking is not enabled on this server")

func (s *Server) withTracker(h pipelineHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Pipelines == nil {
			s.writeProblem(w, r, errNoPipelines)
			return
		}
		tr := s.cfg.Pipelines.As("user:" + userOf(r).Name)
		if err := h(w, r, tr); err != nil {
			s.writeProblem(w, r, pipelineProblem(r.Context(), tr, err, refOf(r)))
			return
		}
		if r.Method == http.MethodPost {
			s.pipelinePulse.fire()
		}
	}
}

// pipelineProblem maps the tracker's errors onto problems: unknown runs,
// subtasks and tasks are 404s saying what exists, refused lifecycle moves
// and conflicts 409s with the current status and the actions possible now
// (see pipelineConflict), bad values 400s naming the field.
func pipelineProblem(ctx context.Context, tr *pipeline.Tracker, err error, ref pipelineRef) error {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if p := requestFields(err); p != nil {
		return p
	}
	var nf *pipeline.NotFoundError
	if errors.As(err, &nf) {
		return notFound(nf.Error())
	}
	var out *Problem
	var un *pipeline.UnfinishedError
	var se *pipeline.StateError
	var te tasktype.TransitionInfoer
	switch {
	case errors.As(err, &un):
		out = problem(http.StatusConflict, "transition", "Transition not allowed", un.Error()+`, or complete with "force": true`)
	case errors.As(err, &se):
		out = problem(http.StatusConflict, "transition", "Transition not allowed", se.Error())
	case errors.As(err, &te):
		t := te.Transition()
		out = problem(http.StatusConflict, "transition", "Transition not allowed",
			fmt.Sprintf("%s is not possible while it is %s", pipelineRoute(t.Event), t.From))
	case errors.Is(err, tasktype.ErrDuplicate):
		out = problem(http.StatusConflict, "conflict", "Conflict", "this subtask was started already; each number starts once per run")
	case errors.Is(err, tasktype.ErrConflict):
		out = problem(http.StatusConflict, "conflict", "Conflict", "the run changed too often while the request ran; retry")
	default:
		return err // toProblem: validation errors are 400s, anything else a 500
	}
	pipelineConflict(ctx, tr, err, ref, out)
	return out
}

// pipelineRef is what a /pipelines route acts on: a run, or subtask n of
// it (n 0 on a run's routes; no run on the others).
type pipelineRef struct {
	run uuid.UUID
	n   int64
}

// refOf reads the request path's run id and subtask number, if any (a
// malformed one was refused before anything could conflict).
func refOf(r *http.Request) pipelineRef {
	id, _ := uuid.Parse(r.PathValue("id"))
	n, _ := strconv.ParseInt(r.PathValue("n"), 10, 64)
	return pipelineRef{run: id, n: n}
}

// pipelineConflict gives a 409 of a /pipelines route its current_status and
// allowed_actions: those of the run, on a run's route or when a subtask's
// route was refused because of its run (a subtask of a finished run), else
// those of the subtask. The status is the one the refusal saw when the
// error says it, else the one read now; allowed_actions are the routes (by
// their last segment) that its status allows, [] once it is finished.
func pipelineConflict(ctx context.Context, tr *pipeline.Tracker, err error, ref pipelineRef, out *Problem) {
	id, n := ref.run, ref.n
	var se *pipeline.StateError
	var rt *pipelinerun.TransitionError
	var st *pipelinesubtask.TransitionError
	status := ""
	switch {
	case errors.As(err, &se) && se.Run == id:
		n, status = 0, se.Status
	case errors.As(err, &rt):
		n, status = 0, string(rt.From)
	case n > 0 && errors.As(err, &se):
		status = se.Status
	case n > 0 && errors.As(err, &st):
		status = string(st.From)
	}
	if status == "" && n == 0 && id != uuid.Nil {
		if run, rerr := tr.Run(ctx, id); rerr == nil {
			status = string(run.Status)
		}
	}
	if status == "" && n > 0 {
		if subs, serr := tr.Subtasks(ctx, id); serr == nil {
			for _, s := range subs {
				if s.SubtaskNumber == n {
					status = string(s.Status)
				}
			}
		}
	}
	out.CurrentStatus = status
	if n > 0 {
		out.AllowedActions = subtaskActions(pipelinesubtask.Status(status))
	} else {
		out.AllowedActions = runActions(pipelinerun.Status(status))
	}
}

// runActions are the routes on a run (their last segment) that a run in
// status st allows: a STARTED run may still be skipped, a RUNNING one not;
// a finished run allows none. (A run is created STARTED: NOT_STARTED is
// only ever seen while it is being started.)
func runActions(st pipelinerun.Status) []string {
	switch st {
	case pipelinerun.StatusStarted:
		return []string{"update", "complete", "fail", "skip", "cancel"}
	case pipelinerun.StatusRunning:
		return []string{"update", "complete", "fail", "cancel"}
	}
	return []string{}
}

// subtaskActions are the routes on a subtask that a subtask in status st
// allows; a finished subtask allows none.
func subtaskActions(st pipelinesubtask.Status) []string {
	if st.IsActive() {
		return []string{"update", "increment", "complete", "fail"}
	}
	return []string{}
}

// pipelineRoute names a lifecycle event by the route that fires it: "run"
// (a STARTED run's or subtask's first report) is update's.
func pipelineRoute(event string) string {
	if event == string(pipelinerun.EventRun) {
		return "update"
	}
	return event
}

// requestNames maps the names the tracker gives fields (the stored run's
// and subtask's) onto the names the requests give them.
var requestNames = map[string]string{
	"hostname":        "host",
	"user_name":       "user",
	"error_message":   "message", // of a fail request
	"error_detail":    "detail",
	"subtask_number":  "n", // the path's
	"overall_percent": "percent",
}

// requestFields returns the tracker's refusal of fields as a 400 naming
// each by the request's name, or nil when err refuses no field.
func requestFields(err error) *Problem {
	var fields []*tasktype.FieldError
	var ve *tasktype.ValidationError
	var fe *tasktype.FieldError
	switch {
	case errors.As(err, &ve) && len(ve.Fields) > 0:
		fields = ve.Fields
	case errors.As(err, &fe):
		fields = []*tasktype.FieldError{fe}
	default:
		return nil
	}
	out := problem(http.StatusBadRequest, "validation", "Invalid request", "")
	var parts []string
	for _, f := range fields {
		name := f.Field
		if n, ok := requestNames[name]; ok {
			name = n
		}
		out.Errors = append(out.Errors, FieldProblem{Field: name, Rule: f.Rule, Message: f.Message})
		parts = append(parts, name+": "+f.Message)
	}
	out.Detail = strings.Join(parts, "; ")
	return out
}

// runID parses the path's run id.
func runID(r *http.Request) (uuid.UUID, error) {
	return pathID("run", r.PathValue("id"))
}

// subtaskRef parses the path's run id and subtask number.
func subtaskRef(r *http.Request) (uuid.UUID, int64, error) {
	id, err := runID(r)
	if err != nil {
		return uuid.Nil, 0, err
	}
	raw := r.PathValue("n")
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 1 {
		return uuid.Nil, 0, badRequest("n", "integer", fmt.Sprintf("must be a subtask number, an integer of at least 1, not %q", truncate(raw, 40)))
	}
	return id, n, nil
}

// readBody decodes the request's JSON object (none or {} is empty).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (*body, error) {
	m, err := s.decodeObject(w, r)
	if err != nil {
		return nil, err
	}
	return newBody(m, ""), nil
}

// queryOf checks a GET's query parameters against allowed and returns them.
func queryOf(r *http.Request, allowed ...string) (map[string]string, error) {
	q := r.URL.Query()
	out := map[string]string{}
	for _, k := range sortedKeys(q) {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, badRequest(quoteName(k), "unknown_parameter", "unknown query parameter; this route takes none")
			}
			return nil, badRequest(quoteName(k), "unknown_parameter", "unknown query parameter; allowed: "+strings.Join(allowed, ", "))
		}
		if len(q[k]) > 1 {
			return nil, badRequest(k, "repeated", "may be given once")
		}
		out[k] = q[k][0]
	}
	return out, nil
}

// runsOut returns runs with the percent status shows.
func runsOut(ctx context.Context, tr *pipeline.Tracker, runs []*pipeline.Run) ([]PipelineRun, error) {
	progress, err := tr.Progress(ctx, runs)
	if err != nil {
		return nil, err
	}
	out := make([]PipelineRun, len(runs))
	for i, r := range runs {
		out[i] = runOut(r, progress[r.ID])
	}
	return out, nil
}

func writeRun(ctx context.Context, w http.ResponseWriter, tr *pipeline.Tracker, status int, r *pipeline.Run) error {
	out, err := runsOut(ctx, tr, []*pipeline.Run{r})
	if err != nil {
		return err
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", "/pipelines/runs/"+r.ID.String())
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, out[0])
	return nil
}

func (s *Server) pipelineStages(w http.ResponseWriter, r *http.Request, tr *pipeline.Tracker) error {
	if _, err := queryOf(r); err != nil {
		return err
	}
	stages, err := tr.Stages(r.Context())
	if err != nil {
		return err
	}
	tasks, err := tr.Tasks(r.Context(), "")
	if err != nil {
		return err
	}
	out := make([]PipelineStage, len(stages))
	for i, st := range stages {
		out[i] = PipelineStage{Name: st.Name, Order: st.Order, Description: st.Description, Tasks: []pipeline.Task{}}
		for _, t := range tasks {
			if t.Stage == st.Name {
				out[i].Tasks = append(out[i].Tasks, t)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) pipelineRegister(w http.ResponseWriter, r *http.Request, tr *pipeline.Tracker) error {
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var stages []pipeline.Stage
	for i, raw := range b.list("stages") {
		st, err := stageIn(raw, fmt.Sprintf("stages[%d].", i))
		if err != nil {
			return err
		}
		stages = append(stages, st)
	}
	var tasks []pipeline.Task
	for i, raw := range b.list("tasks") {
		t, err := taskIn(raw, fmt.Sprintf("tasks[%d].", i))
		if err != nil {
			return err
		}
		tasks = append(tasks, t)
	}
	if err := b.done(); err != nil {
		return err
	}
	if len(stages) == 0 && len(tasks) == 0 {
		return badRequest("stages", "required", "give stages, tasks or both (each a non-empty array)")
	}
	if err := tr.Register(r.Context(), stages, tasks); err != nil {
		return err
	}
	return s.pipelineStages(w, r, tr)
}

func stageIn(raw json.RawMessage, prefix string) (pipeline.Stage, error) {
	m, err := parseObject(raw)
	if err != nil {
		return pipeline.Stage{}, badRequest(strings.TrimSuffix(prefix, "."), "type", "must be a JSON object")
	}
	b := newBody(m, prefix)
	st := pipeline.Stage{Name: b.name("name"), Order: deref(b.integer("order", 0, math.MaxInt32)), Description: b.str("description", true)}
	if err := b.done(); err != nil {
		return st, err
	}
	return st, prefixed(prefix, pipeline.ValidateStage(st))
}

var taskTypes = []string{"R", "sh", "python"}

func taskIn(raw json.RawMessage, prefix string) (pipeline.Task, error) {
	m, err := parseObject(raw)
	if err != nil {
		return pipeline.Task{}, badRequest(strings.TrimSuffix(prefix, "."), "type", "must be a JSON object")
	}
	b := newBody(m, prefix)
	t := pipeline.Task{Stage: b.name("stage"), Name: b.name("name"), Order: deref(b.integer("order", 0, math.MaxInt32)),
		ScriptPath: b.str("script_path", false), ScriptFilename: b.str("script_filename", false),
		LogPath: b.str("log_path", false), LogFilename: b.str("log_filename", false)}
	if typ := b.str("type", false); typ != nil {
		if !slices.Contains(taskTypes, *typ) {
			b.fail("type", "one_of", "must be one of "+strings.Join(taskTypes, ", "))
		} else {
			k := pipelinerun.TaskKind(*typ)
			t.Type = &k
		}
	}
	if err := b.done(); err != nil {
		return t, err
	}
	return t, prefixed(prefix, pipeline.ValidateTask(t))
}

// prefixed puts prefix before the field paths of a validation error.
func prefixed(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var ve *tasktype.ValidationError
	if errors.As(err, &ve) && len(ve.Fields) > 0 {
		out := problem(http.StatusBadRequest, "validation", "Invalid request", "")
		var parts []string
		for _, f := range ve.Fields {
			out.Errors = append(out.Errors, FieldProblem{Field: prefix + f.Field, Rule: f.Rule, Message: f.Message})
			parts = append(parts, prefix+f.Field+": "+f.Message)
		}
		out.Detail = strings.Join(parts, "; ")
		return out
	}
	var fe *tasktype.FieldError
	if errors.As(err, &fe) {
		return badRequest(prefix+fe.Field, fe.Rule, fe.Message)
	}
	return err
}

func (s *Server) pipelineStart(w http.ResponseWriter, r *http.Request, tr *pipeline.Tracker) error {
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	stage, task := b.name("stage"), b.name("task")
	p := pipeline.Process{Hostname: deref(b.str("host", false)), PID: int(deref(b.integer("pid", 1, math.MaxInt32))),
		PPID: int(deref(b.integer("ppid", 0, math.MaxInt32)))}
	p.User = userOf(r).Name
	if u := b.str("user", false); u != nil {
		p.User = *u
	}
	o := pipeline.StartOptions{Process: &p, NoGitLookup: true,
		// 0 would be stored as no total (StartOptions.Subtasks: not known):
		// refused, so that what a client sends reads back.
		Subtasks:       deref(b.integer("total_subtasks", 1, math.MaxInt32)),
		Message:        deref(b.str("message", true)),
		CodeVersion:    deref(b.str("code_version", false)),
		GitCommit:      deref(b.str("git_commit", false)),
		Environment:    b.environment("environment"),
		ScriptPath:     deref(b.str("script_path", false)),
		ScriptFilename: deref(b.str("script_filename", false)),
		LogPath:        deref(b.str("log_path", false)),
		LogFilename:    deref(b.str("log_filename", false)),
	}
	if err := b.done(); err != nil {
		return err
	}
	if err := tr.CheckStage(r.Context(), stage); err != nil {
		return err
	}
	run, err := tr.Start(r.Context(), stage, task, o)
	if err != nil {
		return err
	}
	return writeRun(r.Context(), w, tr, http.StatusCreated, run)
}

func (s *Server) pipelineGetRun(w http.ResponseWriter, r *http.Request, tr *pipeline.Tracker) error {
	id, err := runID(r)
	if err != nil {
		return err
	}
	if _, err := queryOf(r); err != nil {
		return err
	}
	run, err := tr.Run(r.Context(), id)
	if err != nil {
		return err
	}
	subs, err := tr.Subtasks(r.Context(), id)
	if err != nil {
		return err
	}
	out := PipelineRunDetail{PipelineRun: runOut(run, pipeline.RunPercent(run, subs)), Subtasks: subtasksOut(subs),
		Estimate: pipeline.EstimateRun(run, subs, tr.Now())}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// runAct is what a run route does to run id.
type runAct func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID) (*pipeline.Run, error)

// runRoute is a POST route on one run, as subtaskRoute is on a subtask: the
// body is checked whole before anything is done, and the run is answered.
func (s *Server) runRoute(read func(b *body) runAct) pipelineHandler {
	return func(w http.ResponseWriter, r *http.Request, tr *pipeline.Tracker) error {
		id, err := runID(r)
		if err != nil {
			return err
		}
		b, err := s.readBody(w, r)
		if err != nil {
			return err
		}
		act := read(b)
		if err := b.done(); err != nil {
			return err
		}
		run, err := act(r.Context(), tr, id)
		if err != nil {
			return err
		}
		return writeRun(r.Context(), w, tr, http.StatusOK, run)
	}
}

func (s *Server) pipelineUpdate() pipelineHandler {
	return s.runRoute(func(b *body) runAct {
		u := pipeline.RunUpdate{Percent: b.number("percent", 0, 100), Message: b.str("message", true)}
		return func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID) (*pipeline.Run, error) {
			return tr.Update(ctx, id, u)
		}
	})
}

func (s *Server) pipelineComplete() pipelineHandler {
	return s.runRoute(func(b *body) runAct {
		msg, force := deref(b.str("message", true)), b.boolean("force")
		return func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID) (*pipeline.Run, error) {
			return tr.CompleteWith(ctx, id, msg, pipeline.CompleteOptions{Force: force})
		}
	})
}

func (s *Server) pipelineFail() pipelineHandler {
	return s.runRoute(func(b *body) runAct {
		msg, detail := b.requiredStr("message", true), b.str("detail", true)
		return func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID) (*pipeline.Run, error) {
			if msg == nil || strings.TrimSpace(*msg) == "" {
				return nil, badRequest("message", "required", "is required: say why the run failed")
			}
			return tr.Fail(ctx, id, *msg, deref(detail))
		}
	})
}

func (s *Server) pipelineSkip() pipelineHandler {
	return s.runRoute(func(b *body) runAct {
		msg := deref(b.str("message", true))
		return func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID) (*pipeline.Run, error) {
			return tr.Skip(ctx, id, msg)
		}
	})
}

func (s *Server) pipelineCancel() pipelineHandler {
	return s.runRoute(func(b *body) runAct {
		msg := deref(b.str("message", true))
		return func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID) (*pipeline.Run, error) {
			return tr.Cancel(ctx, id, msg)
		}
	})
}

func (s *Server) pipelineSubtasks(w http.ResponseWriter, r *http.Request, tr *pipeline.Tracker) error {
	id, err := runID(r)
	if err != nil {
		return err
	}
	if _, err := queryOf(r); err != nil {
		return err
	}
	subs, err := tr.Subtasks(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, subtasksOut(subs))
	return nil
}

func writeSubtask(w http.ResponseWriter, status int, st *pipeline.Subtask) error {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, subtaskOut(st))
	return nil
}

// subtaskAct is what a subtask route does to subtask n of run id.
type subtaskAct func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID, n int64) (*pipeline.Subtask, error)

// subtaskRoute is a POST route on one subtask: read takes the fields of the
// body and returns what to do; the body is checked whole (unknown and bad
// fields, each named) before anything is done, and the subtask is answered
// with status.
func (s *Server) subtaskRoute(status int, read func(b *body) subtaskAct) pipelineHandler {
	return func(w http.ResponseWriter, r *http.Request, tr *pipeline.Tracker) error {
		id, n, err := subtaskRef(r)
		if err != nil {
			return err
		}
		b, err := s.readBody(w, r)
		if err != nil {
			return err
		}
		act := read(b)
		if err := b.done(); err != nil {
			return err
		}
		st, err := act(r.Context(), tr, id, n)
		if err != nil {
			return err
		}
		return writeSubtask(w, status, st)
	}
}

func (s *Server) subtaskStart() pipelineHandler {
	return s.subtaskRoute(http.StatusCreated, func(b *body) subtaskAct {
		o := pipeline.SubtaskStart{Name: b.name("name"), ItemsTotal: b.integer("items_total", 0, math.MaxInt64), Message: deref(b.str("message", true))}
		return func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID, n int64) (*pipeline.Subtask, error) {
			return tr.StartSubtask(ctx, id, n, o)
		}
	})
}

func (s *Server) subtaskUpdate() pipelineHandler {
	return s.subtaskRoute(http.StatusOK, func(b *body) subtaskAct {
		u := pipeline.SubtaskUpdate{Percent: b.number("percent", 0, 100), ItemsComplete: b.integer("items_complete", 0, math.MaxInt64),
			ItemsTotal: b.integer("items_total", 0, math.MaxInt64), Message: b.str("message", true)}
		return func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID, n int64) (*pipeline.Subtask, error) {
			return tr.UpdateSubtask(ctx, id, n, u)
		}
	})
}

func (s *Server) subtaskIncrement() pipelineHandler {
	return s.subtaskRoute(http.StatusOK, func(b *body) subtaskAct {
		by := b.integer("by", 1, math.MaxInt64)
		return func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID, n int64) (*pipeline.Subtask, error) {
			return tr.IncrementSubtask(ctx, id, n, max(1, deref(by)))
		}
	})
}

func (s *Server) subtaskComplete() pipelineHandler {
	return s.subtaskRoute(http.StatusOK, func(b *body) subtaskAct {
		msg := deref(b.str("message", true))
		return func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID, n int64) (*pipeline.Subtask, error) {
			return tr.CompleteSubtask(ctx, id, n, msg)
		}
	})
}

func (s *Server) subtaskFail() pipelineHandler {
	return s.subtaskRoute(http.StatusOK, func(b *body) subtaskAct {
		msg := b.requiredStr("message", true)
		return func(ctx context.Context, tr *pipeline.Tracker, id uuid.UUID, n int64) (*pipeline.Subtask, error) {
			if msg == nil || strings.TrimSpace(*msg) == "" {
				return nil, badRequest("message", "required", "is required: say why the subtask failed")
			}
			return tr.FailSubtask(ctx, id, n, *msg)
		}
	})
}

func (s *Server) pipelineStatus(w http.ResponseWriter, r *http.Request, tr *pipeline.Tracker) error {
	q, err := queryOf(r, "stage")
	if err != nil {
		return err
	}
	if stage, ok := q["stage"]; ok {
		if err := tr.CheckStage(r.Context(), stage); err != nil {
			return err
		}
	}
	sts, err := tr.Status(r.Context(), q["stage"])
	if err != nil {
		return err
	}
	out := make([]PipelineTaskStatus, len(sts))
	for i, st := range sts {
		out[i] = PipelineTaskStatus{Stage: st.Stage, Task: st.Task, Status: string(st.Status), Percent: st.Percent, PercentSource: st.PercentSource}
		if st.Type != nil {
			typ := string(*st.Type)
			out[i].Type = &typ
		}
		if st.Run != nil {
			run := runOut(st.Run, pipeline.Progress{Percent: st.Percent, Source: st.PercentSource})
			out[i].Run = &run
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) pipelineActive(w http.ResponseWriter, r *http.Request, tr *pipeline.Tracker) error {
	if _, err := queryOf(r); err != nil {
		return err
	}
	runs, err := tr.Active(r.Context())
	if err != nil {
		return err
	}
	out, err := runsOut(r.Context(), tr, runs)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) pipelineHistory(w http.ResponseWriter, r *http.Request, tr *pipeline.Tracker) error {
	q, err := queryOf(r, "stage", "task", "limit")
	if err != nil {
		return err
	}
	hq := pipeline.HistoryQuery{Stage: q["stage"], Task: q["task"]}
	if raw, ok := q["limit"]; ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > pipeline.MaxHistoryLimit {
			return badRequest("limit", "between", fmt.Sprintf("must be an integer between 1 and %d, not %q", pipeline.MaxHistoryLimit, truncate(raw, 40)))
		}
		hq.Limit = n
	}
	if hq.Stage != "" {
		if err := tr.CheckStage(r.Context(), hq.Stage); err != nil {
			return err
		}
	}
	if hq.Task != "" {
		if err := tr.CheckTask(r.Context(), hq.Stage, hq.Task); err != nil {
			return err
		}
	}
	runs, err := tr.History(r.Context(), hq)
	if err != nil {
		return err
	}
	out, err := runsOut(r.Context(), tr, runs)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// PipelineStorage returns the pipeline tracker's storage over the
// backend's database, applying the tracker's registry migrations (stages
// and tasks; the run and subtask tables come with the models' migrations)
// when they are not applied yet. On memory it is a new in-memory store.
func (b *Backend) PipelineStorage(ctx context.Context) (storage.Storage, error) {
	switch {
	case b.sqlite != nil:
		if err := sqlite.Migrate(ctx, b.sqlite, sqlitestore.RegistryMigrations()); err != nil {
			return nil, err
		}
		return sqlitestore.New(b.sqlite), nil
	case b.pg != nil:
		if err := postgres.Migrate(ctx, b.pg, pgstore.RegistryMigrations()); err != nil {
			return nil, err
		}
		return pgstore.New(b.pg), nil
	case b.mysql != nil:
		if err := mysql.Migrate(ctx, b.mysql, mysqlstore.RegistryMigrations()); err != nil {
			return nil, err
		}
		return mysqlstore.New(b.mysql), nil
	}
	return memstore.New(), nil
}
