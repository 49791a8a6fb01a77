package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// taskStatusJSON is a task of taskmodel status --json.
type taskStatusJSON struct {
	Stage, Task, Status string
	Percent             float64
	Run                 *struct {
		ID       string `json:"id"`
		Hostname string `json:"hostname"`
	}
}

// callList GETs a route that answers a JSON array.
func (sv *serving) callList(t *testing.T, path, token string) (int, []map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", sv.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var out []map[string]any
	_ = json.Unmarshal(data, &out)
	return res.StatusCode, out
}

// TestServePipelines: taskmodel serve tracks pipelines on its own database.
// Stages the command line registered are the routes' stages; a run a script
// reports over HTTP, with its subtasks, is the run taskmodel status --json
// shows, at the same percent; a run the command line starts is one the
// routes list as active.
func TestServePipelines(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			s := newSandbox(t, eng.env(t)...)
			s.write("pipeline.yml", pipelineYAML)
			s.ok("pipeline", "register", "pipeline.yml")
			token := strings.TrimSpace(s.ok("token", "create", "--user", "ana", "-q"))
			sv := s.serve()
			code, run := sv.call(t, "POST", "/pipelines/runs", token, `{"stage":"STATIC","task":"Build Database","total_subtasks":2,"host":"node-7","pid":4242}`)
			if code != 201 || run["user"] != "ana" || run["log_filename"] != "build.log" {
				t.Fatalf("start: %d %v\n%s", code, run, sv.stderr)
			}
			id := run["id"].(string)
			for _, c := range []struct{ path, body string }{
				{"/subtasks/1/start", `{"name":"Load","items_total":4}`},
				{"/subtasks/1/increment", `{"by":3}`},
				{"/subtasks/2/start", `{"name":"Index"}`},
			} {
				if code, body := sv.call(t, "POST", "/pipelines/runs/"+id+c.path, token, c.body); code/100 != 2 {
					t.Fatalf("%s: %d %v", c.path, code, body)
				}
			}
			var status []taskStatusJSON
			s.json(&status, "status")
			var build *taskStatusJSON
			for i := range status {
				if status[i].Task == "Build Database" {
					build = &status[i]
				}
			}
			_, detail := sv.call(t, "GET", "/pipelines/runs/"+id, token, "")
			if build == nil || build.Run == nil || build.Run.ID != id || build.Status != "RUNNING" || build.Run.Hostname != "node-7" ||
				build.Percent != detail["percent"] || build.Percent != 37.5 {
				t.Fatalf("taskmodel status --json: %+v; the route: percent %v status %v", build, detail["percent"], detail["status"])
			}
			other := strings.TrimSpace(s.ok("run", "start", "PREREQ", "Install R"))
			code, active := sv.callList(t, "/pipelines/active", token)
			if code != 200 || !strings.Contains(fmt.Sprint(active), other) || !strings.Contains(fmt.Sprint(active), id) {
				t.Fatalf("active: %d %v", code, active)
			}
		})
	}
}
