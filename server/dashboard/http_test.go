package dashboard_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/server/dashboard"
)

// page is one answer of the dashboard.
type page struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, c *http.Client, u string, header ...string) page {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, c, req)
}

func post(t *testing.T, c *http.Client, u string, form url.Values, header ...string) page {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, c, req)
}

func do(t *testing.T, c *http.Client, req *http.Request) page {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(b)}
}

var reCSRF = regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := reCSRF.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF field in the page:\n%s", p.body)
	}
	return m[1]
}

// signIn signs c in as user through the sign-in form.
func signIn(t *testing.T, e *env, c *http.Client, user string) {
	t.Helper()
	form := get(t, c, e.url+"/ui/sign-in")
	p := post(t, c, e.url+"/ui/sign-in", url.Values{"csrf": {csrfOf(t, form)}, "token": {e.tokens[user]}, "next": {"/"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
		t.Fatalf("sign in as %s: %d %s\n%s", user, p.status, p.header.Get("Location"), p.body)
	}
}

// TestSignIn: without a session the pages send to the sign-in form; a
// refused token says why; an accepted one sets an HttpOnly, SameSite=Lax
// session cookie (Secure behind https) and sends back where the user was.
func TestSignIn(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory"})
	c := client(t)
	p := get(t, c, e.url+"/?status=R")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/sign-in?next=%2F%3Fstatus%3DR" {
		t.Fatalf("GET / signed out: %d %q", p.status, p.header.Get("Location"))
	}
	form := get(t, c, e.url+p.header.Get("Location"))
	if form.status != 200 || !strings.Contains(form.body, `name="next" value="/?status=R"`) {
		t.Fatalf("sign-in page: %d\n%s", form.status, form.body)
	}
	csrf := csrfOf(t, form)

	bad := post(t, c, e.url+"/ui/sign-in", url.Values{"csrf": {csrf}, "token": {"tm_nope_nope"}})
	if bad.status != http.StatusUnauthorized || !strings.Contains(bad.body, "the token is unknown, malformed or revoked") {
		t.Fatalf("bad token: %d\n%s", bad.status, bad.body)
	}
	forged := post(t, c, e.url+"/ui/sign-in", url.Values{"csrf": {strings.Repeat("0", 64)}, "token": {e.tokens["alice"]}})
	if forged.status != http.StatusForbidden {
		t.Fatalf("sign-in without the CSRF token: %d", forged.status)
	}

	ok := post(t, c, e.url+"/ui/sign-in", url.Values{"csrf": {csrf}, "token": {e.tokens["alice"]}, "next": {"/?status=R"}})
	if ok.status != http.StatusSeeOther || ok.header.Get("Location") != "/?status=R" {
		t.Fatalf("sign in: %d %q\n%s", ok.status, ok.header.Get("Location"), ok.body)
	}
	cookie := ok.header.Get("Set-Cookie")
	for _, want := range []string{server.SessionCookie + "=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("session cookie over plain http is Secure: %q", cookie)
	}
	home := get(t, c, e.url+"/")
	if home.status != 200 || !strings.Contains(home.body, `Signed in as <strong id="user">alice</strong>`) {
		t.Fatalf("home after sign-in: %d\n%s", home.status, home.body)
	}

	// Behind an https proxy the cookies are Secure.
	c2 := client(t)
	form2 := get(t, c2, e.url+"/ui/sign-in")
	sec := post(t, c2, e.url+"/ui/sign-in", url.Values{"csrf": {csrfOf(t, form2)}, "token": {e.tokens["alice"]}}, "X-Forwarded-Proto", "https")
	if sc := sec.header.Get("Set-Cookie"); !strings.Contains(sc, "Secure") {
		t.Errorf("session cookie behind https is not Secure: %q", sc)
	}

	// An open redirect is not: next stays on this site.
	c3 := client(t)
	form3 := get(t, c3, e.url+"/ui/sign-in")
	off := post(t, c3, e.url+"/ui/sign-in", url.Values{"csrf": {csrfOf(t, form3)}, "token": {e.tokens["alice"]}, "next": {"//evil.example/x"}})
	if off.header.Get("Location") != "/" {
		t.Errorf("next=//evil.example/x redirected to %q", off.header.Get("Location"))
	}

	// Signing out clears the cookie.
	out := post(t, c, e.url+"/ui/sign-out", url.Values{"csrf": {csrfOf(t, home)}})
	if out.status != http.StatusSeeOther || !strings.Contains(out.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign out: %d %q", out.status, out.header.Get("Set-Cookie"))
	}
	if p := get(t, c, e.url+"/"); p.status != http.StatusSeeOther {
		t.Fatalf("GET / after sign-out: %d", p.status)
	}
}

// TestCookiesSameSiteLax: the session and CSRF cookies are SameSite=Lax,
// so that a dashboard link followed from another site (a shared filtered
// page) opens signed in; the CSRF check, not SameSite, refuses forms from
// other sites (TestCSRF).
func TestCookiesSameSiteLax(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory"})
	c := client(t)
	form := get(t, c, e.url+"/ui/sign-in")
	signedIn := post(t, c, e.url+"/ui/sign-in", url.Values{"csrf": {csrfOf(t, form)}, "token": {e.tokens["alice"]}})
	home := get(t, c, e.url+"/")
	signedOut := post(t, c, e.url+"/ui/sign-out", url.Values{"csrf": {csrfOf(t, home)}})
	for _, tc := range []struct {
		name, cookie string
		p            page
	}{
		{"CSRF cookie of the sign-in page", dashboard.CSRFCookie, form},
		{"session cookie of a sign-in", server.SessionCookie, signedIn},
		{"session cookie cleared by a sign-out", server.SessionCookie, signedOut},
	} {
		var got *http.Cookie
		for _, ck := range (&http.Response{Header: tc.p.header}).Cookies() {
			if ck.Name == tc.cookie {
				got = ck
			}
		}
		switch {
		case got == nil:
			t.Errorf("%s: no %s cookie set (%q)", tc.name, tc.cookie, tc.p.header.Values("Set-Cookie"))
		case got.SameSite != http.SameSiteLaxMode || !got.HttpOnly || got.Path != "/":
			t.Errorf("%s: %q, want HttpOnly, SameSite=Lax, Path=/", tc.name, got.String())
		}
	}
	// A link followed from another site: the browser sends the Lax cookie
	// with Sec-Fetch-Site: cross-site; the page opens signed in.
	c2 := client(t)
	signIn(t, e, c2, "alice")
	p := get(t, c2, e.url+"/?task_type=analysis", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document")
	if p.status != 200 || !strings.Contains(p.body, `Signed in as <strong id="user">alice</strong>`) {
		t.Errorf("a shared link followed from another site: %d\n%s", p.status, excerpt(p.body))
	}
}

// TestRevokedTokenEndsSession: the session's token is checked at every
// request, so revoking it signs the browser out.
func TestRevokedTokenEndsSession(t *testing.T) {
	e := newEnv(t, envOptions{backend: "sqlite"})
	c := client(t)
	signIn(t, e, c, "alice")
	// A proxy's Basic credentials beside the cookie are not the page's:
	// the cookie's user acts.
	if p := get(t, c, e.url+"/", "Authorization", "Basic YWxpY2U6eA=="); p.status != 200 || !strings.Contains(p.body, `Signed in as <strong id="user">alice</strong>`) {
		t.Fatalf("GET / with a Basic header and the cookie: %d\n%s", p.status, excerpt(p.body))
	}
	if err := e.store.Revoke(context.Background(), e.ids["alice"]); err != nil {
		t.Fatal(err)
	}
	p := get(t, c, e.url+"/")
	if p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Location"), "ended=1") {
		t.Fatalf("GET / with a revoked token: %d %q", p.status, p.header.Get("Location"))
	}
	// A cancel sent after the revocation returns, once signed in again, to
	// the task's page: a redirect cannot repeat the form's POST.
	bob := client(t)
	signIn(t, e, bob, "bob")
	id := e.analysis("bob", "b")
	csrf := csrfOf(t, get(t, bob, e.url+"/ui/tasks/"+id))
	if err := e.store.Revoke(context.Background(), e.ids["bob"]); err != nil {
		t.Fatal(err)
	}
	pc := post(t, bob, e.url+"/ui/tasks/"+id+"/cancel", url.Values{"csrf": {csrf}})
	if loc, _ := url.Parse(pc.header.Get("Location")); pc.status != http.StatusSeeOther || loc == nil || loc.Query().Get("next") != "/ui/tasks/"+id {
		t.Fatalf("a cancel with a revoked token: %d %q, want a redirect to sign in with next=/ui/tasks/%s", pc.status, pc.header.Get("Location"), id)
	}
	if page := get(t, c, e.url+p.header.Get("Location")); !strings.Contains(page.body, "Your session ended") {
		t.Fatalf("sign-in page after revocation:\n%s", page.body)
	}
}

// TestRevokedTokenEndsStream: the live list's open event stream checks its
// session token as the API's streams do, and ends with an "unauthorized"
// event once the token is revoked.
func TestRevokedTokenEndsStream(t *testing.T) {
	e := newEnv(t, envOptions{backend: "sqlite"})
	c := client(t)
	signIn(t, e, c, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", e.url+"/ui/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /ui/events: %d", resp.StatusCode)
	}
	if err := e.store.Revoke(context.Background(), e.ids["alice"]); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body) // returns when the server ends the stream
	if err != nil {
		t.Fatalf("the stream did not end after the revocation: %v\n%s", err, body)
	}
	if !strings.Contains(string(body), "event: unauthorized") {
		t.Fatalf("the stream ended without the unauthorized event:\n%s", body)
	}
}

