package server_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/server"
)

// TestBadInput: every refused request is RFC 9457 problem+json with the
// right status, kind and field, never a 500, and writes nothing.
func TestBadInput(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			id := e.create("alice")
			big := `{"tool_id":"` + strings.Repeat("x", 2<<20) + `"}`
			cases := []struct {
				name, method, path, body string
				status                   int
				kind, field              string
				header                   []string
			}{
				{"bad uuid", "GET", "/tasks/not-a-uuid", "", 400, "validation", "id", nil},
				{"nil uuid", "GET", "/tasks/00000000-0000-0000-0000-000000000000", "", 400, "validation", "id", nil},
				{"unknown task", "GET", "/tasks/123e4567-e89b-12d3-a456-426614174000", "", 404, "not-found", "", nil},
				{"limit 0", "GET", "/tasks?limit=0", "", 400, "validation", "limit", nil},
				{"limit 101", "GET", "/tasks?limit=101", "", 400, "validation", "limit", nil},
				{"limit text", "GET", "/tasks?limit=ten", "", 400, "validation", "limit", nil},
				{"offset -1", "GET", "/tasks?offset=-1", "", 400, "validation", "offset", nil},
				{"within_hours 0", "GET", "/tasks?within_hours=0", "", 400, "validation", "within_hours", nil},
				{"unknown status code", "GET", "/tasks?status=X", "", 400, "validation", "status", nil},
				{"status name instead of code", "GET", "/tasks?status=RUNNING", "", 400, "validation", "status", nil},
				{"unknown task type", "GET", "/tasks?task_type=render", "", 400, "validation", "task_type", nil},
				{"unknown query parameter", "GET", "/tasks?page=2", "", 400, "validation", "page", nil},
				{"tag twice", "GET", "/tasks?tag=a&tag=b", "", 400, "validation", "tag", nil},
				{"unknown JSON field", "POST", "/tasks", `{"tool_id":"t","agents":["a"],"priority":1}`, 400, "validation", "priority", nil},
				{"a member with an empty name", "POST", "/tasks", `{"tool_id":"t","agents":["a"],"":1}`, 400, "validation", "body", nil},
				{"owner is not a client field", "POST", "/tasks", `{"tool_id":"t","agents":["a"],"user_id":"bob"}`, 400, "validation", "user_id", nil},
				{"missing required field", "POST", "/tasks", `{"tool_id":"t"}`, 400, "validation", "agents", nil},
				{"empty agents", "POST", "/tasks", `{"tool_id":"t","agents":[]}`, 400, "validation", "agents", nil},
				{"wrong type", "POST", "/tasks", `{"tool_id":7,"agents":["a"]}`, 400, "validation", "tool_id", nil},
				{"not an object", "POST", "/tasks", `["a"]`, 400, "validation", "body", nil},
				{"trailing data", "POST", "/tasks", `{"tool_id":"t","agents":["a"]} {}`, 400, "validation", "body", nil},
				{"duplicate key", "POST", "/tasks", `{"tool_id":"t","tool_id":"u","agents":["a"]}`, 400, "validation", "tool_id", nil},
				{"unknown task_type", "POST", "/tasks", `{"task_type":"render"}`, 400, "validation", "task_type", nil},
				{"task_type not creatable", "POST", "/tasks", `{"task_type":"pipeline_run"}`, 400, "validation", "task_type", nil},
				{"oversized body", "POST", "/tasks", big, 413, "too-large", "", nil},
				{"illegal transition", "POST", "/tasks/" + id + "/cancel", "", 409, "transition", "", nil},
				{"process before upload-urls", "POST", "/tasks/" + id + "/process", "", 409, "transition", "", nil},
				{"downloads before the end", "GET", "/tasks/" + id + "/downloads", "", 409, "not-finished", "", nil},
				{"cancel takes no body", "POST", "/tasks/" + id + "/cancel", `{"reason":"x"}`, 400, "validation", "reason", nil},
				{"upload-urls without primary", "POST", "/tasks/" + id + "/upload-urls", `{"files":{}}`, 400, "validation", "files.primary", nil},
				{"upload-urls a file twice", "POST", "/tasks/" + id + "/upload-urls", `{"files":{"primary":{"filename":"a.csv","content_type":"text/csv"},"primary":{}}}`, 400, "validation", "files.primary", nil},
				{"upload-urls files not an object", "POST", "/tasks/" + id + "/upload-urls", `{"files":[]}`, 400, "validation", "files", nil},
				{"upload-urls unknown file", "POST", "/tasks/" + id + "/upload-urls", `{"files":{"primary":{"filename":"a.csv","content_type":"text/csv"},"extra":{}}}`, 400, "validation", "files.extra", nil},
				{"upload-urls bad filename", "POST", "/tasks/" + id + "/upload-urls", `{"files":{"primary":{"filename":"../a.csv","content_type":"text/csv"}}}`, 400, "validation", "files.primary.filename", nil},
				{"upload-urls bad content type", "POST", "/tasks/" + id + "/upload-urls", `{"files":{"primary":{"filename":"a.csv","content_type":"csv"}}}`, 400, "validation", "files.primary.content_type", nil},
				{"upload-urls too large", "POST", "/tasks/" + id + "/upload-urls", `{"files":{"primary":{"filename":"a.csv","content_type":"text/csv","size":999999999999}}}`, 400, "validation", "files.primary.size", nil},
				{"upload-urls flag not a bool", "POST", "/tasks/" + id + "/upload-urls", `{"files":{"primary":{"filename":"a.csv","content_type":"text/csv"}},"has_parameters":"yes"}`, 400, "validation", "has_parameters", nil},
				{"upload-urls unknown field", "POST", "/tasks/" + id + "/upload-urls", `{"files":{"primary":{"filename":"a.csv","content_type":"text/csv"}},"has_baseline":true}`, 400, "validation", "has_baseline", nil},
				{"method not allowed", "DELETE", "/tasks/" + id, "", 405, "method", "", nil},
				{"compressed body", "POST", "/tasks", "\x1f\x8b\x08\x00", 415, "unsupported", "", []string{"Content-Encoding", "gzip"}},
				{"unknown parameter of a task", "GET", "/tasks/" + id + "?foo=1", "", 400, "validation", "foo", nil},
				{"unknown parameter of its history", "GET", "/tasks/" + id + "/history?foo=1", "", 400, "validation", "foo", nil},
				{"unknown parameter of its downloads", "GET", "/tasks/" + id + "/downloads?foo=1", "", 400, "validation", "foo", nil},
				{"unknown parameter of its events", "GET", "/tasks/" + id + "/events?foo=1", "", 400, "validation", "foo", nil},
				{"unknown parameter of its cancel", "POST", "/tasks/" + id + "/cancel?foo=1", "", 400, "validation", "foo", nil},
				{"unknown route", "GET", "/nope", "", 404, "not-found", "", nil},
				{"empty segment", "GET", "//tasks", "", 404, "not-found", "", nil},
				{"dot-dot segment", "GET", "/tasks/../healthz", "", 404, "not-found", "", nil},
				{"dot segment", "GET", "/./tasks", "", 404, "not-found", "", nil},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := e.do(c.method, c.path, "alice", c.body, c.header...)
					if r.status != c.status {
						t.Fatalf("status %d, want %d: %s", r.status, c.status, truncate(r.body))
					}
					if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
						t.Fatalf("Content-Type %q", ct)
					}
					p := r.json(t)
					if p["type"] != server.ProblemTypeBase+c.kind || p["status"] != float64(c.status) || p["title"] == "" || p["detail"] == "" {
						t.Errorf("problem %v", p)
					}
					if d, _ := p["detail"].(string); c.name == "nil uuid" && !strings.Contains(d, "the nil UUID (all zeros) is never one") {
						t.Errorf("nil uuid: detail %q", d)
					}
					if c.field != "" {
						errs, _ := p["errors"].([]any)
						var fields []string
						for _, fe := range errs {
							fields = append(fields, fe.(map[string]any)["field"].(string))
						}
						if !slices.Contains(fields, c.field) {
							t.Errorf("errors name %v, want %q: %v", fields, c.field, p)
						}
					}
					if c.status == 405 && r.header.Get("Allow") == "" {
						t.Error("405 without Allow")
					}
				})
			}
			// A path with a .. segment is named whole, not cut inside a UUID.
			path := "/blobs/users/ana/tasks/01a251fa-de73-7f0a-9c2b-3d4e5f607182/inputs/../../x"
			if p := e.do("PUT", path, "alice", "").json(t); p["detail"] != "no route PUT "+path+": a path has no empty, . or .. segment" {
				t.Errorf(".. in a path: %v", p["detail"])
			}
			// The illegal transition lists what a client may do in CREATED:
			// ask for upload URLs (not expire, which only the sweeper fires).
			p := e.do("POST", "/tasks/"+id+"/cancel", "alice", "").json(t)
			if p["current_status"] != "CREATED" || !slices.Equal(toStrings(p["allowed_actions"]), []string{"upload-urls"}) || p["allowed_events"] != nil {
				t.Errorf("409: %v", p)
			}
			// Nothing was written: the task is still version 1.
			if v := e.must(200, "GET", "/tasks/"+id, "alice", "").json(t); v["version"] != 1.0 || v["status"] != "CREATED" {
				t.Errorf("after the refusals: %v", v)
			}
		})
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// TestUploadURLsFileNames: a file upload-urls does not take under files is
// named with the files it takes; parameters.json, asked for with its flag,
// is said to be asked for that way.
func TestUploadURLsFileNames(t *testing.T) {
	e := newEnv(t, "memory", envOptions{})
	id := e.create("alice")
	primary := `"primary":{"filename":"a.csv","content_type":"text/csv"}`
	for _, tc := range []struct{ name, body, want string }{
		{"unknown file", `{"files":{` + primary + `,"extra":{}}}`, "files.extra: unknown file; allowed: primary, baseline"},
		{"parameters under files", `{"files":{` + primary + `,"parameters":{"filename":"parameters.json","content_type":"application/json"}}}`,
			`files.parameters: parameters.json is not described under files; ask for it with "has_parameters": true beside files (files allowed: primary, baseline)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := checkProblem(t, e.do("POST", "/tasks/"+id+"/upload-urls", "alice", tc.body), 400, "validation", "")
			if p["detail"] != tc.want {
				t.Errorf("detail\n got %q\nwant %q", p["detail"], tc.want)
			}
		})
	}
	e.must(200, "POST", "/tasks/"+id+"/upload-urls", "alice", `{"files":{`+primary+`},"has_parameters":true}`)
}

// TestCORS: an allowed origin gets its preflight answered and the headers
// on the real request; another origin gets none.
func TestCORS(t *testing.T) {
	e := newEnv(t, "memory", envOptions{cors: []string{"https://app.example"}})
	pre := e.must(http.StatusNoContent, "OPTIONS", "/tasks", "", "", "Origin", "https://app.example", "Access-Control-Request-Method", "POST")
	if pre.header.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight headers %v", pre.header)
	}
	// The browser uploads straight to the signed URL: the blob route too.
	pre = e.must(http.StatusNoContent, "OPTIONS", "/blobs/x", "", "", "Origin", "https://app.example", "Access-Control-Request-Method", "PUT")
	if pre.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("blob preflight headers %v", pre.header)
	}
	got := e.must(200, "GET", "/tasks", "alice", "", "Origin", "https://app.example")
	if got.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("GET headers %v", got.header)
	}
	other := e.must(200, "GET", "/tasks", "alice", "", "Origin", "https://evil.example")
	if other.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin got CORS headers")
	}
}

// TestCORSPreflightRefused: a preflight from an origin --cors-origin does
// not allow is a 403 problem that says so, naming the origin asked for and
// not the ones allowed, on every route (not the 405 of a route that takes
// no OPTIONS); a server with no --cors-origin says it allows none.
func TestCORSPreflightRefused(t *testing.T) {
	allowing := newEnv(t, "memory", envOptions{cors: []string{"https://app.example"}})
	none := newEnv(t, "memory", envOptions{})
	for _, tc := range []struct {
		name   string
		e      *env
		path   string
		method string
		want   string
	}{
		{"another origin", allowing, "/tasks", "POST",
			"a web page of origin https://evil.example may not call this server: it is not an origin --cors-origin allows"},
		{"another origin, a route with an id", allowing, "/tasks/0190d5e0-0000-7000-8000-000000000000/cancel", "POST",
			"a web page of origin https://evil.example may not call this server: it is not an origin --cors-origin allows"},
		{"another origin, a signed URL", allowing, "/blobs/x", "PUT",
			"a web page of origin https://evil.example may not call this server: it is not an origin --cors-origin allows"},
		{"no --cors-origin", none, "/tasks", "POST",
			"a web page of origin https://evil.example may not call this server: no --cors-origin allows an origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.e.do("OPTIONS", tc.path, "", "", "Origin", "https://evil.example", "Access-Control-Request-Method", tc.method)
			p := checkProblem(t, r, http.StatusForbidden, "forbidden", "")
			if p["detail"] != tc.want {
				t.Errorf("detail\n got %q\nwant %q", p["detail"], tc.want)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "" || strings.Contains(string(r.body), "app.example") {
				t.Errorf("a refused preflight: headers %v, body %s", r.header, r.body)
			}
		})
	}
	// OPTIONS that is no preflight (no Origin) is still the route's 405.
	checkProblem(t, allowing.do("OPTIONS", "/tasks", "", ""), http.StatusMethodNotAllowed, "method", "")
}

// TestTaskDurationBuckets: the bounds of taskmodel_task_duration_seconds
// are labelled as written in decimal, 0.1 s to 17714.7 s by factors of 3
// (docs/observability.md), and no histogram of /metrics has a bound
// written with float noise ("0.30000000000000004").
func TestTaskDurationBuckets(t *testing.T) {
	// rescue: the server's background work, which observes the tasks
	// this process finishes, runs.
	e := newEnv(t, "memory", envOptions{rescue: time.Hour})
	w := e.workerToken("gpu-box", "training")
	le := regexp.MustCompile(`taskmodel_task_duration_seconds_bucket\{status="DONE",task_type="training",le="([^"]+)"\}`)
	var m string
	// The background work subscribes to the changes as it starts: finish
	// tasks until one is observed.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		e.createOf("training", "")
		for _, c := range e.claim(w, `{}`) {
			e.must(200, "POST", "/worker/tasks/"+c.ID+"/complete", w, leaseBody(c.Lease, ""))
		}
		if m = string(e.must(200, "GET", "/metrics", "", "").body); le.MatchString(m) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/metrics never showed a finished task's duration")
		}
	}
	var got []string
	for _, x := range le.FindAllStringSubmatch(m, -1) {
		got = append(got, x[1])
	}
	want := []string{"0.1", "0.3", "0.9", "2.7", "8.1", "24.3", "72.9", "218.7", "656.1", "1968.3", "5904.9", "17714.7", "+Inf"}
	if !slices.Equal(got, want) {
		t.Errorf("buckets %v\nwant %v", got, want)
	}
	for _, x := range regexp.MustCompile(`le="([^"]+)"`).FindAllStringSubmatch(m, -1) {
		if regexp.MustCompile(`[0-9]{10}`).MatchString(x[1]) {
			t.Errorf("a bucket labelled le=%q", x[1])
		}
	}
}

