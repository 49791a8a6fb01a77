// Package dashboard is the web dashboard of taskmodel serve: server-rendered
// pages (html/template) and one small script, embedded in the binary, with
// nothing fetched from elsewhere. It reads and acts through the server's
// page methods (server.Server.ListTasks, Task, CancelTask, WatchTasks), so
// it follows the API's rules: the same tokens, users see their own tasks
// and admins every task, the same listing filters and indexed queries.
//
// Routes: GET / (the tasks page), GET /ui/tasks/{id} (one task), GET
// /ui/models and /ui/models/{name} (the models; one model's lifecycle
// diagram with task counts, its queue health), GET /ui/pipelines (pipeline
// runs as a tree of stages, tasks, latest runs and subtasks), the
// sign-in and sign-out forms, the fragments and event stream the script
// uses for live updates, and /ui/static/. A browser signs in with a
// bearer token, which it keeps in the session cookie server.SessionCookie
// (HttpOnly, SameSite=Lax, Secure behind https); every form that changes
// state carries a CSRF token that must match the CSRF cookie. A script
// (curl) may instead send the token as to the API, in an
// "Authorization: Bearer <token>" header, which then takes the place of
// the cookie and of the CSRF token.
package dashboard

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/server"
)

//go:embed templates/*.html static/*
var files embed.FS

// CSRFCookie holds a browser's CSRF token; forms send it back in the field
// CSRFField.
const (
	CSRFCookie = "taskmodel_csrf"
	CSRFField  = "csrf"
)

// Options configures the dashboard.
type Options struct {
	// Logger receives the failures pages hide from users (default: the
	// JSON handler on stderr).
	Logger *slog.Logger
	// Heartbeat is how often the live list stream sends a comment (default 15 s).
	Heartbeat time.Duration
	// Now is the clock of durations shown (default time.Now).
	Now func() time.Time
}

// Dashboard serves the pages.
type Dashboard struct {
	srv    *server.Server
	log    *slog.Logger
	opt    Options
	pages  map[string]*template.Template
	static http.Handler
	files  fs.FS // the static files
	mux    *http.ServeMux
}

// Mount builds the dashboard and serves it on srv: / and /ui/.
func Mount(srv *server.Server, o Options) (*Dashboard, error) {
	d, err := New(srv, o)
	if err != nil {
		return nil, err
	}
	srv.Mount("/{$}", d)
	srv.Mount("/ui/", d)
	return d, nil
}

// New builds the dashboard of srv without mounting it.
func New(srv *server.Server, o Options) (*Dashboard, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	d := &Dashboard{srv: srv, log: o.Logger, opt: o, pages: map[string]*template.Template{}}
	for _, name := range []string{"tasks", "task", "models", "model", "pipelines", "signin", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		d.pages[name] = t
	}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}
	d.files = static
	d.static = http.StripPrefix("/ui/static/", http.FileServerFS(static))
	m := http.NewServeMux()
	// The query parameters of each handler; the tasks and pipelines pages
	// and their fragments leave the check to their filter, which refuses an
	// unknown parameter as the API's listings do (GET /tasks?foo=1 and
	// /?foo=1 say the same).
	none := []string{}
	d.handle(m, "/{$}", methods{"GET": {serve: d.tasksPage, filter: true}})
	d.handle(m, "/ui/list", methods{"GET": {serve: d.listFragment, filter: true, fragment: true}})
	d.handle(m, "/ui/events", methods{"GET": {serve: d.events, takes: none, fragment: true, stream: true}})
	d.handle(m, "/ui/tasks/{id}", methods{"GET": {serve: d.taskPage, takes: []string{"done"}}})
	d.handle(m, "/ui/tasks/{id}/view", methods{"GET": {serve: d.taskFragment, takes: none, fragment: true}})
	d.handle(m, "/ui/tasks/{id}/cancel", methods{"POST": {serve: d.cancel, takes: none}})
	d.handle(m, "/ui/models", methods{"GET": {serve: d.modelsPage, takes: none}})
	d.handle(m, "/ui/models/{name}", methods{"GET": {serve: d.modelPage, takes: []string{"window"}}})
	d.handle(m, "/ui/models/{name}/view", methods{"GET": {serve: d.modelFragment, takes: []string{"window"}, fragment: true}})
	d.handle(m, "/ui/pipelines", methods{"GET": {serve: d.pipelinesPage, filter: true}})
	d.handle(m, "/ui/pipelines/view", methods{"GET": {serve: d.pipelinesFragment, filter: true, fragment: true}})
	d.handle(m, "/ui/pipelines/events", methods{"GET": {serve: d.pipelineEvents, takes: none, fragment: true, stream: true}})
	d.handle(m, "/ui/sign-in", methods{"GET": {serve: d.signInPage, takes: []string{"next", "ended", "signed_out"}}, "POST": {serve: d.signIn, takes: none}})
	d.handle(m, "/ui/sign-out", methods{"POST": {serve: d.signOut, takes: none}})
	d.handle(m, "/ui/static/", methods{"GET": {serve: d.serveStatic, anyQuery: true}})
	// The mux would redirect /ui/static to the directory, which is no page.
	m.HandleFunc("/ui/static", d.notFound)
	m.HandleFunc("/ui/", d.notFound)
	d.mux = m
	return d, nil
}