// TestCSRF: a cancel without the form's CSRF token, or from another
// site, is refused and changes nothing.
func TestCSRF(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory"})
	c := client(t)
	signIn(t, e, c, "alice")
	id := e.analysis("alice", "a")
	home := get(t, c, e.url+"/")
	csrf := csrfOf(t, home)
	for _, tc := range []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no token", url.Values{}, nil},
		{"wrong token", url.Values{"csrf": {strings.Repeat("a", 64)}}, nil},
		{"cross-site fetch", url.Values{"csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"other origin", url.Values{"csrf": {csrf}}, []string{"Origin", "http://evil.example"}},
	} {
		p := post(t, c, e.url+"/ui/tasks/"+id+"/cancel", tc.form, tc.header...)
		if p.status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403\n%s", tc.name, p.status, p.body)
		}
	}
	// The session cookie authenticates API reads (the page's event
	// stream), never API writes.
	req, _ := http.NewRequest("GET", e.url+"/tasks/"+id, nil)
	if p := do(t, c, req); p.status != 200 {
		t.Errorf("API GET with the session cookie: %d", p.status)
	}
	req, _ = http.NewRequest("POST", e.url+"/tasks/"+id+"/cancel", nil)
	if p := do(t, c, req); p.status != http.StatusUnauthorized {
		t.Errorf("API POST with the session cookie only: %d, want 401", p.status)
	}
	if _, m := e.api("GET", "/tasks/"+id, "alice", ""); m["status"] != "CREATED" {
		t.Errorf("task is %v after refused requests", m["status"])
	}
}

