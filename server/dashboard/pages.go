package dashboard

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/tasktype"
)

// option is one choice of a filter.
type option struct {
	Value, Label string
	Checked      bool
}

// listView is the tasks page.
type listView struct {
	layout
	Types   []option
	Codes   []option
	Tag     string
	Within  []option
	Limits  []option
	Problem *server.Problem
	Rows    []rowView
	Offset  int
	Newer   string
	Older   string
	// First is the first page's URL when this page is past the end of the
	// list (no rows at an offset): the page links there instead of Newer.
	First string
	// Filters for the script: which live changes concern this page.
	TypesCSV string
	CodesCSV string
	HasTag   bool
}

// cleanQuery drops the empty parameters among known, the page's filter's
// (an empty form field means "any"), and those given once with their
// default value (the form always sends them), and reports whether it
// dropped any: the short URL means the same. A parameter the page does not
// take is kept, even empty, for the filter to refuse.
func cleanQuery(q url.Values, known []string) (url.Values, bool) {
	defaults := map[string]string{"limit": strconv.Itoa(server.DefaultLimit), "within_hours": strconv.Itoa(server.DefaultWithinHours), "offset": "0"}
	out := url.Values{}
	changed := false
	for k, vs := range q {
		if !slices.Contains(known, k) {
			out[k] = vs
			continue
		}
		if len(vs) == 1 && defaults[k] != "" && vs[0] == defaults[k] {
			changed = true
			continue
		}
		for _, v := range vs {
			if v == "" {
				changed = true
				continue
			}
			out[k] = append(out[k], v)
		}
	}
	return out, changed
}

// cleanURL redirects a submitted filter form to the short, shareable URL
// of path (done: the redirect is written), and returns the cleaned query.
func cleanURL(w http.ResponseWriter, r *http.Request, path string, known []string) (q url.Values, done bool) {
	q, changed := cleanQuery(r.URL.Query(), known)
	if !changed {
		return q, false
	}
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return q, true
}

func (d *Dashboard) tasksPage(w http.ResponseWriter, r *http.Request) {
	q, done := cleanURL(w, r, "/", server.ListParams())
	if done {
		return
	}
	s, ok := d.user(w, r, true)
	if !ok {
		return
	}
	v, status := d.list(r, s, q)
	v.layout = s.layout("Tasks", r)
	d.render(w, r, status, "tasks", "layout", v)
}

// listFragment is the tasks page's list alone, for the live script.
func (d *Dashboard) listFragment(w http.ResponseWriter, r *http.Request) {
	s, ok := d.user(w, r, false)
	if !ok {
		return
	}
	q, _ := cleanQuery(r.URL.Query(), server.ListParams())
	v, status := d.list(r, s, q)
	d.render(w, r, status, "tasks", "list", v)
}

// list runs the listing of the query q as the API's GET /tasks does.
func (d *Dashboard) list(r *http.Request, s session, q url.Values) (listView, int) {
	var v listView
	f, err := d.srv.ListFilter(q)
	for _, tt := range d.srv.TaskTypes() {
		v.Types = append(v.Types, option{Value: tt, Label: tt, Checked: slices.Contains(q["task_type"], tt)})
	}
	for _, c := range tasktype.Codes() {
		v.Codes = append(v.Codes, option{Value: string(c), Label: codeName(c), Checked: slices.Contains(q["status"], string(c))})
	}
	v.Tag = q.Get("tag")
	v.HasTag = q.Has("tag")
	v.Within = choices(q.Get("within_hours"), strconv.Itoa(server.DefaultWithinHours), []option{
		{Value: "1", Label: "last hour"}, {Value: "6", Label: "last 6 hours"}, {Value: "24", Label: "last day"},
		{Value: "168", Label: "last 7 days"}, {Value: "720", Label: "last 30 days"}, {Value: "8760", Label: "last year"},
	}, " hours")
	v.Limits = choices(q.Get("limit"), strconv.Itoa(server.DefaultLimit), []option{
		{Value: "20", Label: "20"}, {Value: "50", Label: "50"}, {Value: "100", Label: "100"},
	}, "")
	v.TypesCSV = strings.Join(q["task_type"], ",")
	v.CodesCSV = strings.Join(q["status"], ",")
	if err != nil {
		return v, d.problem(r, &v, err)
	}
	states, err := d.srv.ListTasks(r.Context(), s.User, f)
	if err != nil {
		return v, d.problem(r, &v, err)
	}
	for _, t := range states {
		v.Rows = append(v.Rows, newRow(t))
	}
	v.Offset = f.Offset
	page := func(offset int) string {
		p := url.Values{}
		for k, vs := range q {
			p[k] = vs
		}
		p.Del("offset")
		if offset > 0 {
			p.Set("offset", strconv.Itoa(offset))
		}
		if len(p) == 0 {
			return "/"
		}
		return "/?" + p.Encode()
	}
	switch {
	case f.Offset > 0 && len(states) == 0:
		v.First = page(0)
	case f.Offset > 0:
		v.Newer = page(max(0, f.Offset-f.Limit))
	}
	if len(states) == f.Limit {
		v.Older = page(f.Offset + f.Limit)
	}
	return v, http.StatusOK
}

