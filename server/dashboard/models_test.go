package dashboard_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/server"
)

// count reads a status's count off a model page's diagram.
func count(t *testing.T, body, status string) string {
	t.Helper()
	m := regexp.MustCompile(`<g class="node c-[a-z]+" data-status="` + status + `" data-count="([0-9]*)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no node %s in the diagram:\n%s", status, excerpt(body))
	}
	return m[1]
}

// TestModelPage: a model's page draws its lifecycle from the transition
// table with counts of the tasks the user may see (their own; an admin's,
// every task), lists its statuses, events and timeouts, and answers an
// unknown model with a 404 page and an unknown parameter with a 400 page.
func TestModelPage(t *testing.T) {
	for _, backend := range []string{"sqlite", "mysql"} {
		t.Run(backend, func(t *testing.T) { modelPageOn(t, backend) })
	}
}

func modelPageOn(t *testing.T, backend string) {
	e := newEnv(t, envOptions{backend: backend, agentTime: time.Minute})
	e.analysis("alice", "a")
	e.analysis("alice", "a")
	e.analysis("bob", "a")
	alice, bob, admin := client(t), client(t), client(t)
	signIn(t, e, alice, "alice")
	signIn(t, e, bob, "bob")
	signIn(t, e, admin, "admin")

	for user, want := range map[*http.Client]string{alice: "2", bob: "1", admin: "3"} {
		p := get(t, user, e.url+"/ui/models/analysis")
		if p.status != 200 {
			t.Fatalf("model page: %d\n%s", p.status, excerpt(p.body))
		}
		if got := count(t, p.body, "CREATED"); got != want {
			t.Errorf("CREATED count %s, want %s", got, want)
		}
		if got := count(t, p.body, "QUEUED"); got != "0" {
			t.Errorf("QUEUED count %s, want 0", got)
		}
	}
	p := get(t, alice, e.url+"/ui/models/analysis")
	for _, want := range []string{
		`<svg id="diagram"`,
		`data-from="CREATED" data-to="UPLOADING"`, // request_upload_urls
		`data-from="QUEUED" data-to="PROCESSING"`, // the worker's claim
		`<tr data-event="cancel"><td><span class="mono">cancel</span><br><span class="muted small">POST /tasks/{id}/cancel called while processing.`,
		`<ul id="timeouts">`, "15m0s",
		`Counts of your tasks`,
		`<section aria-labelledby="h-queue" id="queue">`,
		`<a href="/ui/models">Models</a>`,
		`<section aria-labelledby="h-review" id="review">`, `<h3>Model <code>analysis</code></h3>`,
		`<figure class="chart" id="throughput">`,
		`<a href="/ui/models/analysis?window=1h">1 hour</a>`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the model page lacks %s", want)

		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP: %q", csp)
	}

	// A model without an owner field: users count nothing, admins all.
	if p := get(t, alice, e.url+"/ui/models/stage"); p.status != 200 || !strings.Contains(p.body, "only admins see them") || count(t, p.body, "UNBOUND") != "0" {
		t.Errorf("stage for alice: %d\n%s", p.status, excerpt(p.body))
	}
	if p := get(t, admin, e.url+"/ui/models/stage"); p.status != 200 || !strings.Contains(p.body, "every user") {
		t.Errorf("stage for the admin: %d", p.status)
	}

	if p := get(t, alice, e.url+"/ui/models/nope"); p.status != http.StatusNotFound || !strings.Contains(p.body, `no model &#34;nope&#34;`) {
		t.Errorf("unknown model: %d\n%s", p.status, excerpt(p.body))
	}
	if p := get(t, alice, e.url+"/ui/models/nope/view"); p.status != http.StatusNotFound {
		t.Errorf("unknown model's fragment: %d", p.status)
	}
	for q, want := range map[string]string{
		"window=x":            `window must be one of 15m, 1h, 24h, 7d, not &#34;x&#34;`,
		"window=1h&window=7d": `window is given more than once`,
		"since=1h":            `unknown parameter &#34;since&#34;; this page takes window`,
	} {
		if p := get(t, alice, e.url+"/ui/models/analysis?"+q); p.status != http.StatusBadRequest || !strings.Contains(p.body, want) {
			t.Errorf("bad query %s: %d\n%s", q, p.status, excerpt(p.body))
		}
	}
	if p := get(t, alice, e.url+"/ui/models?x=1"); p.status != http.StatusBadRequest {
		t.Errorf("bad query on the models page: %d", p.status)
	}
	if p := get(t, client(t), e.url+"/ui/models/analysis"); p.status != http.StatusSeeOther {
		t.Errorf("signed out: %d", p.status)
	}
	if p := get(t, client(t), e.url+"/ui/models/analysis/view"); p.status != http.StatusUnauthorized {
		t.Errorf("fragment signed out: %d", p.status)
	}

	// The fragment is the content alone; the models page lists them all.
	frag := get(t, alice, e.url+"/ui/models/analysis/view")
	if frag.status != 200 || strings.Contains(frag.body, "<html") || count(t, frag.body, "CREATED") != "2" {
		t.Errorf("fragment: %d\n%s", frag.status, excerpt(frag.body))
	}
	idx := get(t, alice, e.url+"/ui/models")
	for _, want := range []string{`<tr data-model="analysis">`, `<a href="/ui/models/stage">`} {
		if idx.status != 200 || !strings.Contains(idx.body, want) {
			t.Errorf("models page lacks %s: %d", want, idx.status)
		}
	}
	// The tasks page links each task type to its model.
	if home := get(t, alice, e.url+"/"); !strings.Contains(home.body, `<a href="/ui/models/analysis" class="type">analysis</a>`) {
		t.Errorf("the tasks page does not link the task type")
	}
}

