package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/server"
)

// readEvents reads a task's event stream to its end and returns the task of
// every event, in order.
func (e *env) readEvents(user, id string) []map[string]any {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/tasks/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		e.t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var out []map[string]any
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var m map[string]any
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				e.t.Fatalf("event data: %v: %s", err, data)
			}
			out = append(out, m)
		}
	}
	if err := sc.Err(); err != nil {
		e.t.Fatalf("events: %v", err)
	}
	return out
}

// TestUploadFrontendFlow runs the upload → process lifecycle's "Complete Upload Flow (Frontend)"
// over HTTP: create, upload URLs, PUT the files, process, follow the task
// by SSE and by polling to COMPLETED, and download the output.
func TestUploadFrontendFlow(t *testing.T) {
	for _, b := range append(backendNames, "sqlite+s3") {
		t.Run(b, func(t *testing.T) {
			name, s3 := strings.CutSuffix(b, "+s3")
			e := newEnv(t, name, envOptions{workers: true, agentTime: 30 * time.Millisecond, s3: s3})
			// 1. Create task: 201, task_id, CREATED.
			r := e.must(201, "POST", "/tasks", "alice", `{"tool_id":"profile-my-data","agents":["unified-profiler","score-risk"]}`)
			task := r.json(t)
			id := task["task_id"].(string)
			if task["status"] != "CREATED" || task["progress"] != 0.0 || task["user_id"] != "alice" || task["task_type"] != "analysis" {
				t.Fatalf("created: %s", r.body)
			}
			if loc := r.header.Get("Location"); loc != "/tasks/"+id {
				t.Errorf("Location %q", loc)
			}
			// 2. Upload URLs: primary and parameters; status UPLOADING.
			ur := e.must(200, "POST", "/tasks/"+id+"/upload-urls", "alice", `{"files":{"primary":{"filename":"data.csv","content_type":"text/csv"}},"has_parameters":true}`).json(t)
			if ur["status"] != "UPLOADING" || ur["task_id"] != id {
				t.Fatalf("upload-urls: %v", ur)
			}
			uploads := ur["uploads"].(map[string]any)
			if len(uploads) != 2 || uploads["primary"] == nil || uploads["parameters"] == nil {
				t.Fatalf("uploads: %v", uploads)
			}
			// 3–4. Upload the file and the parameters to the signed URLs.
			e.put(uploads["primary"].(map[string]any), "text/csv", "a,b\n1,2\n3,4\n")
			e.put(uploads["parameters"].(map[string]any), "application/json", `{"threshold":0.5}`)
			// 5. Trigger processing: QUEUED (progress 15).
			p := e.must(200, "POST", "/tasks/"+id+"/process", "alice", "").json(t)
			if p["status"] != "QUEUED" && p["status"] != "PROCESSING" {
				t.Fatalf("process: %v", p)
			}
			// 6. Follow it: SSE to the end, then a poll.
			events := e.readEvents("alice", id)
			var statuses []string
			var progress []float64
			for _, ev := range events {
				if s := ev["status"].(string); len(statuses) == 0 || statuses[len(statuses)-1] != s {
					statuses = append(statuses, s)
				}
				progress = append(progress, ev["progress"].(float64))
			}
			if last := statuses[len(statuses)-1]; last != "COMPLETED" {
				t.Fatalf("stream ended at %s: %v", last, statuses)
			}
			for i := 1; i < len(progress); i++ {
				if progress[i] < progress[i-1] {
					t.Errorf("progress went back: %v", progress)
				}
			}
			final := e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)
			if final["status"] != "COMPLETED" || final["progress"] != 100.0 || final["completed_at"] == nil {
				t.Fatalf("final: %v", final)
			}
			if d := final["progress_detail"].(map[string]any); d["agents_completed"] != 2.0 || d["agents_total"] != 2.0 {
				t.Errorf("progress_detail %v", d)
			}
			// 7. Downloads: report.json, whose profile saw the 3 lines.
			dl := e.must(200, "GET", "/tasks/"+id+"/downloads", "alice", "").json(t)
			list := dl["downloads"].([]any)
			if len(list) != 1 {
				t.Fatalf("downloads: %v", dl)
			}
			d := list[0].(map[string]any)
			if d["name"] != "report.json" || d["method"] != "GET" {
				t.Fatalf("download: %v", d)
			}
			rep := e.must(200, "GET", d["url"].(string), "", "").json(t)
			inputs := rep["inputs"].([]any)
			if len(inputs) != 2 || inputs[0].(map[string]any)["lines"] != 3.0 {
				t.Errorf("report inputs: %v", inputs)
			}
			// The history is every move the spec allows, in order.
			var h []map[string]any
			if err := json.Unmarshal(e.must(200, "GET", "/tasks/"+id+"/history", "alice", "").body, &h); err != nil {
				t.Fatal(err)
			}
			var moves []string
			for _, row := range h {
				moves = append(moves, fmt.Sprint(row["to_status"]))
			}
			if got := strings.Join(moves, " "); got != "CREATED UPLOADING QUEUED PROCESSING COMPLETED" {
				t.Errorf("history %s", got)
			}
		})
	}
}

