package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/sqlitestore"
	"github.com/taskmodel/taskmodel/tasktype"
)

// registerBody registers three stages of two tasks each.
const registerBody = `{"stages":[{"name":"PREREQ","order":1},{"name":"STATIC","order":2,"description":"Rebuilt monthly"},{"name":"DAILY","order":3}],
 "tasks":[{"stage":"PREREQ","name":"Fetch"},{"stage":"PREREQ","name":"Check","type":"sh"},
          {"stage":"STATIC","name":"Build"},{"stage":"STATIC","name":"Index","type":"python"},
          {"stage":"DAILY","name":"Report"},{"stage":"DAILY","name":"Mail","type":"R"}]}`

// TestPipelineRunsOverHTTP runs a three-stage pipeline through the routes,
// with subtasks reported by parallel increments, on every backend, and
// checks that the routes' status agrees with the tracker's and that the
// signed-in user is the actor of the changes.
func TestPipelineRunsOverHTTP(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{pipelines: true})
			stages := e.must(200, "POST", "/pipelines/stages", "alice", registerBody)
			var got []struct {
				Name  string
				Tasks []struct{ Name string }
			}
			if err := json.Unmarshal(stages.body, &got); err != nil || len(got) != 3 || got[1].Name != "STATIC" || len(got[1].Tasks) != 2 || got[1].Tasks[1].Name != "Index" {
				t.Fatalf("stages: %v %s", err, stages.body)
			}
			// Registering again changes nothing.
			if again := e.must(200, "POST", "/pipelines/stages", "bob", registerBody); string(again.body) != string(stages.body) {
				t.Errorf("registering again: %s, want %s", again.body, stages.body)
			}
			runs := map[string]string{}
			for _, st := range []string{"PREREQ", "STATIC", "DAILY"} {
				first := map[string]string{"PREREQ": "Fetch", "STATIC": "Build", "DAILY": "Report"}[st]
				r := e.must(201, "POST", "/pipelines/runs", "alice", fmt.Sprintf(`{"stage":%q,"task":%q,"total_subtasks":2,"host":"node-7","pid":4242,"code_version":"1.2","git_commit":"9f1c2ab","environment":{"env":"test","workers":4,"debug":false,"ratio":0.50}}`, st, first)).json(t)
				id := r["id"].(string)
				runs[st] = id
				if r["status"] != "STARTED" || r["host"] != "node-7" || r["pid"] != 4242.0 || r["user"] != "alice" || r["git_commit"] != "9f1c2ab" || r["total_subtasks"] != 2.0 {
					t.Fatalf("started: %v", r)
				}
				// Numbers and booleans are kept as their JSON text.
				if env, _ := r["environment"].(map[string]any); env["env"] != "test" || env["workers"] != "4" || env["debug"] != "false" || env["ratio"] != "0.50" {
					t.Errorf("environment: %v", r["environment"])
				}
				for n := 1; n <= 2; n++ {
					e.must(201, "POST", fmt.Sprintf("/pipelines/runs/%s/subtasks/%d/start", id, n), "alice", `{"name":"step","items_total":20}`)
				}
				// Subtask 1: twenty increments from four workers at once.
				var wg sync.WaitGroup
				for range 4 {
					wg.Go(func() {
						for range 5 {
							if r := e.do("POST", "/pipelines/runs/"+id+"/subtasks/1/increment", "alice", `{"by":1}`); r.status != 200 {
								t.Errorf("increment: %d %s", r.status, r.body)
							}
						}
					})
				}
				wg.Wait()
				sub := e.must(200, "POST", "/pipelines/runs/"+id+"/subtasks/2/update", "alice", `{"items_complete":5,"message":"a quarter"}`).json(t)
				if sub["percent"] != 25.0 || sub["status"] != "RUNNING" || sub["number"] != 2.0 {
					t.Errorf("subtask update: %v", sub)
				}
				detail := e.must(200, "GET", "/pipelines/runs/"+id, "bob", "").json(t)
				subs := detail["subtasks"].([]any)
				if s1 := subs[0].(map[string]any); s1["items_complete"] != 20.0 || s1["percent"] != 100.0 {
					t.Errorf("subtask 1 after 20 increments: %v", s1)
				}
				if detail["percent"] != 62.5 || detail["percent_source"] != "subtasks" || detail["status"] != "RUNNING" {
					t.Errorf("run percent: %v %v %v", detail["percent"], detail["percent_source"], detail["status"])
				}
				if est := detail["estimate"].(map[string]any); est["known"] != true || est["items_total"] != 40.0 || est["items_complete"] != 25.0 {
					t.Errorf("estimate: %v", est)
				}
				e.must(200, "POST", "/pipelines/runs/"+id+"/subtasks/1/complete", "alice", `{"message":"loaded"}`)
				if st == "DAILY" {
					continue // left running
				}
				e.must(200, "POST", "/pipelines/runs/"+id+"/subtasks/2/complete", "alice", `{}`)
				done := e.must(200, "POST", "/pipelines/runs/"+id+"/complete", "alice", `{"message":"done"}`).json(t)
				if done["status"] != "COMPLETED" || done["percent"] != 100.0 || done["finished_at"] == nil || done["message"] != "done" {
					t.Errorf("completed: %v", done)
				}
			}
			// A failed second run of Build.
			r := e.must(201, "POST", "/pipelines/runs", "bob", `{"stage":"STATIC","task":"Index"}`).json(t)
			failed := e.must(200, "POST", fmt.Sprintf("/pipelines/runs/%s/fail", r["id"]), "bob", `{"message":"disk full","detail":"Traceback: …"}`).json(t)
			if failed["status"] != "FAILED" || failed["error_message"] != "disk full" || failed["error_detail"] != "Traceback: …" || failed["user"] != "bob" {
				t.Errorf("failed: %v", failed)
			}

			// The routes' status is the tracker's.
			var status []map[string]any
			if err := json.Unmarshal(e.must(200, "GET", "/pipelines/status", "bob", "").body, &status); err != nil {
				t.Fatal(err)
			}
			want, err := e.tracker.Status(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(status) != len(want) {
				t.Fatalf("status: %d tasks, tracker %d", len(status), len(want))
			}
			for i, w := range want {
				g := status[i]
				if g["stage"] != w.Stage || g["task"] != w.Task || g["status"] != string(w.Status) || g["percent"] != w.Percent {
					t.Errorf("status[%d]: %v %v %v %v, tracker %s %s %s %v", i, g["stage"], g["task"], g["status"], g["percent"], w.Stage, w.Task, w.Status, w.Percent)
				}
				if w.Run != nil && g["run"].(map[string]any)["id"] != w.Run.ID.String() {
					t.Errorf("status[%d]: run %v, tracker %s", i, g["run"], w.Run.ID)
				}
			}
			byTask := map[string]string{}
			for _, g := range status {
				byTask[g["task"].(string)] = g["status"].(string)
			}
			wantStatus := map[string]string{"Fetch": "COMPLETED", "Check": "NOT_STARTED", "Build": "COMPLETED", "Index": "FAILED", "Report": "RUNNING", "Mail": "NOT_STARTED"}
			for task, st := range wantStatus {
				if byTask[task] != st {
					t.Errorf("%s: %s, want %s", task, byTask[task], st)
				}
			}
			stageOnly := e.must(200, "GET", "/pipelines/status?stage=DAILY", "bob", "")
			if n := strings.Count(string(stageOnly.body), `"stage":"DAILY"`); n != 3 || strings.Contains(string(stageOnly.body), "STATIC") { // two tasks, one with its run
				t.Errorf("status?stage=DAILY: %s", stageOnly.body)
			}
			active := e.must(200, "GET", "/pipelines/active", "bob", "")
			if !strings.Contains(string(active.body), runs["DAILY"]) || strings.Contains(string(active.body), runs["STATIC"]) {
				t.Errorf("active: %s", active.body)
			}
			var history []map[string]any
			_ = json.Unmarshal(e.must(200, "GET", "/pipelines/history?stage=STATIC&limit=10", "bob", "").body, &history)
			if len(history) != 2 || history[0]["task"] != "Index" || history[1]["id"] != runs["STATIC"] {
				t.Errorf("history of STATIC: %v", history)
			}
			if h := e.must(200, "GET", "/pipelines/history?limit=1", "bob", ""); strings.Count(string(h.body), `"id"`) != 1 {
				t.Errorf("history limit=1: %s", h.body)
			}
			var subs []map[string]any
			_ = json.Unmarshal(e.must(200, "GET", "/pipelines/runs/"+runs["DAILY"]+"/subtasks", "bob", "").body, &subs)
			if len(subs) != 2 || subs[0]["status"] != "COMPLETED" || subs[1]["status"] != "RUNNING" || subs[1]["message"] != "a quarter" {
				t.Errorf("subtasks: %v", subs)
			}

			// The signed-in user is the actor of each change.
			id := uuid.MustParse(runs["PREREQ"])
			h, err := e.tracker.Storage().Runs().History(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range h {
				if x.Actor != "user:alice" {
					t.Errorf("history row %d of the run: actor %q, want user:alice", x.Seq, x.Actor)
				}
			}
		})
	}
}

