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

	"github.com/taskmodel/taskmodel/server"
)

// historyOf returns a task's history, as alice.
func (e *env) historyOf(id string) []map[string]any {
	e.t.Helper()
	var hist []map[string]any
	if err := json.Unmarshal(e.must(200, "GET", "/tasks/"+id+"/history", "alice", "").body, &hist); err != nil {
		e.t.Fatal(err)
	}
	return hist
}

// events lists a history's rows after the creation as event/attempt.
func events(hist []map[string]any) string {
	var out []string
	for _, h := range hist[1:] {
		out = append(out, fmt.Sprintf("%s/%v", h["event"], h["attempt"]))
	}
	return strings.Join(out, " ")
}

// TestWorkerRelease: a worker gives back a task it claimed: the task is
// queued at once with the requeue event (history: the worker, "released
// by … (attempt 1, not counted)" and its message), another worker claims
// it right away, and the released claims are not counted as attempts: a
// task released more times than max_attempts still has all its attempts
// when its worker is lost afterwards.
func TestWorkerRelease(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			clk := &clock{t: time.Now().UTC()}
			e := newEnv(t, b, envOptions{clock: clk, rescue: 20 * time.Millisecond})
			w := e.workerToken("w", "training")
			id := e.createOf("training", "")

			first := e.claim(w, `{"worker":"a"}`)[0]
			got := e.must(200, "POST", "/worker/tasks/"+id+"/release", w, leaseBody(first.Lease, `,"message":"no GPU free on this host"`)).json(t)
			if got["status"] != "QUEUED" || got["task_id"] != id {
				t.Fatalf("release answered %v, want the task QUEUED", got)
			}
			hist := e.historyOf(id)
			last := hist[len(hist)-1]
			owner := e.tokenIDs[w] + ":a"
			if last["event"] != "requeue" || last["from_status"] != "RUNNING" || last["to_status"] != "QUEUED" || last["actor"] != owner || last["attempt"] != float64(1) ||
				last["message"] != "released by "+owner+" (attempt 1, not counted): no GPU free on this host" {
				t.Errorf("the release's history row: %v", last)
			}

			// Claimable at once: no lease holds it (the clock has not moved).
			second := e.claim(w, `{"worker":"b"}`)
			if len(second) != 1 || second[0].ID != id || second[0].Lease == first.Lease {
				t.Fatalf("the claim after the release got %+v, want the task under a new lease", second)
			}

			// Released twice more (three releases, max_attempts 3), without
			// a message: each claim is claimable at once.
			lease := second[0].Lease
			for i := range 2 {
				e.must(200, "POST", "/worker/tasks/"+id+"/release", w, leaseBody(lease, ""))
				c := e.claim(w, `{"worker":"b"}`)
				if len(c) != 1 {
					t.Fatalf("claim %d after a release: %+v", i+3, c)
				}
				lease = c[0].Lease
			}
			if got := e.historyOf(id)[len(e.historyOf(id))-2]["message"]; got != "released by "+e.tokenIDs[w]+":b (attempt 3, not counted)" {
				t.Errorf("a release without a message: history %q", got)
			}

			// The fourth claim's worker is lost: the rescue requeues the
			// task (its first counted attempt of three), it does not fail it.
			clk.Add(31 * time.Second)
			deadline := time.Now().Add(10 * time.Second)
			for e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)["status"] != "QUEUED" {
				if time.Now().After(deadline) {
					t.Fatalf("the task was never rescued; it is %v", e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)["status"])
				}
				time.Sleep(10 * time.Millisecond)
			}
			hist = e.historyOf(id)
			if msg, _ := hist[len(hist)-1]["message"].(string); !strings.Contains(msg, "attempt 1 of 3; 3 released claim(s) not counted") || !strings.HasSuffix(msg, "requeued") {
				t.Errorf("the rescue's history row: %q", msg)
			}
			last5 := e.claim(w, `{"worker":"c","wait_seconds":5}`)
			if len(last5) != 1 {
				t.Fatalf("claim after the rescue: %+v", last5)
			}
			done := e.must(200, "POST", "/worker/tasks/"+id+"/complete", w, leaseBody(last5[0].Lease, "")).json(t)
			if done["status"] != "DONE" {
				t.Fatalf("complete: %v", done)
			}
			if got := events(e.historyOf(id)); got != "start/1 requeue/1 start/2 requeue/2 start/3 requeue/3 start/4 requeue/4 start/5 complete/5" {
				t.Errorf("history: %s", got)
			}
		})
	}
}

