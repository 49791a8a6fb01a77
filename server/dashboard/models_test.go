package dashboard_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
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
	e := newEnv(t, envOptions{backend: "sqlite", agentTime: time.Minute})
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
		`<tr data-event="cancel">`,
		`<ul id="timeouts">`, "15m0s",
		`Counts of your tasks`,
		`<section aria-labelledby="h-queue" id="queue">`,
		`<a href="/ui/models">Models</a>`,
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
	if p := get(t, alice, e.url+"/ui/models/analysis?window=x"); p.status != http.StatusBadRequest || !strings.Contains(p.body, `unknown parameter &#34;window&#34;`) {
		t.Errorf("bad query: %d\n%s", p.status, excerpt(p.body))
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
	e := newEnv(t, envOptions{backend: "sqlite", agentTime: time.Minute})
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
	if p.status != 200 || !strings.Contains(p.body, `id="no-counts"`) || count(t, p.body, "CREATED") != "" {
		t.Errorf("memory: %d\n%s", p.status, excerpt(p.body))
	}
}