// TestUploadFailedAndRetry: /process before the upload → UPLOAD_FAILED with
// the documented message; new URLs → UPLOADING with the message cleared; upload
// and process → QUEUED.
func TestUploadFailedAndRetry(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			id := e.create("alice")
			e.uploadURLs("alice", id)
			failed := e.must(200, "POST", "/tasks/"+id+"/process", "alice", "").json(t)
			if failed["status"] != "UPLOAD_FAILED" || !strings.HasPrefix(fmt.Sprint(failed["error_message"]), "Required files not found in storage") {
				t.Fatalf("process without files: %v", failed)
			}
			uploads := e.uploadURLs("alice", id)
			again := e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)
			if again["status"] != "UPLOADING" || again["error_message"] != nil {
				t.Fatalf("retry: %v", again)
			}
			e.put(uploads["primary"].(map[string]any), "text/csv", "x\n")
			if q := e.must(200, "POST", "/tasks/"+id+"/process", "alice", "").json(t); q["status"] != "QUEUED" || q["progress"] != 15.0 {
				t.Fatalf("process: %v", q)
			}
		})
	}
}

// TestProcessComparesMediaTypes: a file that allows only text/csv may be
// asked for as "text/csv; charset=utf-8" or "Text/CSV" (upload-urls
// compares media types); its upload URL is signed for that Content-Type,
// and process, which compares media types too, verifies the task. A file
// of another type stored under the task is still refused and deleted.
func TestProcessComparesMediaTypes(t *testing.T) {
	up := *analysis.API.Uploads
	up.Files = slices.Clone(up.Files)
	if up.Files[0].Name != "primary" {
		t.Fatalf("analysis's first file is %s, not primary", up.Files[0].Name)
	}
	up.Files[0].ContentTypes = []string{"text/csv"}
	for _, b := range append(backendNames, "sqlite+s3") {
		t.Run(b, func(t *testing.T) {
			name, s3 := strings.CutSuffix(b, "+s3")
			e := newEnv(t, name, envOptions{uploads: &up, s3: s3})
			for _, ct := range []string{"text/csv; charset=utf-8", "Text/CSV"} {
				id := e.create("alice")
				ur := e.must(200, "POST", "/tasks/"+id+"/upload-urls", "alice", `{"files":{"primary":{"filename":"data.csv","content_type":"`+ct+`"}}}`).json(t)
				primary := ur["uploads"].(map[string]any)["primary"].(map[string]any)
				if h := primary["headers"].(map[string]any); h["Content-Type"] != ct {
					t.Fatalf("upload URL for %q signed with headers %v", ct, h)
				}
				e.putSigned(primary, "a,b\n1,2\n")
				if v := e.must(200, "POST", "/tasks/"+id+"/process", "alice", "").json(t); v["status"] != "QUEUED" {
					t.Fatalf("process of a file uploaded as %q: %v", ct, v)
				}
			}
			// Another type, stored by other means than its upload URL.
			id := e.create("alice")
			e.uploadURLs("alice", id)
			key := server.InputKey("alice", uuid.MustParse(id), "primary")
			if _, err := e.blobs.Put(context.Background(), key, strings.NewReader("a,b\n"), blob.PutOptions{ContentType: "text/plain; charset=utf-8", MaxSize: 100}); err != nil {
				t.Fatal(err)
			}
			v := e.must(200, "POST", "/tasks/"+id+"/process", "alice", "").json(t)
			if v["status"] != "UPLOAD_FAILED" || !strings.Contains(fmt.Sprint(v["error_message"]), "primary must be text/csv") {
				t.Fatalf("process of a text/plain file: %v", v)
			}
			if ok, err := blob.Exists(context.Background(), e.blobs, key); ok || err != nil {
				t.Errorf("the refused file: exists %v, %v; want it deleted", ok, err)
			}
		})
	}
}

