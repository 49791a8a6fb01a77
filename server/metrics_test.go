package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metricValue returns the value of the /metrics line that starts with
// series (name and labels, as the text format writes them), and false when
// there is none.
func metricValue(t *testing.T, text, series string) (float64, bool) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f, true
		}
	}
	return 0, false
}

// TestWorkerProtocolMetrics: claims and ends through the HTTP worker
// protocol are observed like a pool's: pickup latency, time in status,
// handler duration and failures by code, with the durations the engine's
// clock made; the queue's oldest age is read from the database.
func TestWorkerProtocolMetrics(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			// The engines' clock is an hour behind: the queue's head
			// entered it an hour ago, as far as the scrape can tell.
			c := &clock{t: time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)}
			e := newEnv(t, b, envOptions{clock: c})
			w := e.workerToken("gpu-box", "training")
			e.createOf("training", `,"tag":"a"`)
			e.createOf("training", `,"tag":"b"`)
			if b != "memory" {
				m := string(e.must(200, "GET", "/metrics", "", "").body)
				age, ok := metricValue(t, m, `taskmodel_queue_oldest_age_seconds{model="training"}`)
				if !ok || age < 3600 || age > 2*3600 {
					t.Errorf("training's oldest queued age %v (present %v); want about an hour", age, ok)
				}
				if age, ok := metricValue(t, m, `taskmodel_queue_oldest_age_seconds{model="evaluation"}`); !ok || age != 0 {
					t.Errorf("evaluation's empty queue: age %v (present %v); want 0", age, ok)
				}
			}
			c.Add(4 * time.Second)
			got := e.claim(w, `{"limit":2}`)
			if len(got) != 2 {
				t.Fatalf("claimed %d tasks", len(got))
			}
			c.Add(3 * time.Second)
			e.must(200, "POST", "/worker/tasks/"+got[0].ID+"/complete", w, leaseBody(got[0].Lease, ""))
			c.Add(2 * time.Second)
			e.must(200, "POST", "/worker/tasks/"+got[1].ID+"/fail", w, leaseBody(got[1].Lease, `,"message":"loss is NaN"`))
			m := string(e.must(200, "GET", "/metrics", "", "").body)
			for series, want := range map[string]float64{
				`taskmodel_pickup_latency_seconds_count{model="training"}`:                         2,
				`taskmodel_pickup_latency_seconds_sum{model="training"}`:                           8,
				`taskmodel_time_in_status_seconds_sum{model="training",status="QUEUED"}`:           8,
				`taskmodel_time_in_status_seconds_sum{model="training",status="RUNNING"}`:          8,
				`taskmodel_handler_duration_seconds_sum{model="training",outcome="completed"}`:     3,
				`taskmodel_handler_duration_seconds_sum{model="training",outcome="failed"}`:        5,
				`taskmodel_handler_failures_total{code="",model="training"}`:                       1,
				`taskmodel_time_in_status_seconds_count{model="evaluation",status="QUEUED"}`:       0,
				`taskmodel_handler_duration_seconds_count{model="evaluation",outcome="completed"}`: 0,
			} {
				if v, ok := metricValue(t, m, series); !ok || v != want {
					t.Errorf("%s = %v (present %v); want %v", series, v, ok, want)
				}
			}
		})
	}
}

// TestPipelineMetrics: the status changes of pipeline runs and subtasks
// reported over /pipelines are counted in the lifecycle metrics like any
// model's: transitions, time in status (by the tracker's clock) and the
// duration of a finished run.
func TestPipelineMetrics(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			c := &clock{t: time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)}
			// rescue: the server's background work, which feeds the
			// transitions counter, runs.
			e := newEnv(t, b, envOptions{clock: c, pipelines: true, rescue: time.Hour})
			e.must(200, "POST", "/pipelines/stages", "alice", registerBody)
			// The background work subscribes to the changes as it starts:
			// start runs of another task until one is counted, and count
			// from there.
			started := `taskmodel_transitions_total{event="start",task_type="pipeline_run",to="STARTED"}`
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"PREREQ","task":"Fetch"}`)
				if _, ok := metricValue(t, string(e.must(200, "GET", "/metrics", "", "").body), started); ok || time.Now().After(deadline) {
					break
				}
			}
			before := string(e.must(200, "GET", "/metrics", "", "").body)
			id := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Build","total_subtasks":1}`).json(t)["id"].(string)
			run := "/pipelines/runs/" + id
			c.Add(2 * time.Second)
			e.must(201, "POST", run+"/subtasks/1/start", "alice", `{"name":"Load","items_total":2}`)
			c.Add(3 * time.Second)
			e.must(200, "POST", run+"/subtasks/1/update", "alice", `{"message":"loading"}`)
			c.Add(4 * time.Second)
			e.must(200, "POST", run+"/subtasks/1/complete", "alice", `{}`)
			c.Add(5 * time.Second)
			e.must(200, "POST", run+"/complete", "alice", `{"message":"done"}`)
			want := []struct {
				series string
				value  float64
			}{
				{`taskmodel_transitions_total{event="start",task_type="pipeline_run",to="STARTED"}`, 1},
				{`taskmodel_transitions_total{event="run",task_type="pipeline_run",to="RUNNING"}`, 1},
				{`taskmodel_transitions_total{event="complete",task_type="pipeline_run",to="COMPLETED"}`, 1},
				{`taskmodel_transitions_total{event="start",task_type="pipeline_subtask",to="STARTED"}`, 1},
				{`taskmodel_transitions_total{event="run",task_type="pipeline_subtask",to="RUNNING"}`, 1},
				{`taskmodel_transitions_total{event="complete",task_type="pipeline_subtask",to="COMPLETED"}`, 1},
				{`taskmodel_time_in_status_seconds_count{model="pipeline_run",status="NOT_STARTED"}`, 1},
				{`taskmodel_time_in_status_seconds_count{model="pipeline_run",status="STARTED"}`, 1},
				{`taskmodel_time_in_status_seconds_sum{model="pipeline_run",status="STARTED"}`, 2},
				{`taskmodel_time_in_status_seconds_count{model="pipeline_run",status="RUNNING"}`, 1},
				{`taskmodel_time_in_status_seconds_sum{model="pipeline_run",status="RUNNING"}`, 12},
				{`taskmodel_time_in_status_seconds_count{model="pipeline_subtask",status="STARTED"}`, 1},
				{`taskmodel_time_in_status_seconds_sum{model="pipeline_subtask",status="STARTED"}`, 3},
				{`taskmodel_time_in_status_seconds_count{model="pipeline_subtask",status="RUNNING"}`, 1},
				{`taskmodel_time_in_status_seconds_sum{model="pipeline_subtask",status="RUNNING"}`, 4},
				{`taskmodel_task_duration_seconds_count{status="COMPLETED",task_type="pipeline_run"}`, 1},
				{`taskmodel_task_duration_seconds_sum{status="COMPLETED",task_type="pipeline_run"}`, 14},
			}
			// The transitions are counted as the server's background work
			// reads them: wait for the last one.
			var m string
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				m = string(e.must(200, "GET", "/metrics", "", "").body)
				if v, _ := metricValue(t, m, want[len(want)-2].series); v >= 1 || time.Now().After(deadline) {
					break
				}
			}
			for _, w := range want {
				base, _ := metricValue(t, before, w.series)
				if v, ok := metricValue(t, m, w.series); !ok || v-base != w.value {
					t.Errorf("%s = %v (present %v), %v before; want %v more", w.series, v, ok, base, w.value)
				}
			}
		})
	}
}

