package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/server"
)

// workerToken creates a worker token for models and returns its name in
// e.tokens.
func (e *env) workerToken(name string, models ...string) string {
	e.t.Helper()
	secret, tok, err := e.auth.CreateWorker(context.Background(), name, models)
	if err != nil {
		e.t.Fatal(err)
	}
	e.tokens[name], e.tokenIDs[name] = secret, tok.ID
	return name
}

// claimed is one task of a claim's answer.
type claimed struct {
	TaskType         string         `json:"task_type"`
	ID               string         `json:"id"`
	Lease            string         `json:"lease"`
	LeaseExpiresAt   time.Time      `json:"lease_expires_at"`
	HeartbeatSeconds int            `json:"heartbeat_seconds"`
	Traceparent      string         `json:"traceparent"`
	Task             map[string]any `json:"task"`
}

// claim claims as worker, expecting 200.
func (e *env) claim(worker, body string) []claimed {
	e.t.Helper()
	r := e.must(200, "POST", "/worker/claim", worker, body)
	var out struct {
		Tasks []claimed `json:"tasks"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		e.t.Fatalf("claim answer: %v\n%s", err, r.body)
	}
	return out.Tasks
}

// createOf makes a task of a model as alice and returns its id.
func (e *env) createOf(model, fields string) string {
	e.t.Helper()
	body := `{"task_type":"` + model + `"` + fields + `}`
	return e.must(201, "POST", "/tasks", "alice", body).json(e.t)["task_id"].(string)
}

// queueAnalysis makes an analysis task as alice and queues it (uploads its
// primary file and processes it).
func (e *env) queueAnalysis() string {
	e.t.Helper()
	id := e.create("alice")
	e.put(e.uploadURLs("alice", id)["primary"].(map[string]any), "text/csv", "x\n")
	e.must(200, "POST", "/tasks/"+id+"/process", "alice", "")
	return id
}

func leaseBody(lease string, more string) string {
	return `{"lease":"` + lease + `"` + more + `}`
}

// TestWorkerProtocol: a worker token claims, heartbeats, reports progress
// and completes or fails tasks of the background models and of analysis,
// with the history naming it, the attempt and the events a Go pool fires.
func TestWorkerProtocol(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			w := e.workerToken("gpu-box", "training", "dataset_upload", "analysis")
			tr := e.createOf("training", `,"tag":"t1"`)
			ds := e.createOf("dataset_upload", `,"dataset_name":"d"`)
			an := e.queueAnalysis()

			got := e.claim(w, `{"limit":10,"worker":"host-1"}`)
			if len(got) != 3 {
				t.Fatalf("claimed %d tasks, want 3: %+v", len(got), got)
			}
			byID := map[string]claimed{}
			for _, c := range got {
				byID[c.ID] = c
				want := map[string]string{"training": "RUNNING", "dataset_upload": "RUNNING", "analysis": "PROCESSING"}[c.TaskType]
				if c.Task["status"] != want || c.Task["task_id"] != c.ID || c.HeartbeatSeconds != 10 || c.LeaseExpiresAt.Before(time.Now()) || c.Lease == "" {
					t.Errorf("claimed %+v", c)
				}
			}
			if again := e.claim(w, `{}`); len(again) != 0 {
				t.Fatalf("a second claim got %d tasks; every task is claimed", len(again))
			}

			// Heartbeat; progress through the running status's mapping (the
			// whole 0–100 range for the background lifecycle).
			c := byID[tr]
			hb := e.must(200, "POST", "/worker/tasks/"+tr+"/heartbeat", w, leaseBody(c.Lease, "")).json(t)
			if hb["cancelled"] != false || hb["lease_expires_at"] == nil {
				t.Errorf("heartbeat: %v", hb)
			}
			pr := e.must(200, "POST", "/worker/tasks/"+tr+"/progress", w, leaseBody(c.Lease, `,"percent":40`)).json(t)
			if pr["recorded"] != true || pr["cancelled"] != false {
				t.Errorf("progress of training: %v", pr)
			}
			if got := e.must(200, "GET", "/tasks/"+tr, "alice", "").json(t); got["progress"] != float64(40) {
				t.Errorf("training's progress after 40%%: %v", got["progress"])
			}
			done := e.must(200, "POST", "/worker/tasks/"+tr+"/complete", w, leaseBody(c.Lease, "")).json(t)
			if done["status"] != "DONE" || done["end_date"] == nil {
				t.Errorf("complete: %v", done)
			}

			// A result field of the spec.
			c = byID[ds]
			done = e.must(200, "POST", "/worker/tasks/"+ds+"/complete", w, leaseBody(c.Lease, `,"result":{"records_processed":12}`)).json(t)
			if done["status"] != "DONE" || done["records_processed"] != float64(12) {
				t.Errorf("complete with a result: %v", done)
			}

			// Progress with the spec's mapping and detail; fail with a code.
			c = byID[an]
			pr = e.must(200, "POST", "/worker/tasks/"+an+"/progress", w, leaseBody(c.Lease, `,"percent":50,"detail":{"current_stage":"agent_execution","agents_total":2,"agents_completed":1}`)).json(t)
			if pr["recorded"] != true {
				t.Errorf("progress of analysis: %v", pr)
			}
			task := e.must(200, "GET", "/tasks/"+an, "alice", "").json(t)
			if task["progress"] != float64(55) || task["progress_detail"].(map[string]any)["agents_completed"] != float64(1) {
				t.Errorf("after progress 50: progress %v, detail %v", task["progress"], task["progress_detail"])
			}
			failed := e.must(200, "POST", "/worker/tasks/"+an+"/fail", w, leaseBody(c.Lease, `,"error_code":"AGENT_ERROR","message":"agent score-risk crashed"`)).json(t)
			if failed["status"] != "FAILED" || failed["error_code"] != "AGENT_ERROR" || failed["error_message"] != "agent score-risk crashed" {
				t.Errorf("fail: %v", failed)
			}

			// The history names the worker (token and name) and the attempt.
			var hist []map[string]any
			if err := json.Unmarshal(e.must(200, "GET", "/tasks/"+an+"/history", "alice", "").body, &hist); err != nil {
				t.Fatal(err)
			}
			owner := e.tokenIDs[w] + ":host-1"
			last2 := hist[len(hist)-2:]
			if last2[0]["event"] != "start" || last2[0]["actor"] != owner || last2[0]["attempt"] != float64(1) ||
				last2[1]["event"] != "fail" || last2[1]["actor"] != owner {
				t.Errorf("history: %v", last2)
			}
		})
	}
}

// TestWorkerEndRetried: a complete or fail retried with its lease after
// the first try was written (its answer lost: a dropped connection, a
// restart of the server) answers 200 with the task, as the first try did,
// and writes nothing more; the other end, or another lease's, is still
// refused.
func TestWorkerEndRetried(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			w := e.workerToken("gpu-box", "training")
			other := e.workerToken("cpu-box", "training")
			done, failed := e.createOf("training", `,"tag":"a"`), e.createOf("training", `,"tag":"b"`)
			leases := map[string]string{}
			for _, c := range e.claim(w, `{"limit":2}`) {
				leases[c.ID] = c.Lease
			}
			for _, tc := range []struct {
				name, id, path, body string
				status               int
				want                 string // the task's status, or the problem's type
			}{
				{"complete", done, "complete", leaseBody(leases[done], ""), 200, "DONE"},
				{"complete again", done, "complete", leaseBody(leases[done], ""), 200, "DONE"},
				{"fail after complete", done, "fail", leaseBody(leases[done], `,"message":"x"`), 409, "lease-lost"},
				{"fail", failed, "fail", leaseBody(leases[failed], `,"message":"bad input"`), 200, "FAILED"},
				{"fail again", failed, "fail", leaseBody(leases[failed], `,"message":"bad input"`), 200, "FAILED"},
				{"complete after fail", failed, "complete", leaseBody(leases[failed], ""), 409, "lease-lost"},
			} {
				r := e.do("POST", "/worker/tasks/"+tc.id+"/"+tc.path, w, tc.body)
				m := r.json(t)
				got, _ := m["status"].(string)
				if tc.status != 200 {
					got = strings.TrimPrefix(fmt.Sprint(m["type"]), server.ProblemTypeBase)
				}
				if r.status != tc.status || got != tc.want {
					t.Errorf("%s: %d %s, want %d %s\n%s", tc.name, r.status, got, tc.status, tc.want, r.body)
				}
			}
			// Another worker's token with the lease is refused.
			if r := e.do("POST", "/worker/tasks/"+done+"/complete", other, leaseBody(leases[done], "")); r.status != 409 {
				t.Errorf("another token's retry: %d\n%s", r.status, r.body)
			}
			for _, id := range []string{done, failed} {
				var hist []map[string]any
				if err := json.Unmarshal(e.must(200, "GET", "/tasks/"+id+"/history", "alice", "").body, &hist); err != nil {
					t.Fatal(err)
				}
				ends := 0
				for _, h := range hist {
					if h["event"] == "complete" || h["event"] == "fail" {
						ends++
					}
				}
				if ends != 1 {
					t.Errorf("task %s has %d end rows in its history, want 1: %v", id, ends, hist)
				}
			}
		})
	}
}

// TestWorkerBadInput: every refusal of the protocol is a 4xx
// problem+json naming the field (or the token's scope, or the lease), and
// the task is left as it was.
func TestWorkerBadInput(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			w := e.workerToken("w1", "training", "analysis")
			other := e.workerToken("w2", "training")
			e.workerToken("evals", "evaluation")
			tr := e.createOf("training", "")
			an := e.queueAnalysis()
			leases := map[string]string{}
			for _, c := range e.claim(w, `{"limit":2}`) {
				leases[c.ID] = c.Lease
			}
			if len(leases) != 2 {
				t.Fatalf("claimed %v", leases)
			}
			e.createOf("training", "") // queued, for the refused claims
			otherLease := e.claim(other, `{}`)[0].Lease

			cases := []struct {
				name, user, path, body string
				status                 int
				kind, field            string
			}{
				{"user token claims", "alice", "/worker/claim", `{}`, 403, "forbidden", ""},
				{"worker token lists tasks", w, "/tasks", ``, 403, "forbidden", ""},
				{"unknown model", w, "/worker/claim", `{"models":["nope"]}`, 400, "validation", "models[0]"},
				{"model without a worker section", w, "/worker/claim", `{"models":["stage"]}`, 400, "validation", "models[0]"},
				{"model outside the token", "evals", "/worker/claim", `{"models":["training"]}`, 403, "forbidden", ""},
				{"limit 0", w, "/worker/claim", `{"limit":0}`, 400, "validation", "limit"},
				{"limit 101", w, "/worker/claim", `{"limit":101}`, 400, "validation", "limit"},
				{"limit 1.0", w, "/worker/claim", `{"limit":1.0}`, 400, "validation", "limit"},
				{"limit 1e0", w, "/worker/claim", `{"limit":1e0}`, 400, "validation", "limit"},
				{"limit as text", w, "/worker/claim", `{"limit":"1"}`, 400, "validation", "limit"},
				{"wait_seconds 1.5", w, "/worker/claim", `{"wait_seconds":1.5}`, 400, "validation", "wait_seconds"},
				{"wait 31", w, "/worker/claim", `{"wait_seconds":31}`, 400, "validation", "wait_seconds"},
				{"bad worker name", w, "/worker/claim", `{"worker":"a b"}`, 400, "validation", "worker"},
				{"unknown claim field", w, "/worker/claim", `{"model":"training"}`, 400, "validation", "model"},
				{"malformed lease", w, "/worker/tasks/" + tr + "/heartbeat", `{"lease":"x"}`, 400, "validation", "lease"},
				{"no lease", w, "/worker/tasks/" + tr + "/complete", `{}`, 400, "validation", "lease"},
				{"bad id", w, "/worker/tasks/nope/heartbeat", leaseBody(leases[tr], ""), 400, "validation", "id"},
				{"another token's lease", other, "/worker/tasks/" + tr + "/complete", leaseBody(leases[tr], ""), 409, "lease-lost", ""},
				{"a lease of another task", w, "/worker/tasks/" + tr + "/complete", leaseBody(leases[an], ""), 409, "lease-lost", ""},
				{"another worker's lease for this task", other, "/worker/tasks/" + tr + "/complete", leaseBody(otherLease, ""), 409, "lease-lost", ""},
				{"progress 120", w, "/worker/tasks/" + an + "/progress", leaseBody(leases[an], `,"percent":120`), 400, "validation", "percent"},
				{"progress -1", w, "/worker/tasks/" + an + "/progress", leaseBody(leases[an], `,"percent":-1`), 400, "validation", "percent"},
				{"progress without percent", w, "/worker/tasks/" + an + "/progress", leaseBody(leases[an], ``), 400, "validation", "percent"},
				{"progress detail of the wrong shape", w, "/worker/tasks/" + an + "/progress", leaseBody(leases[an], `,"percent":10,"detail":{"agents_total":"two"}`), 400, "validation", "detail"},
				{"progress detail of a model without one", w, "/worker/tasks/" + tr + "/progress", leaseBody(leases[tr], `,"percent":10,"detail":{}`), 400, "validation", "detail"},
				{"error code not in the spec", w, "/worker/tasks/" + an + "/fail", leaseBody(leases[an], `,"error_code":"NOPE"`), 400, "validation", "error_code"},
				{"error code for a model without codes", w, "/worker/tasks/" + tr + "/fail", leaseBody(leases[tr], `,"error_code":"AGENT_ERROR"`), 400, "validation", "error_code"},
				{"result field not a result", w, "/worker/tasks/" + tr + "/complete", leaseBody(leases[tr], `,"result":{"tag":"x"}`), 400, "validation", "result.tag"},
				{"result not an object", w, "/worker/tasks/" + tr + "/complete", leaseBody(leases[tr], `,"result":[1]`), 400, "validation", "result"},
				{"claim with a query parameter", w, "/worker/claim?wait_seconds=30", `{}`, 400, "validation", "wait_seconds"},
				{"heartbeat with a query parameter", w, "/worker/tasks/" + tr + "/heartbeat?x=1", leaseBody(leases[tr], ""), 400, "validation", "x"},
				{"complete with a query parameter", w, "/worker/tasks/" + tr + "/complete?x=1", leaseBody(leases[tr], ""), 400, "validation", "x"},
			}
			before := map[string]map[string]any{}
			for _, id := range []string{tr, an} {
				before[id] = e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)
			}
			for _, tc := range cases {
				method := "POST"
				if tc.path == "/tasks" {
					method = "GET"
				}
				r := e.do(method, tc.path, tc.user, tc.body)
				p := map[string]any{}
				_ = json.Unmarshal(r.body, &p)
				if r.status != tc.status || r.header.Get("Content-Type") != "application/problem+json" || p["type"] != server.ProblemTypeBase+tc.kind {
					t.Errorf("%s: %d %s; want %d %s", tc.name, r.status, r.body, tc.status, tc.kind)
					continue
				}
				if tc.field != "" {
					errs, _ := p["errors"].([]any)
					if len(errs) == 0 || !strings.HasPrefix(errs[0].(map[string]any)["field"].(string), tc.field) || !strings.HasPrefix(p["detail"].(string), tc.field) {
						t.Errorf("%s: %s; want the field %s named", tc.name, r.body, tc.field)
					}
				}
			}
			for _, id := range []string{tr, an} {
				after := e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)
				if after["version"] != before[id]["version"] || after["status"] != before[id]["status"] {
					t.Errorf("task %s changed: %v → %v", id, before[id], after)
				}
			}
			// The unknown code's error lists the allowed ones.
			r := e.do("POST", "/worker/tasks/"+an+"/fail", w, leaseBody(leases[an], `,"error_code":"NOPE"`))
			if !strings.Contains(string(r.body), "AGENT_ERROR") {
				t.Errorf("unknown error code: %s; want the allowed codes listed", r.body)
			}
		})
	}
}

// TestWorkerRefusalsSayWhy: the protocol's refusals name the request's
// field and say what is true, on every backend, and change nothing.
func TestWorkerRefusalsSayWhy(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			w := e.workerToken("w1", "training", "analysis", "dataset_upload")
			tr := e.createOf("training", "")
			an := e.queueAnalysis()
			ev := e.createOf("evaluation", "")
			ds := e.createOf("dataset_upload", "")
			leases := map[string]string{}
			for _, c := range e.claim(w, `{"limit":3}`) {
				leases[c.ID] = c.Lease
			}
			// A percent stored before the refusals, which must keep it.
			e.must(200, "POST", "/worker/tasks/"+tr+"/progress", w, leaseBody(leases[tr], `,"percent":40`))
			cases := []struct {
				name, path, body string
				status           int
				detail           string
			}{
				{"NUL in a failure's message", "/worker/tasks/" + tr + "/fail", leaseBody(leases[tr], `,"message":"a\u0000b"`), 400,
					"message: contains a NUL character (U+0000); text may not contain it"},
				{"control character in an error code", "/worker/tasks/" + an + "/fail", leaseBody(leases[an], `,"error_code":"A\u0007"`), 400,
					"error_code: contains a control character (U+0007); only printable text is allowed"},
				{"empty error code, model without codes", "/worker/tasks/" + tr + "/fail", leaseBody(leases[tr], `,"error_code":""`), 400,
					"error_code: must not be empty: omit error_code for no code"},
				{"empty error code, model with codes", "/worker/tasks/" + an + "/fail", leaseBody(leases[an], `,"error_code":""`), 400,
					"error_code: must not be empty: omit error_code for no code"},
				{"null for a required field of the progress detail", "/worker/tasks/" + an + "/progress",
					leaseBody(leases[an], `,"percent":10,"detail":{"current_stage":null,"agents_total":2,"agents_completed":1}`), 400,
					"detail.current_stage: is required"},
				{"null for a required count of the progress detail", "/worker/tasks/" + an + "/progress",
					leaseBody(leases[an], `,"percent":10,"detail":{"current_stage":"agent_execution","agents_total":null,"agents_completed":1}`), 400,
					"detail.agents_total: is required"},
				{"more agents completed than there are", "/worker/tasks/" + an + "/progress",
					leaseBody(leases[an], `,"percent":10,"detail":{"current_stage":"agent_execution","agents_total":2,"agents_completed":3}`), 400,
					"detail.agents_completed: must be ≤ agents_total (got 3)"},
				{"null percent", "/worker/tasks/" + tr + "/progress", leaseBody(leases[tr], `,"percent":null`), 400,
					"percent: is required: a number between 0 and 100"},
				{"percent as a string", "/worker/tasks/" + tr + "/progress", leaseBody(leases[tr], `,"percent":"40"`), 400,
					"percent: must be a number between 0 and 100, not a string"},
				{"percent as a boolean", "/worker/tasks/" + tr + "/progress", leaseBody(leases[tr], `,"percent":true`), 400,
					"percent: must be a number between 0 and 100, not a boolean"},
				{"percent past 100", "/worker/tasks/" + tr + "/progress", leaseBody(leases[tr], `,"percent":100.5`), 400,
					"percent: must be between 0 and 100 (got 100.5)"},
				{"a count of the progress detail past the largest integer", "/worker/tasks/" + an + "/progress",
					leaseBody(leases[an], `,"percent":10,"detail":{"current_stage":"agent_execution","agents_total":9223372036854775808,"agents_completed":1}`), 400,
					"detail.agents_total: must be at most 9223372036854775807 (got 9223372036854775808)"},
				{"null for a result count", "/worker/tasks/" + ds + "/complete", leaseBody(leases[ds], `,"result":{"records_processed":null}`), 400,
					"result.records_processed: must be an integer, not null"},
				{"a result count past the largest integer", "/worker/tasks/" + ds + "/complete", leaseBody(leases[ds], `,"result":{"records_processed":99999999999999999999999}`), 400,
					"result.records_processed: must be at most 9223372036854775807 (got 99999999999999999999999)"},
				{"a result count below its bound", "/worker/tasks/" + ds + "/complete", leaseBody(leases[ds], `,"result":{"records_processed":-99999999999999999999999}`), 400,
					"result.records_processed: must be ≥ 0 (got -99999999999999999999999)"},
				{"a result field twice", "/worker/tasks/" + ds + "/complete", leaseBody(leases[ds], `,"result":{"records_processed":1,"records_processed":2}`), 400,
					"result.records_processed: appears twice in the object"},
				{"a result that is not an object", "/worker/tasks/" + ds + "/complete", leaseBody(leases[ds], `,"result":[1]`), 400,
					"result: must be a JSON object of result fields"},
				{"a lease sent with a task of another model", "/worker/tasks/" + ev + "/complete", leaseBody(leases[tr], ""), 409,
					"the lease was claimed with task " + tr + ", not " + ev + ": send each task's own lease"},
				{"a lease's progress sent with a task of another model", "/worker/tasks/" + ev + "/progress", leaseBody(leases[an], `,"percent":5`), 409,
					"the lease was claimed with task " + an + ", not " + ev + ": send each task's own lease"},
				// A lease of a server before the task id was in it: the
				// database finds no task of its model with this id.
				{"a lease before v2 sent with a task of another model", "/worker/tasks/" + ev + "/complete", leaseBody("v1.training."+strings.SplitN(leases[tr], ".", 4)[3], ""), 409,
					"no task of model training, the model of this lease, has this id: a lease holds only the task it was claimed with"},
			}
			before := map[string]any{}
			for _, id := range []string{tr, an, ev, ds} {
				before[id] = e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)["version"]
			}
			for _, c := range cases {
				r := e.do("POST", c.path, w, c.body)
				if r.status != c.status || r.header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s: %d %s", c.name, r.status, r.body)
					continue
				}
				if p := r.json(t); p["detail"] != c.detail {
					t.Errorf("%s: detail\n got %q\nwant %q", c.name, p["detail"], c.detail)
				}
			}
			for _, id := range []string{tr, an, ev, ds} {
				if v := e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)["version"]; v != before[id] {
					t.Errorf("task %s: version %v, was %v", id, v, before[id])
				}
			}
			if p := e.must(200, "GET", "/tasks/"+tr, "alice", "").json(t)["progress"]; p != float64(40) {
				t.Errorf("training's progress after the refused reports: %v, want 40", p)
			}
		})
	}
}

// TestWorkerCancel: a task cancelled while a worker runs it answers the
// worker's heartbeat and progress with cancelled, and refuses its
// complete with 409 and the current status.
func TestWorkerCancel(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			w := e.workerToken("w", "evaluation")
			id := e.createOf("evaluation", "")
			c := e.claim(w, `{}`)[0]
			e.must(200, "POST", "/tasks/"+id+"/cancel", "alice", "")
			for _, route := range []string{"heartbeat", "progress"} {
				st := e.must(200, "POST", "/worker/tasks/"+id+"/"+route, w, leaseBody(c.Lease, map[string]string{"progress": `,"percent":1`}[route])).json(t)
				if st["cancelled"] != true || st["lease_expires_at"] != nil {
					t.Errorf("%s after cancel: %v", route, st)
				}
			}
			p := e.must(409, "POST", "/worker/tasks/"+id+"/complete", w, leaseBody(c.Lease, "")).json(t)
			if p["current_status"] != "CANCELLED" {
				t.Errorf("complete after cancel: %v", p)
			}
		})
	}
}

// TestWorkerLongPoll: a claim that waits returns the task created while
// it waits, and one that waits in vain returns an empty list.
func TestWorkerLongPoll(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			w := e.workerToken("w", "synthesis")
			if got := e.claim(w, `{"wait_seconds":1}`); len(got) != 0 {
				t.Fatalf("claimed %v from an empty queue", got)
			}
			res := make(chan []claimed, 1)
			go func() { res <- e.claim(w, `{"wait_seconds":30}`) }()
			time.Sleep(100 * time.Millisecond)
			id := e.createOf("synthesis", "")
			got := <-res
			if len(got) != 1 || got[0].ID != id {
				t.Fatalf("the waiting claim got %+v, want task %s", got, id)
			}

			// A waiting claim whose client went away ends: a task created
			// afterwards stays queued.
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "POST", e.url+"/worker/claim", strings.NewReader(`{"wait_seconds":30}`))
			req.Header.Set("Authorization", "Bearer "+e.tokens[w])
			gone := make(chan struct{})
			go func() {
				defer close(gone)
				if res, err := http.DefaultClient.Do(req); err == nil {
					res.Body.Close()
				}
			}()
			time.Sleep(100 * time.Millisecond)
			cancel()
			<-gone
			time.Sleep(100 * time.Millisecond)
			late := e.createOf("synthesis", "")
			time.Sleep(300 * time.Millisecond)
			if st := e.must(200, "GET", "/tasks/"+late, "alice", "").json(t)["status"]; st != "QUEUED" {
				t.Errorf("a task created after the waiting client left is %v: the abandoned claim took it", st)
			}
		})
	}
}

// TestWorkerLostLease: a worker that stops heartbeating loses its task
// when the lease expires: the server rescues it (requeued, as a Go pool's
// rescue does), another worker claims it (attempt 2), and the first
// worker's heartbeat, progress and complete are refused with lease-lost,
// so the task never runs under two live leases.
func TestWorkerLostLease(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			clk := &clock{t: time.Now().UTC()}
			e := newEnv(t, b, envOptions{clock: clk, rescue: 20 * time.Millisecond})
			w := e.workerToken("w", "training")
			id := e.createOf("training", "")
			first := e.claim(w, `{"worker":"a"}`)[0]
			// Before the lease expires, another worker gets nothing.
			if got := e.claim(w, `{"worker":"b"}`); len(got) != 0 {
				t.Fatalf("claimed a leased task: %+v", got)
			}
			clk.Add(31 * time.Second) // the lease (30 s) expires
			deadline := time.Now().Add(10 * time.Second)
			for e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)["status"] != "QUEUED" {
				if time.Now().After(deadline) {
					t.Fatal("the task was never rescued")
				}
				time.Sleep(10 * time.Millisecond)
			}
			// A task requeued behind the claim position is found within a
			// second (worker.Leases claims from the head once a second).
			second := e.claim(w, `{"worker":"b","wait_seconds":5}`)
			if len(second) != 1 || second[0].ID != id || second[0].Lease == first.Lease {
				t.Fatalf("second claim: %+v", second)
			}
			for _, route := range []string{"heartbeat", "progress", "complete", "fail"} {
				p := e.must(409, "POST", "/worker/tasks/"+id+"/"+route, w, leaseBody(first.Lease, map[string]string{"progress": `,"percent":5`}[route])).json(t)
				if p["type"] != server.ProblemTypeBase+"lease-lost" {
					t.Errorf("%s with the lost lease: %v", route, p)
				}
			}
			done := e.must(200, "POST", "/worker/tasks/"+id+"/complete", w, leaseBody(second[0].Lease, "")).json(t)
			if done["status"] != "DONE" {
				t.Fatalf("complete by the new holder: %v", done)
			}
			var hist []map[string]any
			_ = json.Unmarshal(e.must(200, "GET", "/tasks/"+id+"/history", "alice", "").body, &hist)
			var events []string
			for _, h := range hist[1:] {
				events = append(events, fmt.Sprintf("%s/%v", h["event"], h["attempt"]))
			}
			if got := strings.Join(events, " "); got != "start/1 requeue/1 start/2 complete/2" {
				t.Errorf("history: %s", got)
			}
		})
	}
}

// TestWorkerClaimsOnce: many workers claiming at once each get distinct
// tasks: no task is claimed twice.
func TestWorkerClaimsOnce(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			w := e.workerToken("w", "training")
			const n = 40
			for range n {
				e.createOf("training", "")
			}
			var mu sync.Mutex
			seen := map[string]int{}
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					for {
						r := e.do("POST", "/worker/claim", w, fmt.Sprintf(`{"limit":3,"worker":"w%d"}`, i))
						if r.status != http.StatusOK {
							t.Errorf("claim: %d %s", r.status, r.body)
							return
						}
						var out struct{ Tasks []claimed }
						_ = json.Unmarshal(r.body, &out)
						if len(out.Tasks) == 0 {
							return
						}
						mu.Lock()
						for _, c := range out.Tasks {
							seen[c.ID]++
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(seen) != n {
				t.Errorf("%d tasks claimed, want %d", len(seen), n)
			}
			for id, k := range seen {
				if k != 1 {
					t.Errorf("task %s claimed %d times", id, k)
				}
			}
		})
	}
}

// TestWorkerClaimModelNames: each item of a claim's models is a model's
// name, a string: anything else says so rather than "unknown model".
func TestWorkerClaimModelNames(t *testing.T) {
	e := newEnv(t, "memory", envOptions{})
	w := e.workerToken("gpu-box", "training")
	for _, c := range []struct{ name, body, detail string }{
		{"null", `{"models":[null]}`, `models[0]: must be a model name (a string), not null`},
		{"a number", `{"models":["training",3]}`, `models[1]: must be a model name (a string), not 3`},
		{"an object", `{"models":[{"name":"training"}]}`, `models[0]: must be a model name (a string), not {"name":"training"}`},
		{"an unknown name", `{"models":["nope"]}`, `models[0]: unknown model "nope"; models with a worker section: analysis, dataset_upload, evaluation, model_upload, synthesis, training`},
		{"a model without a worker section", `{"models":["training","stage"]}`, `models[1]: model "stage" has no worker section (no worker claims its tasks); models with one: analysis, dataset_upload, evaluation, model_upload, synthesis, training`},
		{"not a list", `{"models":"training"}`, `models: must be a list of 1 to 100 model names`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if p := e.must(400, "POST", "/worker/claim", w, c.body).json(t); p["detail"] != c.detail {
				t.Errorf("detail %q\nwant %q", p["detail"], c.detail)
			}
		})
	}
}

// TestWorkerFailMessageCut: a failure message longer than the model's
// error field keeps its start and its end (a command's last line of
// standard error), cut in the middle; the history row keeps it whole up to
// backends.MaxHistoryText bytes (MySQL's TEXT column), and its start and
// end beyond (a message the API takes, up to 100,000 bytes, was a 500 on
// MySQL).
func TestWorkerFailMessageCut(t *testing.T) {
	const head = "the command exited with status 1; standard error ends with:\n"
	for _, b := range backendNames {
		for _, lines := range []int{230, 11_000} {
			t.Run(fmt.Sprintf("%s/%d lines", b, lines), func(t *testing.T) {
				e := newEnv(t, b, envOptions{})
				w := e.workerToken("gpu-box", "analysis")
				an := e.queueAnalysis()
				c := e.claim(w, `{}`)
				if len(c) != 1 {
					t.Fatalf("claimed %d tasks", len(c))
				}
				msg := head + strings.Repeat("log line\n", lines) + "ValueError: bad row 7"
				body, _ := json.Marshal(map[string]string{"lease": c[0].Lease, "message": msg})
				failed := e.must(200, "POST", "/worker/tasks/"+an+"/fail", w, string(body)).json(t)
				got, _ := failed["error_message"].(string)
				if n := utf8.RuneCountInString(got); n != 2000 || !strings.HasPrefix(got, head) ||
					!strings.HasSuffix(got, "log line\nValueError: bad row 7") || !strings.Contains(got, " … ") {
					t.Errorf("error_message (%d characters): %q…%q", n, got[:min(len(got), 60)], got[max(0, len(got)-60):])
				}
				var hist []map[string]any
				if err := json.Unmarshal(e.must(200, "GET", "/tasks/"+an+"/history", "alice", "").body, &hist); err != nil {
					t.Fatal(err)
				}
				stored, _ := hist[len(hist)-1]["message"].(string)
				if len(msg) <= backends.MaxHistoryText && stored != msg ||
					len(msg) > backends.MaxHistoryText && (len(stored) > backends.MaxHistoryText || !strings.HasPrefix(stored, head) || !strings.HasSuffix(stored, "log line\nValueError: bad row 7")) {
					t.Errorf("history's message (%d bytes, sent %d): %.80q…", len(stored), len(msg), stored)
				}
			})
		}
	}
}

// TestLeaseExpiresAtMicroseconds: the lease_expires_at of a claim, a
// heartbeat and a progress report is in microseconds, as the databases
// store it (heartbeat and progress answered nanoseconds).
func TestLeaseExpiresAtMicroseconds(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			w := e.workerToken("gpu-box", "training")
			id := e.createOf("training", "")
			var claim struct {
				Tasks []struct {
					Lease          string `json:"lease"`
					LeaseExpiresAt string `json:"lease_expires_at"`
				} `json:"tasks"`
			}
			if err := json.Unmarshal(e.must(200, "POST", "/worker/claim", w, `{}`).body, &claim); err != nil || len(claim.Tasks) != 1 {
				t.Fatalf("claim: %v %+v", err, claim)
			}
			lease := claim.Tasks[0].Lease
			for _, c := range []struct {
				name, got string
			}{
				{"claim", claim.Tasks[0].LeaseExpiresAt},
				{"heartbeat", e.must(200, "POST", "/worker/tasks/"+id+"/heartbeat", w, leaseBody(lease, "")).json(t)["lease_expires_at"].(string)},
				{"progress", e.must(200, "POST", "/worker/tasks/"+id+"/progress", w, leaseBody(lease, `,"percent":10`)).json(t)["lease_expires_at"].(string)},
			} {
				at, err := time.Parse(time.RFC3339Nano, c.got)
				if err != nil || !at.Equal(at.Truncate(time.Microsecond)) || !strings.HasSuffix(c.got, "Z") {
					t.Errorf("%s: lease_expires_at %q is not UTC in microseconds (%v)", c.name, c.got, err)
				}
			}
		})
	}
}