// TestPipelineLifecycleRefusals: moves the lifecycle refuses are 409s with
// the current status, and write nothing.
func TestPipelineLifecycleRefusals(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{pipelines: true})
			e.must(200, "POST", "/pipelines/stages", "alice", registerBody)
			id := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Build","total_subtasks":3}`).json(t)["id"].(string)
			run := "/pipelines/runs/" + id
			e.must(201, "POST", run+"/subtasks/1/start", "alice", `{"name":"Load","items_total":2}`)
			e.must(200, "POST", run+"/subtasks/1/increment", "alice", ``)
			// Every 409 says the status of what it refused (the run, or
			// the subtask) and the routes its status still allows.
			cases := []struct {
				name, path, body, detail, current, actions string
			}{
				{"complete with unfinished subtasks", run + "/complete", `{}`,
					`cannot complete the run: subtask 1 (Load) is RUNNING; subtasks 2, 3 of 3 never started; complete or fail them first, or complete with "force": true`,
					"RUNNING", "[update complete fail cancel]"},
				{"skip a running run", run + "/skip", `{}`, "skip is not possible while it is RUNNING", "RUNNING", "[update complete fail cancel]"},
				{"start a subtask twice", run + "/subtasks/1/start", `{"name":"Load"}`,
					"this subtask was started already; each number starts once per run", "RUNNING", "[update increment complete fail]"},
				{"increment past items_total", run + "/subtasks/1/increment", `{"by":2}`, "", "", ""},
			}
			for _, c := range cases {
				r := e.do("POST", c.path, "alice", c.body)
				want := 409
				if c.name == "increment past items_total" {
					want = 400
				}
				if r.status != want {
					t.Fatalf("%s: %d %s", c.name, r.status, r.body)
				}
				p := r.json(t)
				if c.detail != "" && p["detail"] != c.detail {
					t.Errorf("%s: detail %q\nwant %q", c.name, p["detail"], c.detail)
				}
				if c.current != "" && p["current_status"] != c.current {
					t.Errorf("%s: current_status %v, want %s", c.name, p["current_status"], c.current)
				}
				if c.actions != "" && fmt.Sprint(p["allowed_actions"]) != c.actions {
					t.Errorf("%s: allowed_actions %v, want %s", c.name, p["allowed_actions"], c.actions)
				}
			}
			if p := e.must(400, "POST", run+"/subtasks/1/increment", "alice", `{"by":2}`).json(t); p["detail"] != "by: must be at most 1: items_complete is 1 of items_total 2" {
				t.Errorf("increment past items_total: %v", p["detail"])
			}
			// An update names the field it sent: a total below the count,
			// or a count past the total.
			for _, c := range []struct{ body, detail string }{
				{`{"items_total":0}`, "items_total: must be at least items_complete (1)"},
				{`{"items_complete":3}`, "items_complete: must be at most items_total (2)"},
				{`{"items_complete":3,"items_total":2}`, "items_complete: must be at most items_total (2)"},
			} {
				if p := e.must(400, "POST", run+"/subtasks/1/update", "alice", c.body).json(t); p["detail"] != c.detail {
					t.Errorf("update %s: detail %q\nwant %q", c.body, p["detail"], c.detail)
				}
			}
			var subs []map[string]any
			if err := json.Unmarshal(e.must(200, "GET", run+"/subtasks", "alice", "").body, &subs); err != nil || len(subs) != 1 ||
				subs[0]["items_total"] != 2.0 || subs[0]["items_complete"] != 1.0 {
				t.Errorf("subtask after the refused updates: %v %v", err, subs)
			}
			// Forced: completes, cancelling subtask 1.
			done := e.must(200, "POST", run+"/complete", "alice", `{"force":true}`).json(t)
			if done["status"] != "COMPLETED" {
				t.Fatalf("forced: %v", done)
			}
			for _, c := range []struct{ path, body string }{
				{run + "/update", `{"percent":50}`},
				{run + "/complete", `{}`},
				{run + "/fail", `{"message":"late"}`},
				{run + "/skip", `{}`},
				{run + "/cancel", `{}`},
				{run + "/subtasks/2/start", `{"name":"Late"}`},
				{run + "/subtasks/1/complete", `{}`},
				{run + "/subtasks/1/update", `{"percent":50}`},
				{run + "/subtasks/1/increment", `{}`},
			} {
				r := e.do("POST", c.path, "alice", c.body)
				if r.status != 409 {
					t.Errorf("%s after completion: %d %s", c.path, r.status, r.body)
					continue
				}
				p := r.json(t)
				if cur := p["current_status"]; cur != "COMPLETED" && cur != "CANCELLED" {
					t.Errorf("%s: current_status %v", c.path, cur)
				}
				if a, ok := p["allowed_actions"].([]any); !ok || len(a) != 0 {
					t.Errorf("%s: allowed_actions %v, want []", c.path, p["allowed_actions"])
				}
			}
			detail := e.must(200, "GET", run, "alice", "").json(t)
			if detail["status"] != "COMPLETED" || len(detail["subtasks"].([]any)) != 1 {
				t.Errorf("after the refusals: %v", detail)
			}
		})
	}
}