// TestCancelRefusedSaysWhatTheAPISays: a cancel the task's status does not
// allow (a task not yet processing, or one cancelled already: a second
// click) shows the API's 409 message, in the API's actions, not the
// lifecycle's event names.
func TestCancelRefusedSaysWhatTheAPISays(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory", agentTime: time.Minute})
	c := client(t)
	signIn(t, e, c, "alice")
	created := e.analysis("alice", "a")
	cancelled := e.analysis("alice", "b")
	e.process("alice", cancelled)
	// analysis cancels from PROCESSING only: the demo worker claims it
	// first (a cancel while it was still QUEUED was refused).
	e.waitStatus("alice", cancelled, "PROCESSING")
	e.must(200, "POST", "/tasks/"+cancelled+"/cancel", "alice", "")
	csrf := csrfOf(t, get(t, c, e.url+"/"))
	for _, tc := range []struct{ name, id, want string }{
		{"not processing yet", created, "cancel is not possible while the task is CREATED; possible now: upload-urls"},
		{"cancelled already", cancelled, "cancel is not possible while the task is CANCELLED; no action is possible now"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, p := e.api("POST", "/tasks/"+tc.id+"/cancel", "alice", ""); code != http.StatusConflict || p["detail"] != tc.want {
				t.Fatalf("the API's cancel: %d %q, want 409 %q", code, p["detail"], tc.want)
			}
			p := post(t, c, e.url+"/ui/tasks/"+tc.id+"/cancel", url.Values{"csrf": {csrf}})
			m := reProblem.FindStringSubmatch(p.body)
			if p.status != http.StatusConflict || m == nil || html.UnescapeString(m[1]) != tc.want {
				t.Errorf("the dashboard's cancel: %d, want 409 with %q\n%s", p.status, tc.want, excerpt(p.body))
			}
		})
	}
}

// TestBadInput: bad filters in the URL and bad task ids show a clear
// message with a 4xx, never a 500, the same on every backend; the query
// string is checked as the API checks it.
func TestBadInput(t *testing.T) {
	for _, backend := range []string{"memory", "sqlite", "postgres", "mysql"} {
		t.Run(backend, func(t *testing.T) { testBadInput(t, backend) })
	}
}