// TestQueueHealth: a model with a worker section shows its queue's depth,
// its oldest waiting task, and the running tasks with their lease owner and
// last heartbeat — the user's own, an admin every one.
func TestQueueHealth(t *testing.T) {
	for _, backend := range []string{"sqlite", "mysql"} {
		t.Run(backend, func(t *testing.T) { queueHealth(t, backend) })
	}
}

func queueHealth(t *testing.T, backend string) {
	e := newEnv(t, envOptions{backend: backend, agentTime: time.Minute})
	id := e.analysis("alice", "a")
	e.process("alice", id)
	e.waitStatus("alice", id, "PROCESSING")
	alice, bob, admin := client(t), client(t), client(t)
	signIn(t, e, alice, "alice")
	signIn(t, e, bob, "bob")
	signIn(t, e, admin, "admin")
	lease := regexp.MustCompile(`<tr data-id="` + id + `"><td>.*?</td><td class="mono">([^<]+)</td>\s*<td><time datetime="([^"]+)"`)
	for _, c := range []*http.Client{alice, admin} {
		p := get(t, c, e.url+"/ui/models/analysis")
		if count(t, p.body, "PROCESSING") != "1" || !strings.Contains(p.body, `<dd id="queue-running">1</dd>`) || !strings.Contains(p.body, `<dd id="queue-depth">0</dd>`) {
			t.Errorf("queue: %s", excerpt(p.body[strings.Index(p.body, `id="queue"`):]))
		}
		if !strings.Contains(p.body, `its expiry minus the lease of 30s the spec gives`) {
			t.Errorf("the lease table does not say what its last renewal is: %s", p.body[strings.Index(p.body, `id="leases"`):][:400])
		}
		m := lease.FindStringSubmatch(p.body)
		if m == nil || m[1] == "—" {
			t.Fatalf("no lease row for the running task:\n%s", p.body[strings.Index(p.body, `id="queue"`):])
		}
		hb, err := time.Parse(time.RFC3339Nano, m[2])
		if err != nil || time.Since(hb) > time.Minute || time.Since(hb) < -time.Minute {
			t.Errorf("last heartbeat %q: %v", m[2], err)
		}
	}
	if p := get(t, bob, e.url+"/ui/models/analysis"); strings.Contains(p.body, id) || !strings.Contains(p.body, `<dd id="queue-running">0</dd>`) {
		t.Errorf("bob sees alice's running task")
	}
	// A task waiting in the queue: its age shows.
	if p := get(t, alice, e.url+"/ui/models/analysis"); !strings.Contains(p.body, `<dd id="queue-oldest">none waits</dd>`) {
		t.Errorf("oldest waiting, with none: %s", excerpt(p.body[strings.Index(p.body, `id="queue"`):]))
	}
}