// TestPipelineCancelAndSkip: a run is cancelled (with its unfinished
// subtasks) or skipped over /pipelines as taskmodel run cancel and run skip
// do, and cancelled by POST /tasks/{id}/cancel too; refusals are 409s with
// the status and what it still allows.
func TestPipelineCancelAndSkip(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{pipelines: true})
			e.must(200, "POST", "/pipelines/stages", "alice", registerBody)
			start := func() string {
				return "/pipelines/runs/" + e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Build","total_subtasks":2}`).json(t)["id"].(string)
			}

			// Cancel: the run and its unfinished subtask; the finished one stays.
			run := start()
			e.must(201, "POST", run+"/subtasks/1/start", "alice", `{"name":"Load"}`)
			e.must(200, "POST", run+"/subtasks/1/complete", "alice", `{}`)
			e.must(201, "POST", run+"/subtasks/2/start", "alice", `{"name":"Index"}`)
			if r := e.must(200, "POST", run+"/cancel", "alice", `{"message":"not needed today"}`).json(t); r["status"] != "CANCELLED" || r["message"] != "not needed today" {
				t.Errorf("cancel: %v", r)
			}
			d := e.must(200, "GET", run, "alice", "").json(t)
			subs := d["subtasks"].([]any)
			if s1, s2 := subs[0].(map[string]any)["status"], subs[1].(map[string]any)["status"]; s1 != "COMPLETED" || s2 != "CANCELLED" {
				t.Errorf("subtasks after cancel: %v, %v", s1, s2)
			}

			// Skip: a STARTED run only.
			skipped := start()
			if r := e.must(200, "POST", skipped+"/skip", "alice", `{"message":"nothing to do"}`).json(t); r["status"] != "SKIPPED" || r["message"] != "nothing to do" {
				t.Errorf("skip: %v", r)
			}

			cases := []struct {
				name, path, body string
				status           int
				detail, current  string
				actions          string
			}{
				{"cancel a cancelled run", run + "/cancel", `{}`, 409, "cancel is not possible while it is CANCELLED", "CANCELLED", "[]"},
				{"skip a cancelled run", run + "/skip", `{}`, 409, "skip is not possible while it is CANCELLED", "CANCELLED", "[]"},
				{"cancel a skipped run", skipped + "/cancel", `{}`, 409, "cancel is not possible while it is SKIPPED", "SKIPPED", "[]"},
				{"update a skipped run", skipped + "/update", `{"percent":5}`, 409, "run " + strings.TrimPrefix(skipped, "/pipelines/runs/") + " is SKIPPED: cannot update it; updates need STARTED or RUNNING", "SKIPPED", "[]"},
				{"cancel with an unknown field", run + "/cancel", `{"reason":"x"}`, 400, "reason: unknown field; allowed: message", "", ""},
				{"skip with a message not text", skipped + "/skip", `{"message":5}`, 400, "message: must be a string", "", ""},
				{"cancel an unknown run", "/pipelines/runs/" + uuid.NewString() + "/cancel", `{}`, 404, "", "", ""},
			}
			for _, c := range cases {
				r := e.do("POST", c.path, "alice", c.body)
				if r.status != c.status || r.header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s: %d %s %s", c.name, r.status, r.header.Get("Content-Type"), r.body)
					continue
				}
				p := r.json(t)
				if c.detail != "" && p["detail"] != c.detail {
					t.Errorf("%s: detail %q\nwant %q", c.name, p["detail"], c.detail)
				}
				if c.current != "" && p["current_status"] != c.current {
					t.Errorf("%s: current_status %v, want %s", c.name, p["current_status"], c.current)
				}
				if c.actions != "" && fmt.Sprint(p["allowed_actions"]) != c.actions {
					t.Errorf("%s: allowed_actions %v, want %s", c.name, p["allowed_actions"], c.actions)
				}
			}

			// POST /tasks/{id}/cancel (an admin's: runs have no owner)
			// cancels a run through the tracker, its subtasks with it. (The
			// memory backend's tracker keeps its runs apart from the /tasks
			// models.)
			if b == "memory" {
				return
			}
			running := start()
			e.must(201, "POST", running+"/subtasks/1/start", "alice", `{"name":"Load"}`)
			e.must(200, "POST", running+"/update", "alice", `{"percent":10}`)
			id := strings.TrimPrefix(running, "/pipelines/runs/")
			// A subtask is cancelled with its run, not on its own.
			var rows []map[string]any
			if err := json.Unmarshal(e.must(200, "GET", "/tasks?task_type=pipeline_subtask&status=R", "admin", "").body, &rows); err != nil || len(rows) != 1 {
				t.Fatalf("the running subtask: %v %v", err, rows)
			}
			if p := e.must(409, "POST", "/tasks/"+rows[0]["id"].(string)+"/cancel", "admin", "").json(t); p["current_status"] != "STARTED" || fmt.Sprint(p["allowed_actions"]) != "[]" ||
				p["detail"] != fmt.Sprintf("a pipeline subtask is not cancelled on its own but with its run (POST /tasks/%s/cancel or /pipelines/runs/%s/cancel); the task is STARTED; no action is possible now", id, id) {
				t.Errorf("cancel of a subtask: %v", p)
			}
			if task := e.must(200, "POST", "/tasks/"+id+"/cancel", "admin", "").json(t); task["status"] != "CANCELLED" {
				t.Errorf("/tasks/{id}/cancel of a running run: %v", task)
			}
			d = e.must(200, "GET", running, "alice", "").json(t)
			if d["status"] != "CANCELLED" || d["subtasks"].([]any)[0].(map[string]any)["status"] != "CANCELLED" {
				t.Errorf("after /tasks/{id}/cancel: %v", d)
			}
			p := e.must(409, "POST", "/tasks/"+id+"/cancel", "admin", "").json(t)
			if p["type"] != "urn:taskmodel:problem:transition" || p["current_status"] != "CANCELLED" || fmt.Sprint(p["allowed_actions"]) != "[]" ||
				p["detail"] != "cancel is not possible while the task is CANCELLED; no action is possible now" {
				t.Errorf("cancel of a cancelled run: %v", p)
			}
		})
	}
}