func testBadInput(t *testing.T, backend string) {
	e := newEnv(t, envOptions{backend: backend})
	c := client(t)
	signIn(t, e, c, "alice")
	for _, x := range []struct{ q, want string }{
		{"status=X", `unknown status code &#34;X&#34;; allowed: Q, R, D, F, C`},
		{"task_type=nope", `unknown task type &#34;nope&#34;`},
		{"limit=0", "limit: must be between 1 and 100 (got 0)"},
		{"limit=many", "limit: must be an integer from 1 to 100"},
		{"within_hours=0", "within_hours: must be between 1 and"},
		{"offset=-3", "offset: must be between 0 and"},
		{"colour=red", "colour: unknown query parameter; allowed: limit, offset, within_hours, task_type, status, tag"},
		{"tag=a&tag=b", "tag: may be given once"},
		{"within_hours=1e9", "within_hours: must be an integer"},
		{"limit=1&limit=2", "limit: may be given once"},
		{"task_type=%FF%FE", "task_type: the value is not valid UTF-8"},
		{"tag=%00", "tag: the value contains a NUL character (U&#43;0000); text may not contain it"},
		{"tag=%ff", "tag: the value is not valid UTF-8"},
		{"limit=%zz", `query: the query string is malformed (invalid escape &#34;%zz&#34;)`},
	} {
		p := get(t, c, e.url+"/?"+x.q)
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, x.want) || !strings.Contains(p.body, `id="problem"`) {
			t.Errorf("/?%s: status %d, want 400 with %q\n%s", x.q, p.status, x.want, excerpt(p.body))
		}
		if f := get(t, c, e.url+"/ui/list?"+x.q); f.status != http.StatusBadRequest || !strings.Contains(f.body, x.want) {
			t.Errorf("/ui/list?%s: status %d, want 400 with %q", x.q, f.status, x.want)
		}
	}
	for path, want := range map[string]int{
		"/ui/tasks/not-a-uuid":                           400,
		"/ui/tasks/00000000-0000-0000-0000-000000000000": 400,
		"/ui/tasks/0190d5e0-0000-7000-8000-000000000000": 404,
		"/ui/nothing":         404,
		"/ui/models?x=%00":    400,
		"/ui/pipelines?a=%zz": 400,
	} {
		if p := get(t, c, e.url+path); p.status != want || !strings.Contains(p.body, `id="problem"`) {
			t.Errorf("%s: status %d, want %d with a message\n%s", path, p.status, want, excerpt(p.body))
		}
	}
	// Empty form fields mean "any", and defaults need no saying: the URL
	// is shortened, not refused.
	p := get(t, c, e.url+"/?status=Q&tag=&within_hours=1&limit=50&offset=0")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/?limit=50&status=Q" {
		t.Errorf("empty fields: %d %q", p.status, p.header.Get("Location"))
	}
}

func excerpt(s string) string {
	if i := strings.Index(s, "<main"); i >= 0 {
		s = s[i:]
	}
	if len(s) > 600 {
		s = s[:600]
	}
	return s
}

// TestOwnTasksOnly: users see and cancel their own tasks only, admins
// every task, as in the API.
func TestOwnTasksOnly(t *testing.T) {
	e := newEnv(t, envOptions{backend: "sqlite"})
	id := e.analysis("alice", "a")
	bob, admin, alice := client(t), client(t), client(t)
	signIn(t, e, bob, "bob")
	signIn(t, e, admin, "admin")
	signIn(t, e, alice, "alice")
	if p := get(t, alice, e.url+"/"); !strings.Contains(p.body, id) {
		t.Errorf("alice's list lacks her task")
	}
	if p := get(t, admin, e.url+"/"); !strings.Contains(p.body, id) {
		t.Errorf("the admin's list lacks alice's task")
	}
	home := get(t, bob, e.url+"/")
	if strings.Contains(home.body, id) {
		t.Errorf("bob's list shows alice's task")
	}
	if p := get(t, bob, e.url+"/ui/tasks/"+id); p.status != http.StatusNotFound || !strings.Contains(p.body, "no such task") {
		t.Errorf("bob opens alice's task: %d\n%s", p.status, excerpt(p.body))
	}
	if p := post(t, bob, e.url+"/ui/tasks/"+id+"/cancel", url.Values{"csrf": {csrfOf(t, home)}}); p.status != http.StatusNotFound {
		t.Errorf("bob cancels alice's task: %d", p.status)
	}
	if p := get(t, admin, e.url+"/ui/tasks/"+id); p.status != 200 {
		t.Errorf("the admin opens alice's task: %d", p.status)
	}
}

// TestAnonymous: with anonymous access on, a browser on this machine
// needs no sign-in; without it, it does.
func TestAnonymous(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory", anonymous: true})
	id := e.analysis("", "a")
	p := get(t, client(t), e.url+"/")
	if p.status != 200 || !strings.Contains(p.body, `Acting as <strong id="user">anonymous</strong>`) || !strings.Contains(p.body, id) {
		t.Fatalf("anonymous home: %d\n%s", p.status, excerpt(p.body))
	}
	closed := newEnv(t, envOptions{backend: "memory"})
	if p := get(t, client(t), closed.url+"/"); p.status != http.StatusSeeOther {
		t.Fatalf("home without anonymous access: %d", p.status)
	}
}