// TestMetricsSeries: every status of every model has a taskmodel_tasks
// series, 0 when it holds no task (an empty queue is a depth of 0), on the
// databases; a route's label is its path as a request sees it, without a
// pattern's method or {$}.
func TestMetricsSeries(t *testing.T) {
	for _, b := range sqlBackends {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
			e.srv.Mount("GET /{$}", ok)
			e.srv.Mount("POST /hooks/{$}", ok)
			e.srv.Mount("/ui-test/", ok)
			e.createOf("training", `,"tag":"a"`)
			e.must(204, "GET", "/", "", "")
			e.must(204, "POST", "/hooks/", "", "")
			e.must(204, "GET", "/ui-test/page", "", "")
			m := string(e.must(200, "GET", "/metrics", "", "").body)
			for _, c := range []struct {
				series string
				want   float64
			}{
				{`taskmodel_tasks{status="QUEUED",task_type="training"}`, 1},
				{`taskmodel_tasks{status="QUEUED",task_type="evaluation"}`, 0},
				{`taskmodel_tasks{status="RUNNING",task_type="training"}`, 0},
				{`taskmodel_tasks{status="DONE",task_type="training"}`, 0},
				{`taskmodel_tasks{status="CREATED",task_type="analysis"}`, 0},
				{`taskmodel_http_requests_total{code="204",method="GET",route="/"}`, 1},
				{`taskmodel_http_requests_total{code="204",method="POST",route="/hooks/"}`, 1},
				{`taskmodel_http_requests_total{code="204",method="GET",route="/ui-test/"}`, 1},
			} {
				if v, ok := metricValue(t, m, c.series); !ok || v != c.want {
					t.Errorf("%s = %v (present %v); want %v", c.series, v, ok, c.want)
				}
			}
			for _, line := range strings.Split(m, "\n") {
				if strings.Contains(line, "{$}") || strings.Contains(line, `route="GET `) || strings.Contains(line, `route="POST `) {
					t.Errorf("a route label holds a pattern's method or {$}: %s", line)
				}
			}
		})
	}
}

// TestMetricsRequests: /metrics answers GET and HEAD; another method is a
// 405 with Allow and a malformed query string a 400 naming query, as on
// every other route.
func TestMetricsRequests(t *testing.T) {
	e := newEnv(t, "memory", envOptions{})
	cases := []struct {
		name, method, path string
		status             int
		kind, field        string
	}{
		{"GET", "GET", "/metrics", 200, "", ""},
		{"HEAD", "HEAD", "/metrics", 200, "", ""},
		{"a well-formed query", "GET", "/metrics?x=1", 200, "", ""},
		{"POST", "POST", "/metrics", 405, "method", ""},
		{"DELETE", "DELETE", "/metrics", 405, "method", ""},
		{"PUT", "PUT", "/metrics", 405, "method", ""},
		{"an unknown method", "BREW", "/metrics", 405, "method", ""},
		{"malformed escape", "GET", "/metrics?x=%zz", 400, "validation", "query"},
		{"NUL in a value", "GET", "/metrics?a=%00", 400, "validation", "a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, "", "")
			if c.status == 200 {
				if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
					t.Fatalf("status %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
				}
				return
			}
			checkProblem(t, r, c.status, c.kind, c.field)
			if c.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}