// handler serves one method of a route.
type handler struct {
	serve func(http.ResponseWriter, *http.Request)
	// takes are the query parameters it takes; any other is a 400 naming
	// it. With filter, the handler's listing filter checks them instead.
	takes  []string
	filter bool
	// anyQuery: the query is not checked at all (a static file's: a
	// cache-busting app.js?v=2 is ignored, as file servers do).
	anyQuery bool
	// fragment: the live script fetches it (content, an event stream), so
	// an error is the alert alone (fragmentError), not a whole page.
	fragment bool
	// stream: an event stream, which does not end; it serves GET alone,
	// not HEAD (a HEAD would hold its connection open).
	stream bool
}

// methods are a route's handlers by method; GET serves HEAD too, but for
// an event stream.
type methods map[string]handler

// handle serves pattern (no method in it: every method reaches the route,
// which answers one it does not take with a 405 page and an Allow
// header), after checking the query: strictly as the API does (a
// malformed string, bad text), then the parameters the handler takes.
func (d *Dashboard) handle(m *http.ServeMux, pattern string, ms methods) {
	names := make([]string, 0, len(ms)+1)
	for name := range ms {
		names = append(names, name)
	}
	get, hasGet := ms[http.MethodGet]
	headFromGet := hasGet && !get.stream
	if _, ok := ms[http.MethodHead]; ok {
		headFromGet = false
	}
	if headFromGet {
		names = append(names, http.MethodHead)
	}
	slices.Sort(names)
	allow := strings.Join(names, ", ")
	m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h, ok := ms[r.Method]
		if !ok && r.Method == http.MethodHead && headFromGet {
			h, ok = get, true
		}
		if !ok {
			w.Header().Set("Allow", allow)
			d.fail(w, r, &server.Problem{Status: http.StatusMethodNotAllowed, Title: "Method not allowed",
				Detail: fmt.Sprintf("%s is not allowed on %s; allowed: %s", truncate(r.Method, 20), r.URL.Path, allow)})
			return
		}
		if h.anyQuery {
			h.serve(w, r)
			return
		}
		err := server.CheckQuery(r)
		if err == nil && !h.filter {
			err = unknownParams(r.URL.Query(), h.takes)
		}
		if err != nil {
			if h.fragment {
				d.fragmentError(w, r, err)
			} else {
				d.fail(w, r, err)
			}
			return
		}
		h.serve(w, r)
	})
}

// maxNamed is how many unknown parameters a 400 names; it counts the rest.
const maxNamed = 5