// TestStatic: the stylesheet and script are embedded and served, and the
// pages load nothing from elsewhere (the CSP says so too).
func TestStatic(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory", anonymous: true})
	c := client(t)
	for path, ctype := range map[string]string{"/ui/static/app.css": "text/css", "/ui/static/app.js": "text/javascript"} {
		p := get(t, c, e.url+path)
		if p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), ctype) || len(p.body) < 100 {
			t.Errorf("%s: %d %q (%d bytes)", path, p.status, p.header.Get("Content-Type"), len(p.body))
		}
	}
	home := get(t, c, e.url+"/")
	if !strings.Contains(home.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("CSP: %q", home.header.Get("Content-Security-Policy"))
	}
	if regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(home.body) {
		t.Errorf("the page loads something from another site:\n%s", home.body)
	}
	_ = dashboard.CSRFCookie
}

// TestPages: newest first, pages of the chosen size, Newer and Older links
// that keep the filters.
func TestPages(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory"})
	c := client(t)
	signIn(t, e, c, "alice")
	var ids []string
	for range 25 {
		ids = append(ids, e.analysis("alice", "a"))
	}
	rows := regexp.MustCompile(`<tr data-id="([0-9a-f-]{36})"`)
	first := get(t, c, e.url+"/?status=Q")
	got := rows.FindAllStringSubmatch(first.body, -1)
	if len(got) != 20 || got[0][1] != ids[24] || got[19][1] != ids[5] {
		t.Fatalf("first page: %d rows, starting %v", len(got), got[:1])
	}
	if !strings.Contains(first.body, `href="/?offset=20&amp;status=Q" rel="next"`) || strings.Contains(first.body, `rel="prev"`) {
		t.Fatalf("first page's links:\n%s", excerpt(first.body[strings.Index(first.body, `class="pager"`):]))
	}
	second := get(t, c, e.url+"/?offset=20&status=Q")
	got = rows.FindAllStringSubmatch(second.body, -1)
	if len(got) != 5 || got[0][1] != ids[4] || got[4][1] != ids[0] {
		t.Fatalf("second page: %d rows", len(got))
	}
	if !strings.Contains(second.body, `href="/?status=Q" rel="prev"`) || strings.Contains(second.body, `rel="next"`) {
		t.Fatalf("second page's links:\n%s", excerpt(second.body[strings.Index(second.body, `class="pager"`):]))
	}
}

// TestStatusFilterLabels: the tasks page's status filter names each
// unified code as the README does (Q: waiting, for a worker or for
// anything else).
func TestStatusFilterLabels(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory", anonymous: true})
	home := get(t, client(t), e.url+"/")
	for _, tc := range []struct{ code, label string }{
		{"Q", "Waiting"}, {"R", "Running"}, {"D", "Done"}, {"F", "Failed"}, {"C", "Cancelled"},
	} {
		want := `<input type="checkbox" name="status" value="` + tc.code + `"> ` + tc.label + `</label>`
		if !strings.Contains(home.body, want) {
			t.Errorf("code %s: the filter lacks %q", tc.code, want)
		}
	}
}