// TestWorkerReleaseWakesWaitingClaim: a claim waiting on the server gets
// a released task at once, well before its poll would look again.
func TestWorkerReleaseWakesWaitingClaim(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{claimPoll: 10 * time.Second})
			w := e.workerToken("w", "training")
			id := e.createOf("training", "")
			c := e.claim(w, `{"worker":"a"}`)[0]
			res := make(chan []claimed, 1)
			go func() { res <- e.claim(w, `{"worker":"b","wait_seconds":20}`) }()
			time.Sleep(200 * time.Millisecond) // the claim waits
			start := time.Now()
			e.must(200, "POST", "/worker/tasks/"+id+"/release", w, leaseBody(c.Lease, ""))
			select {
			case got := <-res:
				if len(got) != 1 || got[0].ID != id {
					t.Fatalf("the waiting claim got %+v, want %s", got, id)
				}
				if d := time.Since(start); d > 3*time.Second {
					t.Errorf("the waiting claim got the released task after %v", d)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("the waiting claim never got the released task")
			}
		})
	}
}

// TestWorkerReleaseRefusals: a release that cannot be made is a 4xx
// problem+json saying why (the field, or the lease, or the task's state),
// never a 500, and changes nothing: a second release with the same lease,
// a stale lease, another token's, an ended or cancelled task, a model
// without a requeue event, and bad bodies.
func TestWorkerReleaseRefusals(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			clk := &clock{t: time.Now().UTC()}
			e := newEnv(t, b, envOptions{clock: clk, rescue: 20 * time.Millisecond})
			w := e.workerToken("w1", "training", "analysis", "evaluation")
			other := e.workerToken("w2", "training")

			// lost: its lease expired and the task was claimed again.
			lost := e.createOf("training", "")
			ll := e.claim(w, `{"models":["training"]}`)[0].Lease
			clk.Add(31 * time.Second)
			deadline := time.Now().Add(10 * time.Second)
			for e.must(200, "GET", "/tasks/"+lost, "alice", "").json(t)["status"] != "QUEUED" {
				if time.Now().After(deadline) {
					t.Fatal("the task was never rescued")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if c := e.claim(w, `{"models":["training"],"wait_seconds":5}`); len(c) != 1 || c[0].ID != lost {
				t.Fatalf("claim after the rescue: %+v", c)
			}
			// released: released, then claimed again by another worker of
			// the token.
			released := e.createOf("training", "")
			rl := e.claim(w, `{"models":["training"]}`)[0].Lease
			e.must(200, "POST", "/worker/tasks/"+released+"/release", w, leaseBody(rl, ""))
			again := e.claim(w, `{"models":["training"],"worker":"again"}`)
			if len(again) != 1 || again[0].ID != released {
				t.Fatalf("claim after the release: %+v", again)
			}
			// done: completed.
			done := e.createOf("training", "")
			dl := e.claim(w, `{"models":["training"]}`)[0].Lease
			e.must(200, "POST", "/worker/tasks/"+done+"/complete", w, leaseBody(dl, ""))
			// cancelled while its lease held it.
			cancelled := e.createOf("evaluation", "")
			cl := e.claim(w, `{"models":["evaluation"]}`)[0].Lease
			e.must(200, "POST", "/tasks/"+cancelled+"/cancel", "alice", "")
			// running: held by w1, for the bad bodies and the other token.
			running := e.createOf("training", "")
			run := e.claim(w, `{"models":["training"]}`)[0].Lease
			// twice: released, and still queued.
			twice := e.createOf("training", "")
			tl := e.claim(w, `{"models":["training"]}`)[0].Lease
			e.must(200, "POST", "/worker/tasks/"+twice+"/release", w, leaseBody(tl, ""))
			// analysis: a model without a requeue event.
			an := e.queueAnalysis()
			al := e.claim(w, `{"models":["analysis"]}`)[0].Lease

			release := func(id string) string { return "/worker/tasks/" + id + "/release" }
			long := strings.Repeat("x", 1001)
			cases := []struct {
				name, user, path, body string
				status                 int
				kind, field, detail    string
			}{
				{"a second release with the same lease", w, release(twice), leaseBody(tl, ""), 409, "lease-lost", "",
					"this lease released the task already: the task went back to the queue, and the lease holds it no more"},
				{"a released lease, the task claimed again since", w, release(released), leaseBody(rl, ""), 409, "lease-lost", "",
					"this lease released the task already: the task went back to the queue, and the lease holds it no more"},
				{"a lease that expired, the task claimed again since", w, release(lost), leaseBody(ll, ""), 409, "lease-lost", "",
					"this lease no longer holds the task: it expired and the task was rescued or claimed again, or it ended, or it was released"},
				{"a completed task", w, release(done), leaseBody(dl, ""), 409, "lease-lost", "",
					"this lease no longer holds the task: it expired and the task was rescued or claimed again, or it ended, or it was released"},
				{"a task cancelled while the lease held it", w, release(cancelled), leaseBody(cl, ""), 409, "transition", "",
					"the task was cancelled while this lease held it: there is nothing to release"},
				{"another token's lease", other, release(running), leaseBody(run, ""), 409, "lease-lost", "", "the lease was not claimed with this token"},
				{"a lease of another task", w, release(running), leaseBody(again[0].Lease, ""), 409, "lease-lost", "",
					"the lease was claimed with task " + again[0].ID + ", not " + running + ": send each task's own lease"},
				{"a model without a requeue event", w, release(an), leaseBody(al, ""), 409, "transition", "",
					"model analysis has no requeue event in its worker section: nothing leads a claimed task back to the queue; complete or fail the task"},
				{"a user's token", "alice", release(running), leaseBody(run, ""), 403, "forbidden", "", ""},
				{"no lease", w, release(running), `{}`, 400, "validation", "lease", ""},
				{"a malformed lease", w, release(running), `{"lease":"v1.training"}`, 400, "validation", "lease", ""},
				{"a bad id", w, "/worker/tasks/nope/release", leaseBody(run, ""), 400, "validation", "id", ""},
				{"an unknown field", w, release(running), leaseBody(run, `,"reason":"x"`), 400, "validation", "reason", "reason: unknown field; allowed: lease, message"},
				{"a message that is not a string", w, release(running), leaseBody(run, `,"message":3`), 400, "validation", "message", "message: must be a string"},
				{"a message too long", w, release(running), leaseBody(run, `,"message":"`+long+`"`), 400, "validation", "message", "message: must be at most 1000 bytes"},
				{"a message with a NUL", w, release(running), leaseBody(run, `,"message":"a\u0000b"`), 400, "validation", "message",
					"message: contains a NUL character (U+0000); text may not contain it"},
				{"not a JSON object", w, release(running), `[1]`, 400, "validation", "", ""},
			}
			ids := []string{lost, released, done, cancelled, running, twice, an}
			before := map[string]any{}
			for _, id := range ids {
				before[id] = e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)["version"]
			}
			for _, tc := range cases {
				r := e.do("POST", tc.path, tc.user, tc.body)
				p := map[string]any{}
				_ = json.Unmarshal(r.body, &p)
				if r.status != tc.status || r.header.Get("Content-Type") != "application/problem+json" || p["type"] != server.ProblemTypeBase+tc.kind {
					t.Errorf("%s: %d %s; want %d %s", tc.name, r.status, r.body, tc.status, tc.kind)
					continue
				}
				if tc.field != "" {
					errs, _ := p["errors"].([]any)
					if len(errs) == 0 || errs[0].(map[string]any)["field"] != tc.field {
						t.Errorf("%s: %s; want the field %s named", tc.name, r.body, tc.field)
					}
				}
				if tc.detail != "" && p["detail"] != tc.detail {
					t.Errorf("%s: detail\n got %q\nwant %q", tc.name, p["detail"], tc.detail)
				}
				if strings.Contains(string(r.body), "*") || strings.Contains(string(r.body), "worker.") {
					t.Errorf("%s: %s names a Go type", tc.name, r.body)
				}
			}
			if p := e.must(409, "POST", release(cancelled), w, leaseBody(cl, "")).json(t); p["current_status"] != "CANCELLED" {
				t.Errorf("release of a cancelled task: %v; want current_status CANCELLED", p)
			}
			for _, id := range ids {
				if v := e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)["version"]; v != before[id] {
					t.Errorf("task %s: version %v, was %v", id, v, before[id])
				}
			}
			// The released lease no longer heartbeats, reports or ends.
			for _, route := range []string{"heartbeat", "progress", "complete", "fail"} {
				p := e.must(409, "POST", "/worker/tasks/"+released+"/"+route, w, leaseBody(rl, map[string]string{"progress": `,"percent":5`}[route])).json(t)
				if p["type"] != server.ProblemTypeBase+"lease-lost" {
					t.Errorf("%s with the released lease: %v", route, p)
				}
			}
			// The model without a requeue event still completes its task.
			if got := e.must(200, "POST", "/worker/tasks/"+an+"/complete", w, leaseBody(al, "")).json(t); got["status"] != "COMPLETED" {
				t.Errorf("complete after a refused release: %v", got)
			}
		})
	}
}