// TestPipelineBadInput: each bad request is a problem naming the field (or
// what exists), with its exact message.
func TestPipelineBadInput(t *testing.T) {
	e := newEnv(t, "memory", envOptions{pipelines: true})
	e.must(200, "POST", "/pipelines/stages", "alice", registerBody)
	id := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Build"}`).json(t)["id"].(string)
	e.must(201, "POST", "/pipelines/runs/"+id+"/subtasks/1/start", "alice", `{"name":"Load"}`)
	unknown := uuid.New().String()
	cases := []struct {
		name, method, path, body string
		status                   int
		detail                   string
	}{
		{"no stages or tasks", "POST", "/pipelines/stages", `{}`, 400, "stages: give stages, tasks or both (each a non-empty array)"},
		{"stage without name", "POST", "/pipelines/stages", `{"stages":[{"order":1}]}`, 400, "stages[0].name: is required (a non-empty string)"},
		{"stage order negative", "POST", "/pipelines/stages", `{"stages":[{"name":"X","order":-1}]}`, 400, "stages[0].order: must be an integer between 0 and 2147483647"},
		{"task type", "POST", "/pipelines/stages", `{"tasks":[{"stage":"X","name":"Y","type":"perl"}]}`, 400, "tasks[0].type: must be one of R, sh, python"},
		{"task unknown field", "POST", "/pipelines/stages", `{"tasks":[{"stage":"X","name":"Y","script":"a.sh"}]}`, 400, "tasks[0].script: unknown field; allowed: log_filename, log_path, name, order, script_filename, script_path, stage, type"},
		{"stages not an array", "POST", "/pipelines/stages", `{"stages":{"name":"X"}}`, 400, "stages: must be a JSON array"},
		{"task name too long", "POST", "/pipelines/stages", `{"tasks":[{"stage":"X","name":"` + strings.Repeat("n", 201) + `"}]}`, 400, "tasks[0].name: must be at most 200 characters (got 201)"},
		{"start without task", "POST", "/pipelines/runs", `{"stage":"STATIC"}`, 400, "task: is required (a non-empty string)"},
		{"start unknown stage", "POST", "/pipelines/runs", `{"stage":"STAT","task":"Build"}`, 404, `stage "STAT": not found; registered stages: "PREREQ", "STATIC", "DAILY"`},
		{"start unknown task", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Bild"}`, 404, `task "Bild" in stage "STATIC": not found; registered in that stage: "Build", "Index"`},
		{"start pid zero", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","pid":0}`, 400, "pid: must be an integer between 1 and 2147483647"},
		{"start pid text", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","pid":"42"}`, 400, "pid: must be an integer between 1 and 2147483647"},
		{"start total_subtasks fraction", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","total_subtasks":2.5}`, 400, "total_subtasks: must be an integer written in digits, without a fraction or exponent (got 2.5)"},
		{"start environment nested", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","environment":{"a":{"b":1}}}`, 400, "environment.a: must be a string, number or true/false, not an object (omit the key for no value)"},
		{"start environment null", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","environment":{"a":null,"b":true}}`, 400, "environment.a: must be a string, number or true/false, not null (omit the key for no value)"},
		{"start environment list, first key named", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","environment":{"z":[1],"a":"x","b":[]}}`, 400, "environment.b: must be a string, number or true/false, not an array (omit the key for no value)"},
		{"start pid past int64", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","pid":99999999999999999999999}`, 400, "pid: must be at most 2147483647 (got 99999999999999999999999)"},
		{"start host with newline", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","host":"a\nb"}`, 400, "host: contains a control character (U+000A); only printable text is allowed"},
		{"start unknown field", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","hostname":"x"}`, 400, "hostname: unknown field; allowed: code_version, environment, git_commit, host, log_filename, log_path, message, pid, ppid, script_filename, script_path, stage, task, total_subtasks, user"},
		{"start body not an object", "POST", "/pipelines/runs", `[1]`, 400, "body: must be a JSON object"},
		{"run id", "GET", "/pipelines/runs/abc", "", 400, `id: must be a run id (a UUID such as 123e4567-e89b-12d3-a456-426614174000), not "abc"`},
		{"unknown run", "GET", "/pipelines/runs/" + unknown, "", 404, "run " + unknown + ": not found"},
		{"update percent", "POST", "/pipelines/runs/" + id + "/update", `{"percent":101}`, 400, "percent: must be a number between 0 and 100"},
		{"update unknown run", "POST", "/pipelines/runs/" + unknown + "/update", `{"percent":1}`, 404, "run " + unknown + ": not found"},
		{"complete force", "POST", "/pipelines/runs/" + id + "/complete", `{"force":"yes"}`, 400, "force: must be true or false"},
		{"fail without message", "POST", "/pipelines/runs/" + id + "/fail", `{"detail":"x"}`, 400, "message: is required: say why the run failed"},
		{"subtask number", "POST", "/pipelines/runs/" + id + "/subtasks/0/start", `{"name":"x"}`, 400, `n: must be a subtask number, an integer of at least 1, not "0"`},
		{"subtask name", "POST", "/pipelines/runs/" + id + "/subtasks/2/start", `{"items_total":3}`, 400, "name: is required (a non-empty string)"},
		{"subtask items_total", "POST", "/pipelines/runs/" + id + "/subtasks/2/start", `{"name":"x","items_total":-1}`, 400, "items_total: must be an integer of at least 0"},
		{"subtask items_total past int64", "POST", "/pipelines/runs/" + id + "/subtasks/2/start", `{"name":"x","items_total":9223372036854775808}`, 400, "items_total: must be at most 9223372036854775807 (got 9223372036854775808)"},
		{"subtask items_complete below int64", "POST", "/pipelines/runs/" + id + "/subtasks/1/update", `{"items_complete":-9223372036854775809}`, 400, "items_complete: must be at least 0 (got -9223372036854775809)"},
		{"unknown subtask", "POST", "/pipelines/runs/" + id + "/subtasks/9/update", `{"percent":1}`, 404, "subtask 9 of run " + id + ": not found; start it first (subtask start)"},
		{"increment by zero", "POST", "/pipelines/runs/" + id + "/subtasks/1/increment", `{"by":0}`, 400, "by: must be an integer of at least 1"},
		{"increment by null", "POST", "/pipelines/runs/" + id + "/subtasks/1/increment", `{"by":null}`, 400, "by: must be an integer, not null (leave the field out instead)"},
		{"increment by 1.0", "POST", "/pipelines/runs/" + id + "/subtasks/1/increment", `{"by":1.0}`, 400, "by: must be an integer written in digits, without a fraction or exponent (got 1.0)"},
		{"increment by 1e0", "POST", "/pipelines/runs/" + id + "/subtasks/1/increment", `{"by":1e0}`, 400, "by: must be an integer written in digits, without a fraction or exponent (got 1e0)"},
		{"start total_subtasks 0", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","total_subtasks":0}`, 400, "total_subtasks: must be an integer between 1 and 2147483647"},
		{"start total_subtasks null", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","total_subtasks":null}`, 400, "total_subtasks: must be an integer, not null (leave the field out instead)"},
		{"start user null", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","user":null}`, 400, "user: must be a string, not null (leave the field out instead)"},
		{"start environment itself null", "POST", "/pipelines/runs", `{"stage":"STATIC","task":"Build","environment":null}`, 400, "environment: must be a JSON object, not null (leave the field out instead)"},
		{"start stage null", "POST", "/pipelines/runs", `{"stage":null,"task":"Build"}`, 400, "stage: is required (a non-empty string)"},
		{"update percent null", "POST", "/pipelines/runs/" + id + "/update", `{"percent":null}`, 400, "percent: must be a number, not null (leave the field out instead)"},
		{"update message null", "POST", "/pipelines/runs/" + id + "/update", `{"message":null}`, 400, "message: must be a string, not null (leave the field out instead)"},
		{"complete force null", "POST", "/pipelines/runs/" + id + "/complete", `{"force":null}`, 400, "force: must be true or false, not null (leave the field out instead)"},
		{"fail message null", "POST", "/pipelines/runs/" + id + "/fail", `{"message":null}`, 400, "message: is required: say why the run failed"},
		{"subtask fail message null", "POST", "/pipelines/runs/" + id + "/subtasks/1/fail", `{"message":null}`, 400, "message: is required: say why the subtask failed"},
		{"subtask items_total null", "POST", "/pipelines/runs/" + id + "/subtasks/2/start", `{"name":"x","items_total":null}`, 400, "items_total: must be an integer, not null (leave the field out instead)"},
		{"stage order null", "POST", "/pipelines/stages", `{"stages":[{"name":"X","order":null}]}`, 400, "stages[0].order: must be an integer, not null (leave the field out instead)"},
		{"stages null", "POST", "/pipelines/stages", `{"stages":null,"tasks":[{"stage":"X","name":"Y"}]}`, 400, "stages: must be a JSON array, not null (leave the field out instead)"},
		{"subtask fail without message", "POST", "/pipelines/runs/" + id + "/subtasks/1/fail", `{}`, 400, "message: is required: say why the subtask failed"},
		{"status unknown stage", "GET", "/pipelines/status?stage=NOPE", "", 404, `stage "NOPE": not found; registered stages: "PREREQ", "STATIC", "DAILY"`},
		{"status unknown parameter", "GET", "/pipelines/status?stages=X", "", 400, "stages: unknown query parameter; allowed: stage"},
		{"history limit", "GET", "/pipelines/history?limit=0", "", 400, `limit: must be an integer between 1 and 10000, not "0"`},
		{"history unknown task", "GET", "/pipelines/history?task=Nope", "", 404, `task "Nope": not found; registered tasks: "Fetch", "Check", "Build", "Index", "Report", "Mail"`},
		{"history unknown task of a stage", "GET", "/pipelines/history?stage=STATIC&task=Nope", "", 404, `task "Nope" in stage "STATIC": not found; registered in that stage: "Build", "Index"`},
		{"history limit repeated", "GET", "/pipelines/history?limit=1&limit=2", "", 400, "limit: may be given once"},
		{"run with a query", "GET", "/pipelines/runs/" + id + "?verbose=1", "", 400, "verbose: unknown query parameter; this route takes none"},
		{"method", "DELETE", "/pipelines/runs/" + id, "", 405, "DELETE is not allowed here; allowed: GET, HEAD"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, "alice", c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if p := r.json(t); p["detail"] != c.detail {
				t.Errorf("detail\n got %q\nwant %q", p["detail"], c.detail)
			}
		})
	}
	// Nothing was written by the refused requests.
	if h := e.must(200, "GET", "/pipelines/history", "alice", ""); strings.Count(string(h.body), `"id"`) != 1 {
		t.Errorf("history after refused requests: %s", h.body)
	}
	if s := e.must(200, "GET", "/pipelines/stages", "alice", ""); strings.Contains(string(s.body), `"X"`) {
		t.Errorf("a refused registration was written: %s", s.body)
	}
}

// TestPipelinesNeedATrackerAndAToken: without a tracker every route is a
// 404 saying so; without a token, a 401.
func TestPipelinesNeedATrackerAndAToken(t *testing.T) {
	off := newEnv(t, "memory", envOptions{})
	for _, path := range []string{"/pipelines/stages", "/pipelines/status", "/pipelines/runs/" + uuid.NewString()} {
		if p := off.must(404, "GET", path, "alice", "").json(t); p["detail"] != "pipeline tracking is not enabled on this server" {
			t.Errorf("%s: %v", path, p["detail"])
		}
	}
	on := newEnv(t, "memory", envOptions{pipelines: true})
	on.must(401, "GET", "/pipelines/status", "", "")
	on.must(401, "POST", "/pipelines/stages", "", registerBody)
}

// TestPipelineRoutesInOpenAPI: /openapi.json documents every /pipelines
// route the server serves, with its methods.
func TestPipelineRoutesInOpenAPI(t *testing.T) {
	e := newEnv(t, "memory", envOptions{pipelines: true})
	doc := e.must(200, "GET", "/openapi.json", "", "").json(t)
	n := 0
	for path, item := range doc["paths"].(map[string]any) {
		if !strings.HasPrefix(path, "/pipelines") {
			continue
		}
		url := strings.NewReplacer("{id}", uuid.NewString(), "{n}", "1").Replace(path)
		for method := range item.(map[string]any) {
			n++
			r := e.do(strings.ToUpper(method), url, "alice", "")
			if r.status == 405 || strings.Contains(string(r.body), "no route") {
				t.Errorf("%s %s: %d %s", method, path, r.status, r.body)
			}
		}
	}
	if n != 18 {
		t.Errorf("%d documented operations under /pipelines, want 18", n)
	}
}

// TestPipelineIncrementPastTheLargestCount: an increment whose count would
// pass the largest integer is a 400 naming by on every backend, and writes
// nothing: the run, its subtasks and the active runs still read.
func TestPipelineIncrementPastTheLargestCount(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		detail     string
		count      float64
	}{
		{"the largest number", `{"by":9223372036854775807}`, 400,
			"by: must be at most 9223372036854775806: items_complete is 1, and the count may not pass 9223372036854775807, the largest allowed", 1},
		{"past the largest integer", `{"by":9223372036854775808}`, 400, "by: must be at most 9223372036854775807 (got 9223372036854775808)", 1},
		{"up to the largest count exactly", `{"by":9223372036854775806}`, 200, "", 9223372036854775807},
		{"one more", `{"by":1}`, 400,
			"by: must be at most 0: items_complete is 9223372036854775807, and the count may not pass 9223372036854775807, the largest allowed", 9223372036854775807},
	}
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{pipelines: true})
			e.must(200, "POST", "/pipelines/stages", "alice", registerBody)
			run := "/pipelines/runs/" + e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Build"}`).json(t)["id"].(string)
			e.must(201, "POST", run+"/subtasks/1/start", "alice", `{"name":"Load"}`)
			e.must(200, "POST", run+"/subtasks/1/increment", "alice", `{"by":1}`)
			for _, c := range cases {
				r := e.do("POST", run+"/subtasks/1/increment", "alice", c.body)
				if r.status != c.status {
					t.Fatalf("%s: %d %s", c.name, r.status, r.body)
				}
				if c.detail != "" {
					if p := r.json(t); p["detail"] != c.detail {
						t.Errorf("%s: detail\n got %q\nwant %q", c.name, p["detail"], c.detail)
					}
				}
				detail := e.must(200, "GET", run, "alice", "").json(t)
				if got := detail["subtasks"].([]any)[0].(map[string]any)["items_complete"]; got != c.count {
					t.Errorf("%s: items_complete %v, want %v", c.name, got, c.count)
				}
				e.must(200, "GET", run+"/subtasks", "alice", "")
				e.must(200, "GET", "/pipelines/active", "alice", "")
			}
		})
	}
}

// TestPipelineTextLimits: text past the tracker's limits is a 400 naming
// the request's field, the same on every backend, and writes nothing; so
// is a field the tracker names otherwise (hostname, user_name,
// error_detail, subtask_number).
func TestPipelineTextLimits(t *testing.T) {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	cases := []struct {
		name, path, body, detail string
	}{
		{"stage description", "/pipelines/stages", `{"stages":[{"name":"D","order":9,"description":"` + long("x", 70000) + `"}]}`,
			"stages[0].description: must be at most 4000 characters (got 70000)"},
		{"stage description in 2-byte characters", "/pipelines/stages", `{"stages":[{"name":"D","description":"` + long("é", 40000) + `"}]}`,
			"stages[0].description: must be at most 4000 characters (got 40000)"},
		{"task script_path", "/pipelines/stages", `{"tasks":[{"stage":"STATIC","name":"T","script_path":"` + long("p", 70000) + `"}]}`,
			"tasks[0].script_path: must be at most 1024 characters (got 70000)"},
		{"task log_filename", "/pipelines/stages", `{"tasks":[{"stage":"STATIC","name":"T","log_filename":"` + long("😀", 1025) + `"}]}`,
			"tasks[0].log_filename: must be at most 1024 characters (got 1025)"},
		{"start message", "/pipelines/runs", `{"stage":"STATIC","task":"Build","message":"` + long("m", 4001) + `"}`,
			"message: must be at most 4000 characters (got 4001)"},
		{"start user", "/pipelines/runs", `{"stage":"STATIC","task":"Build","user":"` + long("u", 256) + `"}`,
			"user: must be at most 255 characters (got 256)"},
		{"start host", "/pipelines/runs", `{"stage":"STATIC","task":"Build","host":"` + long("h", 256) + `"}`,
			"host: must be at most 255 characters (got 256)"},
		{"start code_version", "/pipelines/runs", `{"stage":"STATIC","task":"Build","code_version":"` + long("v", 256) + `"}`,
			"code_version: must be at most 255 characters (got 256)"},
		{"start script_filename", "/pipelines/runs", `{"stage":"STATIC","task":"Build","script_filename":"` + long("f", 1025) + `"}`,
			"script_filename: must be at most 1024 characters (got 1025)"},
		{"start log_path", "/pipelines/runs", `{"stage":"STATIC","task":"Build","log_path":"` + long("é", 70000) + `"}`,
			"log_path: must be at most 1024 characters (got 70000)"},
		{"update message", "{run}/update", `{"message":"` + long("m", 70000) + `"}`,
			"message: must be at most 4000 characters (got 70000)"},
		{"complete message", "{run}/complete", `{"message":"` + long("m", 4001) + `"}`,
			"message: must be at most 4000 characters (got 4001)"},
		{"forced complete message", "{run}/complete", `{"force":true,"message":"` + long("m", 70000) + `"}`,
			"message: must be at most 4000 characters (got 70000)"},
		{"fail message", "{run}/fail", `{"message":"` + long("m", 4001) + `"}`,
			"message: must be at most 4000 characters (got 4001)"},
		{"fail detail", "{run}/fail", `{"message":"boom","detail":"` + long("d", 200000) + `"}`,
			"detail: must be at most 16000 characters (got 200000)"},
		{"fail detail in 2-byte characters", "{run}/fail", `{"message":"boom","detail":"` + long("é", 40000) + `"}`,
			"detail: must be at most 16000 characters (got 40000)"},
		{"subtask start message", "{run}/subtasks/2/start", `{"name":"x","message":"` + long("m", 4001) + `"}`,
			"message: must be at most 4000 characters (got 4001)"},
		{"subtask past total_subtasks", "{run}/subtasks/3/start", `{"name":"x"}`,
			"n: must be at most 2, the run's total_subtasks"},
		{"subtask update message", "{run}/subtasks/1/update", `{"message":"` + long("m", 4001) + `"}`,
			"message: must be at most 4000 characters (got 4001)"},
		{"subtask complete message", "{run}/subtasks/1/complete", `{"message":"` + long("m", 4001) + `"}`,
			"message: must be at most 4000 characters (got 4001)"},
		{"subtask fail message", "{run}/subtasks/1/fail", `{"message":"` + long("m", 4001) + `"}`,
			"message: must be at most 4000 characters (got 4001)"},
	}
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{pipelines: true})
			e.must(200, "POST", "/pipelines/stages", "alice", registerBody)
			run := "/pipelines/runs/" + e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Build","total_subtasks":2}`).json(t)["id"].(string)
			e.must(201, "POST", run+"/subtasks/1/start", "alice", `{"name":"Load"}`)
			before := string(e.must(200, "GET", run, "alice", "").body)
			stages := string(e.must(200, "GET", "/pipelines/stages", "alice", "").body)
			for _, c := range cases {
				r := e.do("POST", strings.Replace(c.path, "{run}", run, 1), "alice", c.body)
				if r.status != 400 {
					t.Errorf("%s: %d %.300s", c.name, r.status, r.body)
					continue
				}
				if p := r.json(t); p["detail"] != c.detail {
					t.Errorf("%s: detail\n got %q\nwant %q", c.name, p["detail"], c.detail)
				}
			}
			// Nothing was written: not the run, its subtask, a second run
			// or a registration.
			if after := string(e.must(200, "GET", run, "alice", "").body); after != before {
				t.Errorf("a refused request wrote:\nbefore %s\nafter  %s", before, after)
			}
			if h := e.must(200, "GET", "/pipelines/history", "alice", ""); strings.Count(string(h.body), `"id"`) != 1 {
				t.Errorf("history after refused requests: %.500s", h.body)
			}
			if after := string(e.must(200, "GET", "/pipelines/stages", "alice", "").body); after != stages {
				t.Errorf("a refused registration wrote: %.500s", after)
			}
			// At the limits, in 4-byte characters, every engine stores the text whole.
			msg, detail := long("😀", pipeline.MaxMessageLen), long("😀", pipeline.MaxDetailLen)
			failed := e.must(200, "POST", run+"/fail", "alice", `{"message":"`+msg+`","detail":"`+detail+`"}`).json(t)
			if failed["error_message"] != msg || failed["error_detail"] != detail || failed["status"] != "FAILED" {
				t.Errorf("fail at the limits: status %v, %d and %d bytes", failed["status"], len(fmt.Sprint(failed["error_message"])), len(fmt.Sprint(failed["error_detail"])))
			}
			desc := long("😀", pipeline.MaxDescriptionLen)
			path := long("😀", pipeline.MaxPathLen)
			e.must(200, "POST", "/pipelines/stages", "alice", `{"stages":[{"name":"D","description":"`+desc+`"}],"tasks":[{"stage":"D","name":"T","script_path":"`+path+`"}]}`)
			got := e.must(200, "GET", "/pipelines/stages", "alice", "")
			if !strings.Contains(string(got.body), `"description":"`+desc+`"`) || !strings.Contains(string(got.body), `"script_path":"`+path+`"`) {
				t.Errorf("registration at the limits not stored whole")
			}
		})
	}
}

// TestPipelineCountStoredAsREAL: an earlier increment could store a REAL in
// a SQLite subtask's items_complete (a sum past the largest integer), after
// which its run, its subtasks and the active runs answered 500. Opened by
// this version, the database's migration makes it an integer again: the
// largest count allowed, items_total when the subtask has one.
func TestPipelineCountStoredAsREAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tasks.db")
	// The database as the version before the repair left it.
	var before []tasktype.Migration
	for _, m := range sqlitestore.RegistryMigrations() {
		if m.Name == "pipeline/0002_integer_items" {
			break
		}
		before = append(before, m)
	}
	if len(before) == len(sqlitestore.RegistryMigrations()) {
		t.Fatal("no migration pipeline/0002_integer_items")
	}
	db, err := sqlite.Open(ctx, path, catalog.Migrations(sqlite.Engine), before)
	if err != nil {
		t.Fatal(err)
	}
	tr := pipeline.New(sqlitestore.New(db), pipeline.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err := tr.RegisterTask(ctx, pipeline.Task{Stage: "STATIC", Name: "Build"}); err != nil {
		t.Fatal(err)
	}
	run, err := tr.Start(ctx, "STATIC", "Build", pipeline.StartOptions{NoGitLookup: true})
	if err != nil {
		t.Fatal(err)
	}
	total := int64(50)
	for n, o := range []pipeline.SubtaskStart{{Name: "Unbounded"}, {Name: "Bounded", ItemsTotal: &total}} {
		if _, err := tr.StartSubtask(ctx, run.ID, int64(n+1), o); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.IncrementSubtask(ctx, run.ID, int64(n+1), 10); err != nil {
			t.Fatal(err)
		}
	}
	// What the earlier increment wrote: the sum past the largest integer,
	// which SQLite makes a REAL.
	if _, err := db.ExecContext(ctx, `UPDATE pipeline_subtask SET items_complete = items_complete + 9223372036854775800 WHERE run_id = ?`, run.ID.String()); err != nil {
		t.Fatal(err)
	}
	var reals int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pipeline_subtask WHERE typeof(items_complete) = 'real'`).Scan(&reals); err != nil || reals != 2 {
		t.Fatalf("%d REAL counts, %v; want 2", reals, err)
	}
	if _, err := tr.Run(ctx, run.ID); err == nil {
		if _, err := tr.Subtasks(ctx, run.ID); err == nil {
			t.Fatal("the subtasks read with a REAL count: the test does not reproduce the fault")
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	e := newEnv(t, "sqlite", envOptions{pipelines: true, sqlitePath: path})
	want := []float64{9223372036854775807, 50}
	id := "/pipelines/runs/" + run.ID.String()
	subs := e.must(200, "GET", id, "alice", "").json(t)["subtasks"].([]any)
	for i, s := range subs {
		if got := s.(map[string]any)["items_complete"]; got != want[i] {
			t.Errorf("subtask %d: items_complete %v, want %v", i+1, got, want[i])
		}
	}
	e.must(200, "GET", id+"/subtasks", "alice", "")
	active := e.must(200, "GET", "/pipelines/active", "alice", "")
	if !strings.Contains(string(active.body), run.ID.String()) {
		t.Errorf("active runs %s lack run %s", active.body, run.ID)
	}
	got, err := e.tracker.Subtasks(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ItemsComplete != math.MaxInt64 || got[1].ItemsComplete != 50 {
		t.Errorf("the tracker reads %d subtasks: %+v", len(got), got)
	}
	// The counts go on from there.
	e.must(400, "POST", id+"/subtasks/1/increment", "alice", `{"by":1}`)
	e.must(200, "POST", id+"/subtasks/2/update", "alice", `{"items_complete":49}`)
}

// TestPipelineUpdateFinished: updating a finished run or subtask is a 409
// saying what it needs, with the current status and no allowed action.
func TestPipelineUpdateFinished(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{pipelines: true})
			e.must(200, "POST", "/pipelines/stages", "alice", registerBody)
			id := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Build"}`).json(t)["id"].(string)
			run := "/pipelines/runs/" + id
			e.must(201, "POST", run+"/subtasks/1/start", "alice", `{"name":"Load"}`)
			e.must(200, "POST", run+"/subtasks/1/fail", "alice", `{"message":"broken"}`)
			done := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Index"}`).json(t)["id"].(string)
			e.must(200, "POST", "/pipelines/runs/"+done+"/complete", "alice", `{}`)
			for _, c := range []struct {
				name, path, body, detail, current, actions string
			}{
				{"update a failed subtask", run + "/subtasks/1/update", `{"message":"m"}`,
					"subtask 1 is FAILED: cannot update it; updates need STARTED or RUNNING", "FAILED", "[]"},
				{"increment a failed subtask", run + "/subtasks/1/increment", `{}`,
					"subtask 1 is FAILED: cannot increment it; increments need STARTED or RUNNING", "FAILED", "[]"},
				{"update a completed run", "/pipelines/runs/" + done + "/update", `{"percent":5}`,
					"run " + done + " is COMPLETED: cannot update it; updates need STARTED or RUNNING", "COMPLETED", "[]"},
				{"complete a completed run", "/pipelines/runs/" + done + "/complete", `{}`,
					"complete is not possible while it is COMPLETED", "COMPLETED", "[]"},
				{"complete a failed subtask", run + "/subtasks/1/complete", `{}`,
					"complete is not possible while it is FAILED", "FAILED", "[]"},
			} {
				t.Run(c.name, func(t *testing.T) {
					p := e.must(409, "POST", c.path, "alice", c.body).json(t)
					if p["detail"] != c.detail || p["current_status"] != c.current || fmt.Sprint(p["allowed_actions"]) != c.actions {
						t.Errorf("detail %q, current_status %v, allowed_actions %v\nwant %q, %s, %s", p["detail"], p["current_status"], p["allowed_actions"], c.detail, c.current, c.actions)
					}
				})
			}
		})
	}
}