// TestCancelWhileProcessing cancels a running task over HTTP: the handler
// stops and the task is CANCELLED; a second cancel is a 409.
func TestCancelWhileProcessing(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{workers: true, agentTime: time.Hour})
			id := e.create("alice")
			e.put(e.uploadURLs("alice", id)["primary"].(map[string]any), "text/csv", "x\n")
			e.must(200, "POST", "/tasks/"+id+"/process", "alice", "")
			deadline := time.Now().Add(10 * time.Second)
			for e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)["status"] != "PROCESSING" {
				if time.Now().After(deadline) {
					t.Fatal("the task never started")
				}
				time.Sleep(10 * time.Millisecond)
			}
			c := e.must(200, "POST", "/tasks/"+id+"/cancel", "alice", "").json(t)
			if c["status"] != "CANCELLED" || c["cancelled_at"] == nil {
				t.Fatalf("cancel: %v", c)
			}
			p := e.must(409, "POST", "/tasks/"+id+"/cancel", "alice", "").json(t)
			if p["type"] != server.ProblemTypeBase+"transition" || p["current_status"] != "CANCELLED" {
				t.Fatalf("second cancel: %v", p)
			}
		})
	}
}

// TestTenantIsolation: a task is its owner's; another user gets 404 for
// every route and never sees it listed; an admin sees everything.
func TestTenantIsolation(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			id := e.create("alice")
			for _, route := range []struct{ method, path, body string }{
				{"GET", "/tasks/" + id, ""},
				{"GET", "/tasks/" + id + "/history", ""},
				{"GET", "/tasks/" + id + "/events", ""},
				{"GET", "/tasks/" + id + "/downloads", ""},
				{"POST", "/tasks/" + id + "/cancel", ""},
				{"POST", "/tasks/" + id + "/process", ""},
				{"POST", "/tasks/" + id + "/upload-urls", `{"files":{"primary":{"filename":"a.csv","content_type":"text/csv"}}}`},
			} {
				p := e.must(404, route.method, route.path, "bob", route.body).json(t)
				if p["type"] != server.ProblemTypeBase+"not-found" {
					t.Errorf("%s %s as bob: %v", route.method, route.path, p)
				}
			}
			listed := func(user string) bool {
				var rows []map[string]any
				if err := json.Unmarshal(e.must(200, "GET", "/tasks", user, "").body, &rows); err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					if r["id"] == id {
						return true
					}
				}
				return false
			}
			if !listed("alice") || listed("bob") || !listed("admin") {
				t.Errorf("listed: alice %v, bob %v, admin %v; want true, false, true", listed("alice"), listed("bob"), listed("admin"))
			}
			e.must(200, "GET", "/tasks/"+id, "admin", "")
			// The task is unchanged by bob's attempts.
			if v := e.must(200, "GET", "/tasks/"+id, "alice", "").json(t); v["version"] != 1.0 || v["status"] != "CREATED" {
				t.Errorf("after bob: %v", v)
			}
		})
	}
}

// TestAnonymous: without a token, only an explicitly enabled anonymous user
// from a loopback address gets in.
func TestAnonymous(t *testing.T) {
	e := newEnv(t, "memory", envOptions{})
	if p := e.must(401, "GET", "/tasks", "", "").json(t); p["type"] != server.ProblemTypeBase+"unauthorized" {
		t.Errorf("no token: %v", p)
	}
	e.must(401, "GET", "/tasks", "", "", "Authorization", "Bearer tm_nope_nope")
	e.must(401, "GET", "/tasks", "", "", "Authorization", "Basic YTpi")

	a := newEnv(t, "memory", envOptions{anonymous: "anonymous"})
	v := a.must(201, "POST", "/tasks", "", `{"tool_id":"t","agents":["a"]}`).json(t)
	if v["user_id"] != "anonymous" {
		t.Errorf("anonymous task owner %v", v["user_id"])
	}
	// The same server refuses a request that is not from loopback.
	req := httptest.NewRequest("GET", "/tasks", nil)
	req.RemoteAddr = "192.0.2.7:4242"
	rec := httptest.NewRecorder()
	a.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("anonymous from 192.0.2.7: %d, want 401", rec.Code)
	}
	if !server.IsLoopbackAddr("127.0.0.1:8080") || server.IsLoopbackAddr("0.0.0.0:8080") || server.IsLoopbackAddr(":8080") {
		t.Error("IsLoopbackAddr")
	}
}