// unknownParams is the 400 of the parameters of q that are not in takes,
// nil when there are none.
func unknownParams(q url.Values, takes []string) error {
	var names []string
	for k := range q {
		if !slices.Contains(takes, k) {
			names = append(names, fmt.Sprintf("%q", truncate(k, 40)))
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	if len(names) > maxNamed {
		names = append(names[:maxNamed], fmt.Sprintf("and %d more", len(names)-maxNamed))
	}
	what := "none"
	if len(takes) > 0 {
		what = strings.Join(takes, ", ")
	}
	return &server.Problem{Status: http.StatusBadRequest, Title: "Bad request", Detail: "unknown parameter " + strings.Join(names, ", ") + "; this page takes " + what}
}

// ServeHTTP serves the dashboard's routes with its security headers.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	d.mux.ServeHTTP(w, r)
}

func (d *Dashboard) notFound(w http.ResponseWriter, r *http.Request) {
	d.fail(w, r, &server.Problem{Status: http.StatusNotFound, Title: "Not found", Detail: "no page " + r.URL.Path})
}

// serveStatic serves a file under /ui/static/; the directory is not
// listed, and a path that names no file (a directory, index.html, which
// the file server would redirect) is the 404 page.
func (d *Dashboard) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/ui/static/")
	if st, err := fs.Stat(d.files, name); !fs.ValidPath(name) || err != nil || st.IsDir() || path.Base(name) == "index.html" {
		d.fail(w, r, &server.Problem{Status: http.StatusNotFound, Title: "Not found", Detail: "no file " + r.URL.Path})
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	d.static.ServeHTTP(w, r)
}

// session is who a request acts for, with its CSRF token.
type session struct {
	User      server.User
	Anonymous bool // the anonymous user of --allow-anonymous
	// Bearer: the user is the Authorization header's (a script, curl),
	// not the cookie's.
	Bearer bool
	CSRF   string
}

// user resolves the request's user. On failure it has answered: a page
// request is sent to the sign-in page, others (fragments, streams) get the
// 401 as an alert. A request with an Authorization header (a script's) is
// never sent to sign in: a refused token is the 401 (or a worker token's
// 403) page, with a WWW-Authenticate header as the API's.
func (d *Dashboard) user(w http.ResponseWriter, r *http.Request, page bool) (session, bool) {
	u, err := d.srv.PageUser(r)
	if err != nil {
		var p *server.Problem
		isProblem := errors.As(err, &p)
		if isProblem && p.Status == http.StatusUnauthorized && server.HasBearer(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="taskmodel"`)
		}
		if !page || !isProblem || server.HasBearer(r) {
			if page {
				d.fail(w, r, err)
			} else {
				d.fragmentError(w, r, err)
			}
			return session{}, false
		}
		q := url.Values{"next": {nextAfterSignIn(r)}}
		if c, err := r.Cookie(server.SessionCookie); err == nil && c.Value != "" {
			clearCookie(w, r, server.SessionCookie)
			q.Set("ended", "1")
		}
		http.Redirect(w, r, "/ui/sign-in?"+q.Encode(), http.StatusSeeOther)
		return session{}, false
	}
	if server.HasBearer(r) {
		return session{User: u, Bearer: true, CSRF: d.csrf(w, r)}, true
	}
	_, noCookie := r.Cookie(server.SessionCookie)
	return session{User: u, Anonymous: noCookie != nil, CSRF: d.csrf(w, r)}, true
}

// nextAfterSignIn is the page a request sent to sign in returns to: the
// page itself, or for a form's POST (a cancel), which a redirect cannot
// repeat, the page the form is on (the task's), else the tasks page.
func nextAfterSignIn(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return r.URL.RequestURI()
	}
	if id := r.PathValue("id"); id != "" && strings.HasPrefix(r.URL.Path, "/ui/tasks/") {
		return "/ui/tasks/" + url.PathEscape(id)
	}
	return "/"
}

// csrf returns the browser's CSRF token, setting the cookie when missing.
func (d *Dashboard) csrf(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(CSRFCookie); err == nil && validToken(c.Value) {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := hex.EncodeToString(b)
	setCookie(w, r, CSRFCookie, v, 0)
	return v
}

func validToken(v string) bool {
	if len(v) != 64 {
		return false
	}
	_, err := hex.DecodeString(v)
	return err == nil
}

// checkCSRF accepts a state-changing request only from this site: the
// form's CSRF field must equal the CSRF cookie (which SameSite=Lax keeps
// from cross-site POSTs), and the browser's Sec-Fetch-Site and Origin,
// when sent, must say same origin.
func checkCSRF(r *http.Request) error {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return errors.New("the request came from another site")
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return errors.New("the request came from another origin")
		}
	}
	c, err := r.Cookie(CSRFCookie)
	if err != nil || !validToken(c.Value) {
		return errors.New("the form has expired (no CSRF cookie); reload the page and try again")
	}
	if subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(CSRFField))) != 1 {
		return errors.New("the form has expired (its CSRF token does not match); reload the page and try again")
	}
	return nil
}

// secure reports whether the browser reached us over https (directly or
// through a proxy that says so): cookies are then Secure.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// setCookie sets one of the dashboard's cookies: HttpOnly, Path=/, Secure
// behind https, for the browser's session (maxAge 0) or deleted (-1).
//
// They are SameSite=Lax, not Strict, so that a dashboard link followed
// from another site (a shared filtered page in a chat or a mail) opens
// signed in: Lax sends them on top-level GET navigations only, never on
// another site's POSTs, fetches, frames or images. That is safe because no
// GET changes anything: every dashboard request that does (cancel, sign
// in, sign out) is a POST that checkCSRF guards (the form's token must
// equal the CSRF cookie, and Sec-Fetch-Site and Origin must not name
// another site), and the API accepts the session cookie on GET and HEAD
// only, which read.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure(r)})
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	setCookie(w, r, name, "", -1)
}

// render writes a page, or on a template failure a plain 500.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name, block string, data any) {
	var buf bytes.Buffer
	if block == "layout" {
		block = "layout.html"
	}
	if err := d.pages[name].ExecuteTemplate(&buf, block, data); err != nil {
		d.log.ErrorContext(r.Context(), "dashboard: rendering failed", slog.String("page", name), slog.Any("error", err))
		http.Error(w, "the page could not be rendered; the error is in the server's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows an error page: a *server.Problem as it says, anything else as
// a 500 whose cause goes to the log only.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *server.Problem
	if !errors.As(err, &p) {
		d.log.ErrorContext(r.Context(), "dashboard: request failed", slog.String("path", r.URL.Path), slog.Any("error", err))
		p = &server.Problem{Status: http.StatusInternalServerError, Title: "Internal server error", Detail: "the server failed; the error is in its log"}
	}
	data := struct {
		layout
		Problem *server.Problem
	}{layout: d.layoutFor(w, r, p.Title), Problem: p}
	d.render(w, r, p.Status, "error", "layout", data)
}

// layout is what every page's frame shows.
type layout struct {
	Title     string
	User      string
	Admin     bool
	Anonymous bool
	SignedIn  bool
	Bearer    bool // acting for the Authorization header's user
	CSRF      string
	Next      string
}

func (d *Dashboard) layoutFor(w http.ResponseWriter, r *http.Request, title string) layout {
	l := layout{Title: title, CSRF: d.csrf(w, r), Next: r.URL.RequestURI()}
	if u, err := d.srv.PageUser(r); err == nil {
		l.User, l.Admin = u.Name, u.Admin
		_, err := r.Cookie(server.SessionCookie)
		l.Bearer = server.HasBearer(r)
		l.SignedIn = err == nil && !l.Bearer
		l.Anonymous = !l.SignedIn && !l.Bearer
	}
	return l
}

func (s session) layout(title string, r *http.Request) layout {
	return layout{Title: title, User: s.User.Name, Admin: s.User.Admin, Anonymous: s.Anonymous, SignedIn: !s.Anonymous && !s.Bearer, Bearer: s.Bearer, CSRF: s.CSRF, Next: r.URL.RequestURI()}
}