// TestPipelineNamesWithSpaces: a stage, task or subtask name with leading
// or trailing space is a 400 naming the field on every engine, where
// MariaDB would otherwise take "TRAIL " for the registered "TRAIL".
func TestPipelineNamesWithSpaces(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{pipelines: true})
			stages := e.must(200, "POST", "/pipelines/stages", "alice", `{"stages":[{"name":"TRAIL","order":1}],"tasks":[{"stage":"TRAIL","name":"Job"}]}`).body
			id := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"TRAIL","task":"Job"}`).json(t)["id"].(string)
			for _, c := range []struct{ name, path, body, detail string }{
				{"register", "/pipelines/stages", `{"stages":[{"name":"TRAIL ","order":2}],"tasks":[{"stage":"TRAIL ","name":"Job "}]}`,
					"stages[0].name: must not begin or end with a space"},
				{"register a task", "/pipelines/stages", `{"tasks":[{"stage":"TRAIL","name":" Job"}]}`,
					"tasks[0].name: must not begin or end with a space"},
				{"start a run", "/pipelines/runs", `{"stage":"TRAIL ","task":"Job "}`, "stage: must not begin or end with a space"},
				{"start a run of a task with a space", "/pipelines/runs", `{"stage":"TRAIL","task":" Job"}`, "task: must not begin or end with a space"},
				{"start a subtask", "/pipelines/runs/" + id + "/subtasks/1/start", `{"name":"Load "}`, "name: must not begin or end with a space"},
			} {
				t.Run(c.name, func(t *testing.T) {
					if p := e.must(400, "POST", c.path, "alice", c.body).json(t); p["detail"] != c.detail {
						t.Errorf("detail %q\nwant %q", p["detail"], c.detail)
					}
				})
			}
			if after := e.must(200, "GET", "/pipelines/stages", "alice", "").body; string(after) != string(stages) {
				t.Errorf("stages after the refusals: %s\nwant %s", after, stages)
			}
		})
	}
}