// TestAnonymousRefusesWebPages: a web page in a browser on this machine
// cannot use anonymous access — neither with a simple cross-origin POST
// (a form or text/plain, which the browser sends without a preflight) nor
// by a host name made to resolve to 127.0.0.1 — while programs on the
// machine, the server's own pages and origins listed for CORS can.
func TestAnonymousRefusesWebPages(t *testing.T) {
	a := newEnv(t, "memory", envOptions{anonymous: "anonymous", cors: []string{"https://app.example", "*"}})
	host := strings.TrimPrefix(a.url, "http://")
	_, port, _ := strings.Cut(host, ":")
	body := `{"tool_id":"t","agents":["a"]}`
	for _, c := range []struct {
		name   string
		header []string
		status int
		detail string
	}{
		{"curl", nil, 201, ""},
		{"the server's own page", []string{"Origin", a.url}, 201, ""},
		{"localhost", []string{"Host", "localhost:" + port}, 201, ""},
		{"IPv6 loopback", []string{"Host", "[::1]:" + port}, 201, ""},
		{"an origin listed for CORS", []string{"Origin", "https://app.example"}, 201, ""},
		{"another origin, text/plain", []string{"Origin", "https://evil.example", "Content-Type", "text/plain"}, 403,
			`anonymous access is for programs on this machine, not for a web page of another origin (https://evil.example): send a bearer token, or list the origin with --cors-origin`},
		{"a sandboxed page", []string{"Origin", "null"}, 403,
			`anonymous access is for programs on this machine, not for a web page of another origin (null): send a bearer token, or list the origin with --cors-origin`},
		{"a page of another site, without an Origin", []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors"}, 403,
			`anonymous access is for programs on this machine, not for a web page of another site (Sec-Fetch-Site: cross-site): send a bearer token`},
		{"a page of this server", []string{"Sec-Fetch-Site", "same-origin", "Origin", a.url}, 201, ""},
		{"another origin, with --cors-origin '*' too", []string{"Origin", "https://evil.example"}, 403,
			`anonymous access is for programs on this machine, not for a web page of another origin (https://evil.example): send a bearer token, or list the origin with --cors-origin`},
		{"a rebound host name", []string{"Host", "evil.example:" + port}, 403,
			`anonymous access answers requests addressed to this machine (localhost or a loopback address), not to evil.example:` + port + `: send a bearer token`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := a.do("POST", "/tasks", "", body, c.header...)
			if c.status != 403 {
				if r.status != c.status {
					t.Fatalf("%d %s", r.status, r.body)
				}
				return
			}
			if p := checkProblem(t, r, 403, "forbidden", ""); p["detail"] != c.detail {
				t.Errorf("detail %q\nwant   %q", p["detail"], c.detail)
			}
		})
	}
	// A token is not sent by a browser on its own: with one, any origin is
	// the token holder's business (CORS decides what a page may read).
	secret, _, err := a.auth.Create(t.Context(), "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	if r := a.do("POST", "/tasks", "", body, "Origin", "https://evil.example", "Authorization", "Bearer "+secret); r.status != 201 {
		t.Errorf("with a token from another origin: %d %s", r.status, r.body)
	}
	// A link followed from another site shows the page (GET, navigate).
	if r := a.do("GET", "/tasks", "", "", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"); r.status != 200 {
		t.Errorf("a followed link: %d %s", r.status, r.body)
	}
	// The worker routes need a worker token; anonymous access is no token.
	p := checkProblem(t, a.do("POST", "/worker/claim", "", `{}`), 401, "unauthorized", "")
	if want := "the /worker/ routes need a worker token (taskmodel token create --worker --models MODEL,...); anonymous access does not reach them"; p["detail"] != want {
		t.Errorf("anonymous claim: %q, want %q", p["detail"], want)
	}
}