// problem puts a listing error on the page: a bad filter is a 400 with its
// message, a failure a 500 whose cause goes to the log.
func (d *Dashboard) problem(r *http.Request, v *listView, err error) int {
	var p *server.Problem
	if !errors.As(err, &p) {
		d.log.ErrorContext(r.Context(), "dashboard: listing failed", "error", err)
		p = &server.Problem{Status: http.StatusInternalServerError, Title: "Internal server error", Detail: "the listing failed; the error is in the server's log"}
	}
	v.Problem = p
	return p.Status
}

// choices marks the current value among the usual ones, adding it when it
// is not one of them (a shared URL may hold any valid value).
func choices(cur, def string, opts []option, unit string) []option {
	if cur == "" {
		cur = def
	}
	found := false
	for i := range opts {
		if opts[i].Value == cur {
			opts[i].Checked, found = true, true
		}
	}
	if !found {
		opts = append(opts, option{Value: cur, Label: cur + unit, Checked: true})
	}
	return opts
}

// events streams the changes to the tasks the user may see, as
// Server-Sent Events: one "task" event per change, its data the task's
// id, type, code and tag and its row of the tasks page, rendered.
func (d *Dashboard) events(w http.ResponseWriter, r *http.Request) {
	s, ok := d.user(w, r, false)
	if !ok {
		return
	}
	ctx := r.Context()
	stream(d, w, r, d.srv.WatchTasks(ctx, s.User), func(t server.TaskState) (string, bool) {
		var row bytes.Buffer
		if err := d.pages["tasks"].ExecuteTemplate(&row, "row", newRow(t)); err != nil {
			d.log.ErrorContext(ctx, "dashboard: rendering a row failed", "error", err)
			return "", false
		}
		var data bytes.Buffer
		if err := writeJSONLine(&data, map[string]any{"id": t.ID, "task_type": t.TaskType, "code": t.Code, "tag": t.Row.Tag, "version": t.Version, "row": row.String()}); err != nil {
			return "", false
		}
		return fmt.Sprintf("event: task\nid: %d\ndata: %s\n\n", t.Version, data.Bytes()), true
	})
}

// stream writes Server-Sent Events to the page until the request ends: an
// event per change (what event returns; false ends the stream), a comment
// every heartbeat to keep proxies from closing it, and, when a re-check
// finds the session's token revoked (as the API's streams do; a failing
// token store does not count), an "unauthorized" event on which the page
// signs in again.
func stream[C any](d *Dashboard, w http.ResponseWriter, r *http.Request, changes <-chan C, event func(C) (string, bool)) {
	rc, err := server.OpenEventStream(w)
	if err != nil {
		return
	}
	beat := time.NewTicker(d.opt.Heartbeat)
	defer beat.Stop()
	recheck := time.NewTicker(d.srv.TokenRecheck())
	defer recheck.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-recheck.C:
			var p *server.Problem
			if _, err := d.srv.PageUser(r); errors.As(err, &p) {
				_, _ = fmt.Fprint(w, "event: unauthorized\ndata: {}\n\n")
				_ = rc.Flush()
				return
			}
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case c, ok := <-changes:
			if !ok {
				return
			}
			text, ok := event(c)
			if !ok {
				return
			}
			if _, err := fmt.Fprint(w, text); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// taskPageView is one task's page.
type taskPageView struct {
	layout
	T taskView
}

func (d *Dashboard) loadTask(r *http.Request, s session) (taskView, error) {
	id := r.PathValue("id")
	t, err := d.srv.Task(r.Context(), s.User, id)
	if err != nil {
		return taskView{}, err
	}
	h, err := d.srv.TaskHistory(r.Context(), s.User, id)
	if err != nil {
		return taskView{}, err
	}
	v := d.newTaskView(t, h, s.CSRF)
	switch r.URL.Query().Get("done") {
	case "cancelled":
		v.Notice = "The task was cancelled."
	}
	return v, nil
}

func (d *Dashboard) taskPage(w http.ResponseWriter, r *http.Request) {
	s, ok := d.user(w, r, true)
	if !ok {
		return
	}
	v, err := d.loadTask(r, s)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, "task", "layout", taskPageView{layout: s.layout(v.TaskType+" "+v.ID, r), T: v})
}

