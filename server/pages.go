package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/tasktype"
)

// This file is what an in-process user interface (package
// server/dashboard) reads and does, under the API's rules: the same
// tokens, the same owner check, the same listing filters and queries.

// SessionCookie is the cookie of a signed-in browser: it holds the user's
// bearer token (HttpOnly, SameSite=Lax). Once a user interface is
// mounted, GET and HEAD API requests without an Authorization header
// authenticate with it too, so that a page's EventSource can follow
// /tasks/{id}/events; requests that change state never do.
const SessionCookie = "taskmodel_session"

// Mount serves h at pattern beside the API (http.ServeMux patterns: "GET
// /{$}", "/ui/"), with the API's metrics and request logs. Call it before
// serving.
func (s *Server) Mount(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.observe(pattern, h))
	s.pages.Store(true)
}

// CheckQuery parses r's query string as every API route does before its
// handler runs (a malformed string, a name or value that is not valid
// UTF-8 or holds a control character): a *Problem of status 400 naming the
// parameter, or nil. A user interface runs it before its pages read the
// query.
func CheckQuery(r *http.Request) error {
	return checkQuery(r)
}

// sessionToken is the session cookie's token of a GET or HEAD request,
// once a user interface is mounted.
func (s *Server) sessionToken(r *http.Request) string {
	if !s.pages.Load() || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return ""
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// SignIn checks a bearer token as the API does; a refused token is a
// *Problem of status 401.
func (s *Server) SignIn(ctx context.Context, token string) (User, error) {
	if token == "" {
		return User{}, problem(http.StatusUnauthorized, "unauthorized", "Unauthorized", "a token is required (taskmodel token create --user NAME)")
	}
	u, err := s.checkToken(ctx, token)
	if err == nil && len(u.Models) > 0 {
		return User{}, problem(http.StatusUnauthorized, "unauthorized", "Unauthorized", "this is a worker token, which only runs tasks; sign in with a user's token")
	}
	return u, err
}

// TokenRecheck is how often an open event stream checks that its token
// is still valid (Config.TokenRecheck).
func (s *Server) TokenRecheck() time.Duration { return s.cfg.TokenRecheck }

// PageUser is who a page request acts for: the user of its Authorization
// header's bearer token (HasBearer), read as the API reads it (a script's
// or curl's request; an empty or refused token is a 401, a worker token a
// 403, whatever cookie comes with it); else of its session cookie's
// token, checked at every request (a revoked token ends the session);
// without either, the anonymous user for a loopback request when
// anonymous access is on. Otherwise a *Problem of status 401. An
// Authorization header of another scheme (the Basic credentials a
// browser resends to a proxy in front of the server) is not the page's:
// it is ignored.
func (s *Server) PageUser(r *http.Request) (User, error) {
	if token, _, err := bearerToken(r); HasBearer(r) {
		if err != nil {
			return User{}, err
		}
		u, err := s.checkToken(r.Context(), token)
		if err != nil {
			return User{}, err
		}
		if err := checkScope(r.URL.Path, u); err != nil {
			return User{}, err
		}
		return u, nil
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return s.SignIn(r.Context(), c.Value)
	}
	if s.AnonymousAllowed(r) {
		return User{Name: s.cfg.Anonymous, anonymous: true}, nil
	}
	return User{}, problem(http.StatusUnauthorized, "unauthorized", "Unauthorized", "sign in with a token (taskmodel token create --user NAME)")
}

// HasBearer reports whether r has an Authorization header of the Bearer
// scheme (any case), with or without a token: the credential PageUser
// reads before the cookie.
func HasBearer(r *http.Request) bool {
	scheme, _, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	return strings.EqualFold(scheme, "Bearer")
}

// AnonymousAllowed reports whether r may act as the anonymous user:
// anonymous access is on, r comes from this machine and is addressed to
// it, and not from a web page of another origin (fromThisMachine).
func (s *Server) AnonymousAllowed(r *http.Request) bool {
	return s.cfg.Anonymous != "" && loopback(r.RemoteAddr) && s.fromThisMachine(r) == nil
}

// TaskState is a task as a page shows it, whatever its model.
type TaskState struct {
	ID       string
	TaskType string
	// Status is the model's status; Code its unified code; Display what
	// the spec says to show for it.
	Status   string
	Code     tasktype.Code
	Display  tasktype.Display
	Version  int64
	Owner    string
	Finished bool
	Row      tasktype.Row
	// Progress is the task's progress field (nil without one), with its
	// progress_detail as JSON (nil without one or when null).
	Progress       *int64
	ProgressDetail json.RawMessage
	ErrorCode      string
	ErrorMessage   string
	// CanCancel: the task can be cancelled through the API (the model has
	// a cancel event, or it is a pipeline run of a server with a tracker)
	// and the transition table allows it from the current status.
	CanCancel bool
	// JSON is the task as GET /tasks/{id} returns it.
	JSON json.RawMessage
}

// StatusInfo is one status of a model with its spec display.
type StatusInfo struct {
	Name    string
	Code    tasktype.Code
	Display tasktype.Display
}

// ModelStatuses lists a model's statuses in spec order.
func (s *Server) ModelStatuses(model string) []StatusInfo {
	b, ok := s.models.byName[model]
	if !ok {
		return nil
	}
	l := b.lifecycle()
	out := make([]StatusInfo, len(l.Statuses))
	for i, st := range l.Statuses {
		out[i] = StatusInfo{Name: st.Name, Code: st.Code, Display: st.Display}
	}
	return out
}

// TaskTypes returns the listed task types, in the listing's order.
func (s *Server) TaskTypes() []string { return s.catalog.ModelNames() }

// ListParams are the query parameters of GET /tasks, which the listing
// page takes too.
func ListParams() []string { return append([]string(nil), listParams...) }

// ListFilter parses GET /tasks's query parameters as the API does, and
// checks them; an error is a *Problem (400) naming the parameter.
func (s *Server) ListFilter(q url.Values) (backends.ListFilter, error) {
	f, err := parseListFilter(q)
	if err != nil {
		return f, err
	}
	if _, err := s.catalog.Resolve(f); err != nil {
		return f, toProblem(err)
	}
	return f, nil
}

// ListTasks runs the unified listing as u may see it (their own tasks; an
// admin's, every task), with the API's indexed queries, and reads each
// listed task for its status display and progress.
func (s *Server) ListTasks(ctx context.Context, u User, f backends.ListFilter) ([]TaskState, error) {
	if !u.Admin {
		f.Owner = &u.Name
	}
	rows, err := s.catalog.List(ctx, f)
	if err != nil {
		return nil, pageError(err)
	}
	out := make([]TaskState, 0, len(rows))
	for _, row := range rows {
		b, ok := s.models.byName[row.TaskType]
		if !ok {
			continue
		}
		v, err := b.get(ctx, row.ID)
		if errors.Is(err, tasktype.ErrNotFound) {
			continue // deleted since
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s.state(b, v))
	}
	return out, nil
}

// Task reads one task as u may see it; another user's task is not found.
func (s *Server) Task(ctx context.Context, u User, id string) (TaskState, error) {
	v, b, err := s.pageLookup(ctx, u, id)
	if err != nil {
		return TaskState{}, err
	}
	return s.state(b, v), nil
}

// TaskHistory is a task's history, oldest first, as u may see it.
func (s *Server) TaskHistory(ctx context.Context, u User, id string) ([]backends.History, error) {
	v, b, err := s.pageLookup(ctx, u, id)
	if err != nil {
		return nil, err
	}
	h, err := b.history(ctx, v.key.ID)
	if err != nil {
		return nil, pageError(err)
	}
	return h, nil
}

// CancelTask cancels a task as POST /tasks/{id}/cancel does, for u.
func (s *Server) CancelTask(ctx context.Context, u User, id string) (TaskState, error) {
	v, b, err := s.pageLookup(ctx, u, id)
	if err != nil {
		return TaskState{}, err
	}
	if s.cancelsRuns(b) {
		v, err = s.cancelRun(ctx, b, v, "user:"+u.Name)
		if err != nil {
			return TaskState{}, pageError(err)
		}
		return s.state(b, v), nil
	}
	if b.worker().Cancel == "" {
		return TaskState{}, s.noCancel(b, v)
	}
	m := backends.Meta{Actor: "user:" + u.Name, Message: "dashboard: cancel"}
	v, err = b.cancel(ctx, v.key.ID, m)
	if err != nil {
		// A task that moved meanwhile: the API's 409, in its actions.
		return TaskState{}, pageError(withActions(b, err))
	}
	return s.state(b, v), nil
}

// WatchTasks streams the changes, made by any process, to the tasks u may
// see, across every model, until ctx ends. Each engine's change source
// runs while the stream is open.
func (s *Server) WatchTasks(ctx context.Context, u User) <-chan TaskState {
	out := make(chan TaskState, 64)
	done := make(chan struct{}, len(s.models.order))
	n := 0
	for _, b := range s.models.order {
		p, ok := b.(pager)
		if !ok {
			continue
		}
		n++
		ch := p.subscribeAll(ctx)
		go func() {
			defer func() { done <- struct{}{} }()
			for v := range ch {
				if !visible(u, v) {
					continue
				}
				select {
				case out <- s.state(b, v):
				case <-ctx.Done():
				}
			}
		}()
	}
	go func() {
		for range n {
			<-done
		}
		close(out)
	}()
	return out
}

func (s *Server) pageLookup(ctx context.Context, u User, raw string) (*view, binding, error) {
	id, err := taskID(raw)
	if err != nil {
		return nil, nil, err
	}
	v, b, err := s.find(ctx, id)
	if err != nil {
		return nil, nil, pageError(err)
	}
	if !visible(u, v) {
		return nil, nil, notFound("no such task")
	}
	return v, b, nil
}

// pageError is err as the API would answer it, a *Problem, unless it is a
// failure (a 500): that is returned as it is, for the caller to log.
func pageError(err error) error {
	if p := toProblem(err); p.Status < 500 {
		return p
	}
	return err
}

func (s *Server) state(b binding, v *view) TaskState {
	st := TaskState{ID: v.key.ID.String(), TaskType: v.model, Status: v.key.Status, Version: v.key.Version, Owner: v.owner, Finished: v.finished}
	if p, ok := b.(pager); ok {
		st.Row = p.row(v)
	}
	st.Code, st.Display = statusDisplay(v.task)
	if ev := b.worker().Cancel; ev != "" {
		st.CanCancel = b.canFire(v, ev)
	} else if s.cancelsRuns(b) {
		st.CanCancel = b.canFire(v, string(pipelinerun.EventCancel))
	}
	if body, err := taskJSON(v); err == nil {
		st.JSON = body
		var doc map[string]json.RawMessage
		if json.Unmarshal(body, &doc) == nil {
			var p int64
			if raw, ok := doc["progress"]; ok && json.Unmarshal(raw, &p) == nil {
				st.Progress = &p
			}
			if raw, ok := doc["progress_detail"]; ok && string(raw) != "null" {
				st.ProgressDetail = raw
			}
			_ = json.Unmarshal(doc["error_code"], &st.ErrorCode)
			_ = json.Unmarshal(doc["error_message"], &st.ErrorMessage)
		}
	}
	return st
}

// displayer is what a generated Status type has.
type displayer interface {
	Display() tasktype.Display
	Code() tasktype.Code
}

// statusDisplay reads the Status field of a generated model struct (*T).
func statusDisplay(task any) (tasktype.Code, tasktype.Display) {
	rv := reflect.ValueOf(task)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return "", tasktype.Display{}
	}
	f := rv.Elem().FieldByName("Status")
	if !f.IsValid() || !f.CanInterface() {
		return "", tasktype.Display{}
	}
	d, ok := f.Interface().(displayer)
	if !ok {
		return "", tasktype.Display{}
	}
	return d.Code(), d.Display()
}

// pager is what the pages need of a binding beyond the API's.
type pager interface {
	row(v *view) tasktype.Row
	subscribeAll(ctx context.Context) <-chan *view
}

func (b *typed[T, E, PT]) row(v *view) tasktype.Row {
	if x, ok := v.task.(*T); ok {
		return PT(x).ListRow()
	}
	return tasktype.Row{}
}

func (b *typed[T, E, PT]) subscribeAll(ctx context.Context) <-chan *view {
	sub := b.eng.Subscribe(ctx, uuid.Nil)
	out := make(chan *view, 16)
	go func() {
		defer close(out)
		defer sub.Close()
		for ch := range sub.C {
			select {
			case out <- b.view(ch.Task):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