// TestUploadFailedWaits: a task whose upload failed has no timeout (the
// spec gives UPLOAD_FAILED none) and no cancel: it waits, listed as
// waiting (Q), until its client asks for upload URLs again, and then
// expires as an UPLOADING task does (docs/server.md, README).
func TestUploadFailedWaits(t *testing.T) {
	c := &clock{t: time.Now().UTC().Truncate(time.Microsecond)}
	e := newEnv(t, "memory", envOptions{clock: c})
	id := e.create("alice")
	e.uploadURLs("alice", id)
	if v := e.must(200, "POST", "/tasks/"+id+"/process", "alice", "").json(t); v["status"] != "UPLOAD_FAILED" {
		t.Fatalf("process without files: %v", v["status"])
	}
	c.Add(24 * time.Hour)
	if err := e.srv.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := e.must(200, "GET", "/tasks/"+id, "alice", "").json(t); v["status"] != "UPLOAD_FAILED" {
		t.Errorf("a day after its upload failed: %v", v["status"])
	}
	if !strings.Contains(string(e.must(200, "GET", "/tasks?status=Q", "alice", "").body), id) {
		t.Errorf("an UPLOAD_FAILED task is not listed under status=Q")
	}
	p := checkProblem(t, e.do("POST", "/tasks/"+id+"/cancel", "alice", ""), 409, "transition", "")
	if want := "cancel is not possible while the task is UPLOAD_FAILED; possible now: upload-urls"; p["detail"] != want {
		t.Errorf("cancel: %q, want %q", p["detail"], want)
	}
	e.uploadURLs("alice", id)
	c.Add(16 * time.Minute)
	if err := e.srv.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := e.must(200, "GET", "/tasks/"+id, "alice", "").json(t); v["status"] != "EXPIRED" {
		t.Errorf("16 minutes after new upload URLs: %v", v["status"])
	}
}

// TestSweeperExpiresAndCleansUploads: an UPLOADING task past its 15 minutes
// expires and its uploaded files are deleted (the upload → process lifecycle).
func TestSweeperExpiresAndCleansUploads(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			c := &clock{t: time.Now().UTC().Truncate(time.Microsecond)}
			e := newEnv(t, b, envOptions{clock: c})
			id := e.create("alice")
			e.put(e.uploadURLs("alice", id)["primary"].(map[string]any), "text/csv", "x\n")
			done := e.create("alice") // stays CREATED: expires too
			c.Add(16 * time.Minute)
			if err := e.srv.Sweep(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, x := range []string{id, done} {
				if v := e.must(200, "GET", "/tasks/"+x, "alice", "").json(t); v["status"] != "EXPIRED" {
					t.Errorf("task %s: %v", x, v["status"])
				}
			}
			// The history names the sweeper as such.
			var hist []map[string]any
			if err := json.Unmarshal(e.must(200, "GET", "/tasks/"+id+"/history", "admin", "").body, &hist); err != nil || len(hist) == 0 {
				t.Fatalf("history: %v", err)
			}
			if last := hist[len(hist)-1]; last["to_status"] != "EXPIRED" || !strings.HasPrefix(last["actor"].(string), "sweeper:") {
				t.Errorf("the expiry's history row: %v", last)
			}
			n := 0
			for _, err := range e.blobs.List(context.Background(), "users/") {
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			if n != 0 {
				t.Errorf("%d blobs left after expiry", n)
			}
		})
	}
}