// TestUnknownParameters: every dashboard route refuses a query parameter
// it does not take with a 400 naming it, and takes those it uses.
func TestUnknownParameters(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory", anonymous: true})
	c := client(t)
	c.Timeout = 10 * time.Second // an event stream that took the parameter would not end
	id := e.analysis("", "a")
	csrf := csrfOf(t, get(t, c, e.url+"/ui/sign-in"))
	for _, tc := range []struct {
		method, path string
		status       int
		want         string
	}{
		// The tasks and pipelines pages and their content refuse an unknown
		// parameter as the API's listings do.
		{"GET", "/?foo=1", 400, "foo: unknown query parameter; allowed: limit, offset, within_hours, task_type, status, tag"},
		{"GET", "/ui/list?foo=1", 400, "foo: unknown query parameter; allowed: limit, offset, within_hours, task_type, status, tag"},
		{"GET", "/ui/pipelines?foo=1", 400, "foo: unknown query parameter; allowed: stage, status"},
		{"GET", "/ui/pipelines/view?foo=1", 400, "foo: unknown query parameter; allowed: stage, status"},
		{"GET", "/ui/models/analysis/view?x=1&window=1h", 400, `unknown parameter &#34;x&#34;; this page takes window`},
		{"GET", "/ui/models/analysis/view?window=1h", 200, "<h1>Model analysis</h1>"},
		{"GET", "/ui/models?x=1", 400, `unknown parameter &#34;x&#34;; this page takes none`},
		{"GET", "/ui/models/analysis?x=1", 400, `unknown parameter &#34;x&#34;; this page takes window`},
		{"GET", "/ui/tasks/" + id + "?foo=1", 400, `unknown parameter &#34;foo&#34;; this page takes done`},
		{"GET", "/ui/tasks/" + id + "?done=cancelled", 200, "The task was cancelled."},
		{"GET", "/ui/tasks/" + id + "/view?foo=1", 400, `unknown parameter &#34;foo&#34;; this page takes none`},
		{"GET", "/ui/tasks/" + id + "/view?done=cancelled", 400, `unknown parameter &#34;done&#34;; this page takes none`},
		{"GET", "/ui/events?foo=1", 400, `unknown parameter &#34;foo&#34;; this page takes none`},
		{"GET", "/ui/pipelines/events?foo=1", 400, `unknown parameter &#34;foo&#34;; this page takes none`},
		{"GET", "/ui/sign-in?foo=1&bar=2", 400, `unknown parameter &#34;bar&#34;, &#34;foo&#34;; this page takes next, ended, signed_out`},
		{"GET", "/ui/sign-in?next=/ui/models&ended=1", 200, `name="next" value="/ui/models"`},
		{"GET", "/ui/static/app.css?v=2", 200, `.diagram`}, // a cache-busting query is ignored, as file servers do
		{"GET", "/?foo=", 400, "foo: unknown query parameter"},
		{"GET", "/ui/list?foo=", 400, "foo: unknown query parameter"},
		{"GET", "/ui/pipelines?foo=", 400, "foo: unknown query parameter"},
		{"GET", "/ui/models?" + strings.Repeat("x", 3) + "=1&a=1&b=1&c=1&d=1&e=1&f=1", 400, `unknown parameter &#34;a&#34;, &#34;b&#34;, &#34;c&#34;, &#34;d&#34;, &#34;e&#34;, and 2 more; this page takes none`},
		{"POST", "/ui/sign-in?next=/", 400, `unknown parameter &#34;next&#34;; this page takes none`},
		{"POST", "/ui/sign-out?x=1", 400, `unknown parameter &#34;x&#34;; this page takes none`},
		{"POST", "/ui/tasks/" + id + "/cancel?x=1", 400, `unknown parameter &#34;x&#34;; this page takes none`},
	} {
		var p page
		if tc.method == "POST" {
			p = post(t, c, e.url+tc.path, url.Values{"csrf": {csrf}})
		} else {
			p = get(t, c, e.url+tc.path)
		}
		if p.status != tc.status || !strings.Contains(p.body, tc.want) {
			t.Errorf("%s %s: %d, want %d with %q\n%s", tc.method, tc.path, p.status, tc.status, tc.want, excerpt(p.body))
		}
	}
	if _, m := e.api("GET", "/tasks/"+id, "", ""); m["status"] != "CREATED" {
		t.Errorf("a refused cancel changed the task: %v", m["status"])
	}
}

var reProblem = regexp.MustCompile(`id="problem">([^<]*)<`)

// TestFragmentErrors: the content the live script fetches fails as the
// full page does, with its status and message, as an HTML alert the script
// puts in place of the content (not a bare status text).
func TestFragmentErrors(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory", anonymous: true})
	c := client(t)
	for _, tc := range []struct {
		fragment, page string
		status         int
	}{
		{"/ui/tasks/nope/view", "/ui/tasks/nope", 400},
		{"/ui/tasks/0190d5e0-0000-7000-8000-000000000000/view", "/ui/tasks/0190d5e0-0000-7000-8000-000000000000", 404},
		{"/ui/models/training/view?window=bad", "/ui/models/training?window=bad", 400},
		{"/ui/models/nope/view", "/ui/models/nope", 404},
		{"/ui/tasks/nope/view?x=%00", "/ui/tasks/nope?x=%00", 400},
	} {
		full := get(t, c, e.url+tc.page)
		m := reProblem.FindStringSubmatch(full.body)
		if full.status != tc.status || m == nil {
			t.Fatalf("%s: %d, want %d with a message\n%s", tc.page, full.status, tc.status, excerpt(full.body))
		}
		f := get(t, c, e.url+tc.fragment)
		switch {
		case f.status != tc.status:
			t.Errorf("%s: %d, want %d", tc.fragment, f.status, tc.status)
		case !strings.HasPrefix(f.header.Get("Content-Type"), "text/html"):
			t.Errorf("%s: Content-Type %q, want HTML", tc.fragment, f.header.Get("Content-Type"))
		case !strings.Contains(f.body, `id="problem"`) || !strings.Contains(f.body, m[1]):
			t.Errorf("%s: %q, want the page's message %q", tc.fragment, f.body, m[1])
		case strings.Contains(f.body, "<html"):
			t.Errorf("%s is a whole page, not the content alone", tc.fragment)
		}
	}
}