// TestWorkerClaimClientLeaves: when a worker's claim request goes away
// (its connection closed) as the claim finds a task, the task goes back to
// the queue at once, with the requeue event and
// the reason in its history, rather than when its lease expires; the
// next claim gets it.
func TestWorkerClaimClientLeaves(t *testing.T) {
	for _, b := range backendNames {
		t.Run(b, func(t *testing.T) {
			e := newEnv(t, b, envOptions{})
			w := e.workerToken("w", "training")
			id := e.createOf("training", "")

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			left := make(chan bool, 1)
			server.SetAfterClaim(e.srv, func(req context.Context) {
				once.Do(func() {
					cancel() // the client goes away as the claim returns
					select {
					case <-req.Done():
						left <- true
					case <-time.After(10 * time.Second):
						left <- false
					}
				})
			})
			defer server.SetAfterClaim(e.srv, nil)
			req, err := http.NewRequestWithContext(ctx, "POST", e.url+"/worker/claim", strings.NewReader(`{"worker":"a"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+e.tokens[w])
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close() // the client went away first: never
			}
			if !<-left {
				t.Fatal("the server never saw the client go away")
			}

			deadline := time.Now().Add(10 * time.Second)
			for e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)["status"] != "QUEUED" {
				if time.Now().After(deadline) {
					t.Fatalf("the task stayed %v after its claim's client left", e.must(200, "GET", "/tasks/"+id, "alice", "").json(t)["status"])
				}
				time.Sleep(10 * time.Millisecond)
			}
			hist := e.historyOf(id)
			last := hist[len(hist)-1]
			if msg, _ := last["message"].(string); last["event"] != "requeue" || !strings.HasSuffix(msg, "the claim's client went away before the answer") {
				t.Errorf("the give-back's history row: %v", last)
			}
			// The give-back queues the task, then ends the lease: until then
			// (an instant after the status reads QUEUED) no claim takes it.
			for {
				got := e.claim(w, `{"worker":"b"}`)
				if len(got) == 1 && got[0].ID == id {
					break
				}
				if len(got) != 0 || time.Now().After(deadline) {
					t.Fatalf("the next claim got %+v, want %s", got, id)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