// TestModelPageMemory: on the memory backend the page draws the lifecycle
// and says that it has no counts.
func TestModelPageMemory(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory"})
	c := client(t)
	signIn(t, e, c, "alice")
	p := get(t, c, e.url+"/ui/models/analysis")
	if p.status != 200 || !strings.Contains(p.body, `id="no-counts"`) || !strings.Contains(p.body, `id="no-moves"`) || count(t, p.body, "CREATED") != "" || moves(t, p.body, "QUEUED", "PROCESSING") != "" {
		t.Errorf("memory: %d\n%s", p.status, excerpt(p.body))
	}
}

// moves reads the moves of the arrow from → to off a model page's diagram.
func moves(t *testing.T, body, from, to string) string {
	t.Helper()
	m := regexp.MustCompile(`data-from="` + from + `" data-to="` + to + `" data-moves="([0-9]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no arrow %s → %s in the diagram:\n%s", from, to, excerpt(body))
	}
	return m[1]
}

// bars reads the chart's bars: finished and failed per interval.
func bars(body string) [][2]string {
	var out [][2]string
	for _, m := range regexp.MustCompile(`data-finished="([0-9]+)" data-failed="([0-9]+)"`).FindAllStringSubmatch(body, -1) {
		out = append(out, [2]string{m[1], m[2]})
	}
	return out
}

// TestModelMoves: the diagram's arrows count the moves of the window chosen
// in the URL, and the queue's chart the tasks finished and failed per
// interval, from history rows of known times — the user's own tasks, an
// admin's every task.
func TestModelMoves(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, envOptions{backend: backend, agentTime: time.Minute})
			a, b, c := e.analysis("alice", "a"), e.analysis("alice", "a"), e.analysis("bob", "a")
			now := time.Now().UTC()
			seq := 100
			move := func(id, from, event, to string, ago time.Duration) {
				seq++
				e.exec(`INSERT INTO analysis_history (task_id, seq, from_status, to_status, event, at, actor, message) VALUES ($1, $2, $3, $4, $5, $6, '', '')`,
					id, seq, from, to, event, now.Add(-ago))
			}
			move(a, "PROCESSING", "complete", "COMPLETED", 4*time.Minute)
			move(b, "PROCESSING", "fail", "FAILED", 4*time.Minute)
			move(a, "PROCESSING", "complete", "COMPLETED", 31*time.Minute)
			move(c, "PROCESSING", "complete", "COMPLETED", 31*time.Minute)
			move(a, "PROCESSING", "complete", "COMPLETED", 3*time.Hour)
			move(a, "PROCESSING", "complete", "COMPLETED", 50*time.Hour)
			move(a, "PROCESSING", "complete", "COMPLETED", 8*24*time.Hour) // before every window
			alice, bob, admin := client(t), client(t), client(t)
			signIn(t, e, alice, "alice")
			signIn(t, e, bob, "bob")
			signIn(t, e, admin, "admin")
			tests := []struct {
				user      *http.Client
				name      string
				window    string
				completed string
				failed    string
			}{
				{admin, "admin", "15m", "1", "1"},
				{admin, "admin", "1h", "3", "1"},
				{admin, "admin", "", "4", "1"}, // 24 hours
				{admin, "admin", "7d", "5", "1"},
				{alice, "alice", "15m", "1", "1"},
				{alice, "alice", "1h", "2", "1"},
				{alice, "alice", "7d", "4", "1"},
				{bob, "bob", "15m", "0", "0"},
				{bob, "bob", "7d", "1", "0"},
			}
			for _, tt := range tests {
				u := e.url + "/ui/models/analysis"
				if tt.window != "" {
					u += "?window=" + tt.window
				}
				p := get(t, tt.user, u)
				if p.status != 200 {
					t.Fatalf("%s %s: %d\n%s", tt.name, tt.window, p.status, excerpt(p.body))
				}
				if got := moves(t, p.body, "PROCESSING", "COMPLETED"); got != tt.completed {
					t.Errorf("%s, window %q: PROCESSING → COMPLETED carried %s, want %s", tt.name, tt.window, got, tt.completed)
				}
				if got := moves(t, p.body, "PROCESSING", "FAILED"); got != tt.failed {
					t.Errorf("%s, window %q: PROCESSING → FAILED carried %s, want %s", tt.name, tt.window, got, tt.failed)
				}
			}
			// The last hour in 24 intervals of 2.5 minutes: 4 minutes ago is
			// the 23rd, 31 minutes ago the 12th.
			for _, c := range []struct {
				user       *http.Client
				name       string
				at11, at22 [2]string
				finished   string
			}{
				{admin, "admin", [2]string{"2", "0"}, [2]string{"2", "1"}, "4"},
				{alice, "alice", [2]string{"1", "0"}, [2]string{"2", "1"}, "3"},
				{bob, "bob", [2]string{"1", "0"}, [2]string{"0", "0"}, "1"},
			} {
				p := get(t, c.user, e.url+"/ui/models/analysis?window=1h")
				got := bars(p.body)
				if len(got) != 24 {
					t.Fatalf("%s: %d bars, want 24", c.name, len(got))
				}
				if got[11] != c.at11 || got[22] != c.at22 {
					t.Errorf("%s: bars 11 and 22 are %v and %v, want %v and %v (all: %v)", c.name, got[11], got[22], c.at11, c.at22, got)
				}
				if !strings.Contains(p.body, `<strong id="finished">`+c.finished+`</strong>`) {
					t.Errorf("%s: the chart's caption does not say %s finished", c.name, c.finished)
				}
			}
			// Fragments keep the window.
			if frag := get(t, admin, e.url+"/ui/models/analysis/view?window=15m"); frag.status != 200 || moves(t, frag.body, "PROCESSING", "COMPLETED") != "1" {
				t.Errorf("fragment of 15m: %d", frag.status)
			}
		})
	}
}

// TestModelMovesLimited: a window with more moves than the page reads says
// so, counts those since the oldest move it read, and leaves the intervals
// before it uncounted.
func TestModelMovesLimited(t *testing.T) {
	e := newEnv(t, envOptions{backend: "sqlite", agentTime: time.Minute})
	id := e.analysis("alice", "a")
	now := time.Now().UTC()
	// server.MovesLimit + 50 moves, one every 5 seconds back from now:
	// about 7 hours.
	e.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < `+strconv.Itoa(server.MovesLimit+50)+`)
		INSERT INTO analysis_history (task_id, seq, from_status, to_status, event, at)
		SELECT $1, 1000 + i, 'PROCESSING', 'COMPLETED', 'complete', strftime('%Y-%m-%d %H:%M:%f+00:00', $2, '-' || (i * 5) || ' seconds') FROM n`,
		id, now.Format("2006-01-02 15:04:05"))
	admin := client(t)
	signIn(t, e, admin, "admin")
	p := get(t, admin, e.url+"/ui/models/analysis?window=24h")
	if !strings.Contains(p.body, `id="moves-limited"`) {
		t.Errorf("the page does not say that it counted part of the window:\n%s", excerpt(p.body))
	}
	n, _ := strconv.Atoi(moves(t, p.body, "PROCESSING", "COMPLETED"))
	if n < server.MovesLimit-10 || n > server.MovesLimit+1 {
		t.Errorf("PROCESSING → COMPLETED carried %d, want the newest moves up to %d", n, server.MovesLimit+1)
	}
	// The moves read span about 7 of the window's 24 one-hour intervals.
	if u := strings.Count(p.body, `class="bar uncounted"`); u < 15 || u > 18 {
		t.Errorf("%d intervals uncounted, want the 16 or so before the oldest move read", u)
	}
	if strings.Count(p.body, `class="bar partial"`) != 1 {
		t.Errorf("no interval counted in part")
	}
	// The last hour holds fewer: all of them counted, those at or after
	// the window's start as the page gives it.
	p = get(t, admin, e.url+"/ui/models/analysis?window=1h")
	m := regexp.MustCompile(`id="moves">In the last 1 hour \(since <time datetime="([^"]+)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no window start on the page:\n%s", excerpt(p.body))
	}
	from, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatal(err)
	}
	base, _ := time.Parse("2006-01-02 15:04:05", now.Format("2006-01-02 15:04:05"))
	want := 0
	for i := 1; i <= server.MovesLimit+50; i++ {
		if !base.Add(-time.Duration(i) * 5 * time.Second).Before(from) {
			want++
		}
	}
	if got := moves(t, p.body, "PROCESSING", "COMPLETED"); strings.Contains(p.body, `id="moves-limited"`) || got != strconv.Itoa(want) {
		t.Errorf("last hour: %s moves, want %d; limited %v", got, want, strings.Contains(p.body, `id="moves-limited"`))
	}
}