// TestListingExamples runs every curl and httpx example of the unified
// /tasks listing's requirements against
// tasks of its five types.
func TestListingExamples(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			trainEng, err := server.Engine[training.Training, training.Event](e.models, training.ModelName)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			mk := func(tt, tag string) string {
				body := fmt.Sprintf(`{"task_type":%q}`, tt)
				if tag != "" {
					body = fmt.Sprintf(`{"task_type":%q,"tag":%q}`, tt, tag)
				}
				if tt == "model_upload" {
					body = strings.TrimSuffix(body, "}") + `,"source":"HUGGINGFACE"}`
				}
				return e.must(201, "POST", "/tasks", "alice", body).json(t)["task_id"].(string)
			}
			ids := map[string]string{}
			for _, tt := range []string{"model_upload", "dataset_upload", "training", "evaluation", "synthesis"} {
				ids[tt] = mk(tt, "")
			}
			running := mk("training", "experiment-1")
			failed := mk("training", "production-model-v2")
			uid := uuid.MustParse
			if _, err := trainEng.Fire(ctx, uid(running), training.EventStart, nil, engine.Meta{Actor: "worker"}); err != nil {
				t.Fatal(err)
			}
			msg := "out of memory"
			if _, err := trainEng.Fire(ctx, uid(failed), training.EventFail, func(x *training.Training) { x.ErrorMessage = &msg }, engine.Meta{Actor: "worker"}); err != nil {
				t.Fatal(err)
			}
			list := func(query string) []map[string]any {
				var rows []map[string]any
				if err := json.Unmarshal(e.must(200, "GET", "/tasks"+query, "alice", "").body, &rows); err != nil {
					t.Fatal(err)
				}
				return rows
			}
			cases := []struct {
				query string
				want  int
				check func(map[string]any) bool
			}{
				{"", 7, nil},
				{"?task_type=training&task_type=evaluation", 4, func(r map[string]any) bool { return r["task_type"] == "training" || r["task_type"] == "evaluation" }},
				{"?task_type=training&task_type=evaluation&within_hours=6", 4, nil},
				{"?status=R", 1, func(r map[string]any) bool { return r["task_status"] == "R" && r["id"] == running }},
				{"?status=F&within_hours=24", 1, func(r map[string]any) bool { return r["id"] == failed && r["end_date"] != nil }},
				{"?task_type=training&status=R&tag=experiment-1&limit=5", 1, func(r map[string]any) bool { return r["tag"] == "experiment-1" }},
				{"?task_type=training&task_type=evaluation&status=Q&status=R&tag=production-model-v2&within_hours=4&limit=10", 0, nil},
				{"?limit=5&offset=0", 5, nil},
				{"?limit=5&offset=5", 2, nil},
			}
			for _, c := range cases {
				rows := list(c.query)
				if len(rows) != c.want {
					t.Errorf("GET /tasks%s: %d rows, want %d", c.query, len(rows), c.want)
				}
				for _, r := range rows {
					for _, k := range []string{"id", "task_type", "task_status", "tag", "created_at", "end_date"} {
						if _, ok := r[k]; !ok {
							t.Errorf("GET /tasks%s: row without %s: %v", c.query, k, r)
						}
					}
					if len(r) != 6 {
						t.Errorf("row has %d fields, want 6: %v", len(r), r)
					}
					if c.check != nil && !c.check(r) {
						t.Errorf("GET /tasks%s: unexpected row %v", c.query, r)
					}
				}
			}
			// Pages do not overlap and are newest first.
			seen := map[any]bool{}
			for _, r := range append(list("?limit=5&offset=0"), list("?limit=5&offset=5")...) {
				if seen[r["id"]] {
					t.Errorf("row %v on two pages", r["id"])
				}
				seen[r["id"]] = true
			}
		})
	}
}

// TestModelsWithoutOwner: a stage task (the stage-execution framework: no api section, a
// task_id field of its own) is visible to admins only, and its JSON keeps
// its own task_id, once.
func TestModelsWithoutOwner(t *testing.T) {
	e := newEnv(t, "sqlite", envOptions{})
	eng, err := server.Engine[stage.StageState, stage.Event](e.models, stage.ModelName)
	if err != nil {
		t.Fatal(err)
	}
	x := stage.NewStageState()
	x.StageName = "load"
	x.TaskID = "parent-7"
	x, err = eng.Create(context.Background(), x, engine.Meta{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	id := x.ID.String()
	e.must(404, "GET", "/tasks/"+id, "alice", "")
	r := e.must(200, "GET", "/tasks/"+id, "admin", "")
	if n := strings.Count(string(r.body), `"task_id"`); n != 1 {
		t.Fatalf("task_id appears %d times: %s", n, r.body)
	}
	if v := r.json(t); v["task_id"] != "parent-7" || v["id"] != id || v["task_type"] != "stage" {
		t.Errorf("stage task: %v", v)
	}
	if _, err := server.Engine[analysis.Task, analysis.Event](e.models, stage.ModelName); err == nil {
		t.Error("Engine with the wrong types: no error")
	}
}
