package dashboard_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

// pipelineFixture registers three stages and reports runs over the API as
// alice: PREREQ/Fetch completed, STATIC/Build running with two subtasks
// (one half done by items) and sampled resources, STATIC/Index failed,
// DAILY never ran. It returns the running run's id.
func pipelineFixture(t *testing.T, e *env) string {
	t.Helper()
	e.must(200, "POST", "/pipelines/stages", "alice", `{"stages":[{"name":"PREREQ"},{"name":"STATIC","description":"Rebuilt monthly"},{"name":"DAILY"}],
	 "tasks":[{"stage":"PREREQ","name":"Fetch"},{"stage":"STATIC","name":"Build","type":"python"},{"stage":"STATIC","name":"Index"},{"stage":"DAILY","name":"Load <data> & \"more\""}]}`)
	fetch := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"PREREQ","task":"Fetch","message":"fetching"}`)["id"].(string)
	e.must(200, "POST", "/pipelines/runs/"+fetch+"/complete", "alice", `{"message":"fetched 12 files"}`)
	build := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Build","total_subtasks":2,"host":"node-7","pid":4242,"message":"building"}`)["id"].(string)
	e.must(201, "POST", "/pipelines/runs/"+build+"/subtasks/1/start", "alice", `{"name":"Loading data","items_total":40}`)
	e.must(200, "POST", "/pipelines/runs/"+build+"/subtasks/1/update", "alice", `{"items_complete":20,"message":"state 20 of 40"}`)
	e.must(201, "POST", "/pipelines/runs/"+build+"/subtasks/2/start", "alice", `{"name":"Indexing"}`)
	// The run's process sampled twice: memory, then CPU over the interval.
	s := e.tracker.NewSampler(uuid.MustParse(build), 4242, &fakeProbe{})
	for range 2 {
		if _, err := s.Sample(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	index := e.must(201, "POST", "/pipelines/runs", "bob", `{"stage":"STATIC","task":"Index"}`)["id"].(string)
	e.must(200, "POST", "/pipelines/runs/"+index+"/fail", "bob", `{"message":"disk full"}`)
	return build
}

// fakeProbe reports 512 MB and 5 ms more CPU time at each read.
type fakeProbe struct{ cpu float64 }

func (p *fakeProbe) Usage(context.Context, int) (pipeline.Usage, error) {
	p.cpu += 0.005
	return pipeline.Usage{MemoryMB: 512, CPUSeconds: p.cpu}, nil
}

// TestPipelinesPage: the Pipelines page shows stages, tasks, latest runs
// and subtasks with their details, filters by stage and status in the URL,
// refuses bad filters with their message, and its fragment and event
// stream serve the live script; on every backend.
func TestPipelinesPage(t *testing.T) {
	for _, backend := range []string{"memory", "sqlite", "postgres", "mysql"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, envOptions{backend: backend})
			c := client(t)
			if p := get(t, c, e.url+"/ui/pipelines"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/ui/sign-in?next=%2Fui%2Fpipelines") {
				t.Fatalf("signed out: %d %q", p.status, p.header.Get("Location"))
			}
			if p := get(t, c, e.url+"/ui/pipelines/view"); p.status != http.StatusUnauthorized {
				t.Errorf("fragment signed out: %d", p.status)
			}
			signIn(t, e, c, "bob")
			empty := get(t, c, e.url+"/ui/pipelines")
			if empty.status != 200 || !strings.Contains(empty.body, "No pipeline is registered yet") || !strings.Contains(empty.body, `<a href="/ui/pipelines">Pipelines</a>`) {
				t.Fatalf("before registration: %d\n%s", empty.status, empty.body)
			}
			if csp := empty.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("CSP %q", csp)
			}
			// The event stream, open before any pipeline exists: a run
			// started by another process (the tracker on the same
			// database, on SQLite and PostgreSQL) or over the API (memory)
			// is an event.
			events := pipelineEvents(t, c, e.url)
			if backend == "memory" {
				e.must(200, "POST", "/pipelines/stages", "alice", `{"tasks":[{"stage":"LIVE","name":"Probe"}]}`)
				e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"LIVE","task":"Probe"}`)
			} else {
				ctx := context.Background()
				if err := e.tracker.RegisterTask(ctx, pipeline.Task{Stage: "LIVE", Name: "Probe"}); err != nil {
					t.Fatal(err)
				}
				if _, err := e.tracker.Start(ctx, "LIVE", "Probe", pipeline.StartOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case <-events:
			case <-time.After(30 * time.Second):
				t.Fatal("no pipelines event after a run started")
			}
			build := pipelineFixture(t, e)

			all := get(t, c, e.url+"/ui/pipelines")
			if all.status != 200 {
				t.Fatalf("page: %d\n%s", all.status, all.body)
			}
			for _, want := range []string{
				`data-stage="PREREQ"`, `data-stage="STATIC"`, `data-stage="DAILY"`, "Rebuilt monthly",
				`data-task="Fetch" data-status="COMPLETED"`, `data-task="Build" data-status="RUNNING"`, `data-task="Index" data-status="FAILED"`,
				`data-task="Load &lt;data&gt; &amp; &#34;more&#34;" data-status="NOT_STARTED"`, "Never ran.",
				`data-run="` + build + `"`, "node-7", "<dd class=\"num\">4242</dd>", "<dd>alice</dd>", "512 MB",
				"20 of 40 items", "25%", "(from its subtasks)", "subtask 2 of 2", "ETA in ", "(95%: ",
				`data-subtask="1" data-status="RUNNING"`, "Loading data", "state 20 of 40", `data-subtask="2" data-status="STARTED"`,
				"building", "disk full", "fetched 12 files", "user:alice", "History (",
				`<progress max="100" value="25"`,
			} {
				if !strings.Contains(all.body, want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			if !regexp.MustCompile(`<dt>CPU</dt><dd class="num">[0-9]+%</dd>`).MatchString(all.body) {
				t.Error("the sampled CPU is not shown")
			}
			// The running task is open, the finished ones closed.
			if !strings.Contains(all.body, `<details data-key="task:STATIC/Build" open>`) || !strings.Contains(all.body, `<details data-key="task:PREREQ/Fetch">`) {
				t.Error("open/closed tasks: the running one should be open, the finished one closed")
			}

			cases := []struct {
				name, query string
				status      int
				has, hasNot []string
			}{
				{"stage", "?stage=STATIC", 200, []string{`data-stage="STATIC"`, `data-task="Build"`, `<option value="STATIC" selected>`}, []string{`data-stage="PREREQ"`, `data-task="Fetch"`, `data-stage="LIVE"`}},
				{"status", "?status=FAILED", 200, []string{`data-task="Index"`, "1 of 2 tasks", `value="FAILED" checked`}, []string{`data-task="Build"`, `data-task="Fetch"`}},
				{"two statuses", "?status=NOT_STARTED&status=COMPLETED", 200, []string{`data-task="Fetch"`, `data-status="NOT_STARTED"`}, []string{`data-task="Index"`}},
				{"stage and status", "?stage=STATIC&status=RUNNING", 200, []string{`data-task="Build"`}, []string{`data-task="Index"`, `data-stage="DAILY"`}},
				{"unknown stage", "?stage=NOPE", 404, []string{`stage &#34;NOPE&#34;: not found; registered stages: &#34;LIVE&#34;, &#34;PREREQ&#34;, &#34;STATIC&#34;, &#34;DAILY&#34;`}, nil},
				{"unknown status", "?status=DONE", 400, []string{"status: unknown status &#34;DONE&#34;; allowed: NOT_STARTED, STARTED, RUNNING, COMPLETED, FAILED, SKIPPED, CANCELLED"}, nil},
				{"unknown parameter", "?stages=X", 400, []string{"stages: unknown query parameter; allowed: stage, status"}, nil},
			}
			for _, c2 := range cases {
				for _, path := range []string{"/ui/pipelines", "/ui/pipelines/view"} {
					p := get(t, c, e.url+path+c2.query)
					if p.status != c2.status {
						t.Errorf("%s %s: %d, want %d", c2.name, path, p.status, c2.status)
						continue
					}
					for _, h := range c2.has {
						if path == "/ui/pipelines/view" && strings.Contains(h, "<option") || strings.Contains(h, "checked") && path == "/ui/pipelines/view" {
							continue // the filter form is not part of the fragment
						}
						if !strings.Contains(p.body, h) {
							t.Errorf("%s %s lacks %q", c2.name, path, h)
						}
					}
					for _, h := range c2.hasNot {
						if strings.Contains(p.body, h) {
							t.Errorf("%s %s has %q", c2.name, path, h)
						}
					}
					if path == "/ui/pipelines/view" && strings.Contains(p.body, "<html") {
						t.Errorf("%s: the fragment has the layout", c2.name)
					}
				}
			}
			// An empty field of a submitted form: redirect to the short URL.
			if p := get(t, c, e.url+"/ui/pipelines?stage=&status=RUNNING"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/pipelines?status=RUNNING" {
				t.Errorf("empty stage: %d %q", p.status, p.header.Get("Location"))
			}

		})
	}
}