// TestWrongMethod: a route asked with a method it does not take answers a
// 405 page with an Allow header; a path no route has is a 404.
func TestWrongMethod(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory", anonymous: true})
	c := client(t)
	id := e.analysis("", "a")
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"POST", "/", 405, "GET, HEAD"},
		{"DELETE", "/ui/static/app.js", 405, "GET, HEAD"},
		{"PUT", "/ui/tasks/" + id, 405, "GET, HEAD"},
		{"GET", "/ui/tasks/" + id + "/cancel", 405, "POST"},
		{"GET", "/ui/sign-out", 405, "POST"},
		{"OPTIONS", "/ui/sign-in", 405, "GET, HEAD, POST"},
		{"DELETE", "/ui/models/analysis", 405, "GET, HEAD"},
		{"POST", "/ui/events", 405, "GET"}, // a stream: no HEAD, which would hold the connection
		{"HEAD", "/ui/events", 405, "GET"},
		{"HEAD", "/ui/pipelines/events", 405, "GET"},
		{"GET", "/ui/nothing", 404, ""},
		{"POST", "/ui/nothing", 404, ""},
	} {
		req, err := http.NewRequest(tc.method, e.url+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := do(t, c, req)
		switch {
		case p.status != tc.status:
			t.Errorf("%s %s: %d, want %d\n%s", tc.method, tc.path, p.status, tc.status, excerpt(p.body))
		case p.header.Get("Allow") != tc.allow:
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, p.header.Get("Allow"), tc.allow)
		case tc.method == "HEAD": // no body
		case !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") || !strings.Contains(p.body, `id="problem"`):
			t.Errorf("%s %s: not an error page: %q\n%s", tc.method, tc.path, p.header.Get("Content-Type"), excerpt(p.body))
		case tc.status == 405 && !strings.Contains(p.body, tc.method+" is not allowed on "+tc.path+"; allowed: "+tc.allow):
			t.Errorf("%s %s: the page does not say what is allowed\n%s", tc.method, tc.path, excerpt(p.body))
		}
	}
}

// TestStaticFiles: the files under /ui/static/ are served; the directory
// is not listed, and a missing file is the dashboard's 404 page.
func TestStaticFiles(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory", anonymous: true})
	c := client(t)
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/ui/static/", 404, `id="problem">no file /ui/static/<`},
		{"/ui/static", 404, `id="problem">no page /ui/static<`},
		{"/ui/static/nope.js", 404, `id="problem">no file /ui/static/nope.js<`},
		{"/ui/static/index.html", 404, `id="problem">no file /ui/static/index.html<`},
		{"/ui/static/app.js/", 404, `id="problem">no file /ui/static/app.js/<`},
		{"/ui/static/app.js", 200, "use strict"},
		{"/ui/static/app.css", 200, "{"},
	} {
		p := get(t, c, e.url+tc.path)
		if p.status != tc.status || !strings.Contains(p.body, tc.want) || strings.Contains(p.body, `href="app.js"`) {
			t.Errorf("%s: %d, want %d with %q\n%s", tc.path, p.status, tc.status, tc.want, excerpt(p.body))
		}
	}
}

// TestOffsetPastEnd: a page past the end of the list (a shared link, an
// Older link after tasks were deleted) says so and links to the first
// page with the same filters, not to more empty pages.
func TestOffsetPastEnd(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory", anonymous: true})
	c := client(t)
	for range 3 {
		e.analysis("", "a")
	}
	const past = `id="empty">No tasks on this page: the list ends before it.`
	for _, tc := range []struct {
		path   string
		status int
		want   []string
		not    []string
	}{
		{"/?offset=3", 200, []string{past, `<a href="/" id="first-page">Go to the first page</a>`}, []string{`rel="prev"`, `rel="next"`, "No tasks match"}},
		{"/?offset=1000&status=Q&limit=50", 200, []string{past, `<a href="/?limit=50&amp;status=Q" id="first-page">`}, []string{`rel="prev"`, `rel="next"`}},
		{"/ui/list?offset=50&task_type=analysis", 200, []string{past, `<a href="/?task_type=analysis" id="first-page">`}, []string{`rel="prev"`, "<html"}},
		{"/?offset=2", 200, []string{`<tr data-id=`, `href="/" rel="prev"`}, []string{past}},
		{"/?status=D", 200, []string{`id="empty">No tasks match these filters.`}, []string{past, "first-page"}},
		{"/?offset=100000000000", 400, []string{"offset: must be"}, nil},
	} {
		p := get(t, c, e.url+tc.path)
		if p.status != tc.status {
			t.Errorf("%s: %d, want %d\n%s", tc.path, p.status, tc.status, excerpt(p.body))
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(p.body, w) {
				t.Errorf("%s lacks %q\n%s", tc.path, w, excerpt(p.body[max(0, strings.Index(p.body, `id="task-list"`)):]))
			}
		}
		for _, w := range tc.not {
			if strings.Contains(p.body, w) {
				t.Errorf("%s has %q", tc.path, w)
			}
		}
	}
}