// taskFragment is the task page's content alone, for the live script.
func (d *Dashboard) taskFragment(w http.ResponseWriter, r *http.Request) {
	s, ok := d.user(w, r, false)
	if !ok {
		return
	}
	v, err := d.loadTask(r, s)
	if err != nil {
		d.fragmentError(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, "task", "taskview", v)
}

// maxForm bounds a form body.
const maxForm = 16 << 10

func (d *Dashboard) cancel(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	s, ok := d.user(w, r, true)
	if !ok {
		return
	}
	// A request that authenticates with an Authorization header (a
	// script's, curl's) needs no CSRF token: CSRF is a cookie's problem,
	// a browser sending the cookie on its own to a request another site
	// forged. No browser adds an Authorization header to a request
	// another site makes (a cross-origin fetch with one needs a CORS
	// preflight, which the dashboard never grants), so such a request
	// comes from whoever holds the token, as on the API's POST
	// /tasks/{id}/cancel; and the header's user, not the cookie's, is the
	// one it acts for. Sign-in and sign-out still check the CSRF token
	// whatever the headers: they set and clear the cookie.
	if !s.Bearer {
		if err := checkCSRF(r); err != nil {
			d.fail(w, r, &server.Problem{Status: http.StatusForbidden, Title: "Forbidden", Detail: err.Error()})
			return
		}
	}
	t, err := d.srv.CancelTask(r.Context(), s.User, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/tasks/"+url.PathEscape(t.ID)+"?done=cancelled", http.StatusSeeOther)
}

// signInView is the sign-in page.
type signInView struct {
	layout
	NextURL       string
	Message       string
	Error         string
	AnonymousOK   bool
	AnonymousUser string
}

func (d *Dashboard) signInPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := signInView{layout: d.layoutFor(w, r, "Sign in"), NextURL: safeNext(q.Get("next"))}
	v.layout.Next = ""
	switch {
	case q.Get("ended") != "":
		v.Message = "Your session ended: its token is no longer accepted. Sign in again."
	case q.Get("signed_out") != "":
		v.Message = "You are signed out."
	}
	v.AnonymousOK = d.srv.AnonymousAllowed(r)
	d.render(w, r, http.StatusOK, "signin", "layout", v)
}

// maxToken bounds a token pasted into the sign-in form.
const maxToken = 512

func (d *Dashboard) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	v := signInView{layout: d.layoutFor(w, r, "Sign in"), NextURL: safeNext(r.PostFormValue("next"))}
	v.layout.Next = ""
	v.AnonymousOK = d.srv.AnonymousAllowed(r)
	if err := checkCSRF(r); err != nil {
		v.Error = err.Error()
		d.render(w, r, http.StatusForbidden, "signin", "layout", v)
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if len(token) > maxToken || strings.ContainsAny(token, " ;,\"\\") {
		v.Error = "That is not a token: tokens are what taskmodel token create prints."
		d.render(w, r, http.StatusUnauthorized, "signin", "layout", v)
		return
	}
	if _, err := d.srv.SignIn(r.Context(), token); err != nil {
		var p *server.Problem
		if !errors.As(err, &p) {
			d.fail(w, r, err)
			return
		}
		v.Error = "Sign-in refused: " + p.Detail + "."
		d.render(w, r, p.Status, "signin", "layout", v)
		return
	}
	setCookie(w, r, server.SessionCookie, token, 0)
	http.Redirect(w, r, v.NextURL, http.StatusSeeOther)
}

func (d *Dashboard) signOut(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := checkCSRF(r); err != nil {
		d.fail(w, r, &server.Problem{Status: http.StatusForbidden, Title: "Forbidden", Detail: err.Error()})
		return
	}
	clearCookie(w, r, server.SessionCookie)
	http.Redirect(w, r, "/ui/sign-in?signed_out=1", http.StatusSeeOther)
}

// safeNext keeps a redirect target on this site: a path, not //host or
// a URL with a scheme; anything else goes to the tasks page.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/ui/sign-") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}