// TestPipelinesPageEscapes: names and messages are text, never markup.
func TestPipelinesPageEscapes(t *testing.T) {
	e := newEnv(t, envOptions{backend: "memory"})
	c := client(t)
	signIn(t, e, c, "alice")
	e.must(200, "POST", "/pipelines/stages", "alice", `{"tasks":[{"stage":"<i>S</i>","name":"<script>alert(1)</script>"}]}`)
	id := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"<i>S</i>","task":"<script>alert(1)</script>","message":"<img src=x onerror=alert(2)>"}`)["id"].(string)
	e.must(201, "POST", fmt.Sprintf("/pipelines/runs/%s/subtasks/1/start", id), "alice", `{"name":"<b>bold</b>"}`)
	p := get(t, c, e.url+"/ui/pipelines")
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>bold", "<i>S"} {
		if strings.Contains(p.body, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	if !strings.Contains(p.body, "&lt;b&gt;bold&lt;/b&gt;") {
		t.Error("the subtask's name is not shown escaped")
	}
}

// pipelineEvents opens the Pipelines page's event stream with c and sends
// on the channel at each "pipelines" event, until the test ends.
func pipelineEvents(t *testing.T, c *http.Client, base string) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/ui/pipelines/events", nil)
	res, err := c.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := make(chan struct{}, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if sc.Text() == "event: pipelines" {
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return out
}