// TestBearer: a script reads the pages and cancels with the API's
// "Authorization: Bearer <token>" header instead of the cookie, with no
// CSRF token; a refused header is a 401 page (a worker token a 403), not
// a redirect to the sign-in form.
func TestBearer(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory", agentTime: time.Minute})
	worker, _, err := e.store.CreateWorker(context.Background(), "w1", []string{"analysis"})
	if err != nil {
		t.Fatal(err)
	}
	id := e.analysis("alice", "a")
	mine := e.analysis("alice", "b")
	e.process("alice", mine) // a task the transition table lets cancel
	e.waitStatus("alice", mine, "PROCESSING")
	c := client(t)
	for _, tc := range []struct {
		method, path, auth string
		status             int
		want               string
	}{
		{"GET", "/", "Bearer " + e.tokens["alice"], 200, `Acting as <strong id="user">alice</strong> (token of the Authorization header)`},
		{"GET", "/", "bearer  " + e.tokens["alice"] + " ", 200, id},
		{"GET", "/ui/list", "Bearer " + e.tokens["alice"], 200, id},
		{"GET", "/ui/tasks/" + id, "Bearer " + e.tokens["alice"], 200, `id="task-view"`},
		{"GET", "/ui/tasks/" + id + "/view", "Bearer " + e.tokens["alice"], 200, `class="task-head"`},
		{"GET", "/ui/models/analysis", "Bearer " + e.tokens["alice"], 200, "<h1>Model analysis</h1>"},
		{"GET", "/ui/pipelines", "Bearer " + e.tokens["alice"], 200, "<h1>Pipelines</h1>"},
		{"GET", "/ui/tasks/" + id, "Bearer " + e.tokens["bob"], 404, "no such task"},
		{"GET", "/", "Bearer tm_nope_nope", 401, `id="problem">the token is unknown, malformed or revoked<`},
		{"GET", "/", "Bearer", 401, `id="problem">the Authorization header must be &#34;Bearer &lt;token&gt;&#34;<`},
		// Another scheme (a proxy's Basic credentials) is not the page's:
		// without a cookie the page sends the browser to sign in.
		{"GET", "/", "Basic YWxpY2U6eA==", 303, ""},
		{"GET", "/ui/tasks/" + id + "/view", "Bearer tm_nope_nope", 401, `id="problem"><strong>Unauthorized:</strong> the token is unknown`},
		{"GET", "/", "Bearer " + worker, 403, "a worker token may only use the /worker/ routes"},
		{"POST", "/ui/tasks/" + mine + "/cancel", "Bearer " + e.tokens["bob"], 404, "no such task"},
		{"POST", "/ui/tasks/" + mine + "/cancel", "Bearer tm_nope_nope", 401, "the token is unknown"},
		{"POST", "/ui/tasks/" + mine + "/cancel", "Bearer " + e.tokens["alice"], 303, ""},
		{"POST", "/ui/sign-out", "Bearer " + e.tokens["alice"], 403, "the form has expired"},
	} {
		var p page
		if tc.method == "POST" {
			p = post(t, c, e.url+tc.path, url.Values{}, "Authorization", tc.auth)
		} else {
			p = get(t, c, e.url+tc.path, "Authorization", tc.auth)
		}
		if p.status != tc.status || !strings.Contains(p.body, tc.want) {
			t.Errorf("%s %s with %.12q: %d, want %d with %q\n%s", tc.method, tc.path, tc.auth, p.status, tc.status, tc.want, excerpt(p.body))
		}
		if wa := p.header.Get("WWW-Authenticate"); (tc.status == 401) != (wa != "") {
			t.Errorf("%s %s with %.12q: WWW-Authenticate %q", tc.method, tc.path, tc.auth, wa)
		}
	}
	e.waitStatus("alice", mine, "CANCELLED")
	if _, m := e.api("GET", "/tasks/"+id, "alice", ""); m["status"] != "CREATED" {
		t.Errorf("a refused cancel changed a task: %v", m["status"])
	}
}