// TestHealthAndMetrics: health, readiness and the Prometheus metrics.
func TestHealthAndMetrics(t *testing.T) {
	for _, b := range sqlBackends {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			e.must(200, "GET", "/healthz", "", "")
			e.must(200, "GET", "/readyz", "", "")
			doc := e.must(200, "GET", "/openapi.json", "", "").json(t)
			if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1") || doc["paths"].(map[string]any)["/tasks/{id}/upload-urls"] == nil {
				t.Errorf("/openapi.json: openapi %v, paths %v", doc["openapi"], len(doc["paths"].(map[string]any)))
			}
			e.create("alice")
			e.do("GET", "/tasks/not-a-uuid", "alice", "")
			m := string(e.must(200, "GET", "/metrics", "", "").body)
			for _, want := range []string{
				`taskmodel_tasks{status="CREATED",task_type="analysis"} 1`,
				`taskmodel_http_requests_total{code="201",method="POST",route="/tasks"} 1`,
				`taskmodel_http_requests_total{code="400",method="GET",route="/tasks/{id}"} 1`,
				`taskmodel_http_request_duration_seconds_bucket`,
			} {
				if !strings.Contains(m, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			// With Run, the transitions this process makes are counted.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = e.srv.Run(ctx) }()
			want := `taskmodel_transitions_total{event="request_upload_urls",task_type="analysis",to="UPLOADING"} 1`
			for deadline := time.Now().Add(10 * time.Second); ; {
				id := e.create("alice")
				e.uploadURLs("alice", id)
				if strings.Contains(string(e.must(200, "GET", "/metrics", "", "").body), `taskmodel_transitions_total{event="request_upload_urls"`) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/metrics never showed %s", want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestPathIDForms: a task's (and a pipeline run's) id in a path is a UUID in
// its canonical form, 36 characters with four hyphens; hex digits may be
// upper case. The braced, urn:uuid: and undashed forms uuid.Parse also
// reads are a 400 naming id, so that a task has one URL.
func TestPathIDForms(t *testing.T) {
	e := newEnv(t, "memory", envOptions{pipelines: true})
	e.must(200, "POST", "/pipelines/stages", "alice", registerBody)
	id := e.createOf("training", "")
	run := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Build"}`).json(t)["id"].(string)
	w := e.workerToken("gpu-box", "training")
	forms := []struct {
		name string
		form func(string) string
		ok   bool
	}{
		{"canonical", func(s string) string { return s }, true},
		{"upper case", strings.ToUpper, true},
		{"braces", func(s string) string { return "{" + s + "}" }, false},
		{"urn", func(s string) string { return "urn:uuid:" + s }, false},
		{"without hyphens", func(s string) string { return strings.ReplaceAll(s, "-", "") }, false},
	}
	routes := []struct {
		name, method, user, path, body string
		id                             string
		status                         int // of an accepted id
	}{
		{"GET /tasks/{id}", "GET", "alice", "/tasks/%s", "", id, 200},
		{"GET /tasks/{id}/history", "GET", "alice", "/tasks/%s/history", "", id, 200},
		{"POST /worker/tasks/{id}/heartbeat", "POST", w, "/worker/tasks/%s/heartbeat", `{"lease":"nope"}`, id, 400},
		{"GET /pipelines/runs/{id}", "GET", "alice", "/pipelines/runs/%s", "", run, 200},
	}
	for _, rt := range routes {
		for _, f := range forms {
			t.Run(rt.name+"/"+f.name, func(t *testing.T) {
				r := e.do(rt.method, fmt.Sprintf(rt.path, f.form(rt.id)), rt.user, rt.body)
				if !f.ok {
					p := checkProblem(t, r, 400, "validation", "id")
					if d, _ := p["detail"].(string); !strings.Contains(d, "a UUID such as 123e4567-e89b-12d3-a456-426614174000") {
						t.Errorf("detail %q", d)
					}
					return
				}
				if r.status != rt.status || strings.Contains(string(r.body), `"field":"id"`) {
					t.Fatalf("status %d, want %d: %s", r.status, rt.status, truncate(r.body))
				}
			})
		}
	}
}

// TestAllowListsHead: a route's 405 lists in Allow every method it
// answers, HEAD with GET (which answers it), and HEAD is answered there.
func TestAllowListsHead(t *testing.T) {
	e := newEnv(t, "memory", envOptions{})
	id := e.create("alice")
	cases := []struct {
		path, allow string
	}{
		{"/tasks", "GET, HEAD, POST"},
		{"/tasks/" + id, "GET, HEAD"},
		{"/tasks/" + id + "/history", "GET, HEAD"},
		{"/tasks/" + id + "/cancel", "POST"},
		{"/healthz", "GET, HEAD"},
		{"/metrics", "GET, HEAD"},
		{"/openapi.json", "GET, HEAD"},
		{"/worker/claim", "POST"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := e.do("DELETE", c.path, "alice", "")
			checkProblem(t, r, 405, "method", "")
			if got := r.header.Get("Allow"); got != c.allow {
				t.Errorf("Allow %q, want %q", got, c.allow)
			}
			if strings.Contains(c.allow, "HEAD") {
				if h := e.do("HEAD", c.path, "alice", ""); h.status != 200 {
					t.Errorf("HEAD: %d", h.status)
				}
			}
		})
	}
}
