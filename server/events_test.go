package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/sdk/engine"
)

// streamEvents opens a task's event stream and sends the task of each
// event on the returned channel, closed when the stream ends; stop closes
// the stream.
func (e *env) streamEvents(ctx context.Context, user, id string) (events <-chan map[string]any, stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/tasks/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		res.Body.Close()
		cancel()
		e.t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := make(chan map[string]any)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				e.t.Errorf("event data: %v: %s", err, data)
				return
			}
			select {
			case out <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, func() { cancel(); <-done }
}

// TestEventsPushOtherProcesses: another process (a second engine over its
// own connections to the same database, not the server) changes a task
// while a client follows its event stream; the change is pushed to the
// client by the server's change source — Watch's own poll is an hour, so
// only the push can bring it. The PostgreSQL listener is registered while
// the stream is open only: neither the metrics' nor the worker pool's
// all-task subscription keeps it.
func TestEventsPushOtherProcesses(t *testing.T) {
	for _, backend := range sqlBackends {
		t.Run(backend, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			e := newEnv(t, backend, envOptions{poll: time.Hour, workers: true})
			other := e.other(t)
			// The background work, with the metrics' subscriptions.
			running := make(chan struct{})
			go func() { defer close(running); _ = e.srv.Run(ctx) }()
			defer func() { cancel(); <-running }()
			listeners := func() int {
				var n int
				if err := other.pg.QueryRow(ctx, `SELECT count(*) FROM taskmodel_listeners WHERE channel = $1`, analysis.ModelName).Scan(&n); err != nil {
					t.Errorf("listeners: %v", err)
				}
				return n
			}
			id := e.create("alice")
			events, stop := e.streamEvents(ctx, "alice", id)
			defer stop()
			next := func(what string) map[string]any {
				t.Helper()
				select {
				case m, ok := <-events:
					if !ok {
						t.Fatalf("the stream ended before %s", what)
					}
					return m
				case <-ctx.Done():
					t.Fatalf("no event: %s", what)
				}
				return nil
			}
			if m := next("the current state"); m["version"] != 1.0 || m["status"] != "CREATED" {
				t.Fatalf("first event: version %v, status %v", m["version"], m["status"])
			}
			if other.pg != nil {
				// The stream's listener is registered: from here on every
				// commit notifies it (before, a write could go unheard until
				// the poll).
				waitUntil(ctx, t, "the stream's listener", func() bool { return listeners() > 0 })
			}
			x, err := other.eng.Fire(ctx, uuid.MustParse(id), analysis.EventRequestUploadURLs, nil, engine.Meta{Actor: "other"})
			if err != nil {
				t.Fatal(err)
			}
			if m := next("the other process's change"); m["version"] != float64(x.Version) || m["status"] != string(x.Status) {
				t.Fatalf("pushed event: version %v, status %v; want %d %s", m["version"], m["status"], x.Version, x.Status)
			}
			stop()
			if other.pg != nil {
				waitUntil(ctx, t, "the listener to stop with the stream", func() bool { return listeners() == 0 })
			}
		})
	}
}

// waitUntil polls cond until it holds or ctx ends.
func waitUntil(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestEventsEndWithProblem: a stream that can no longer follow its task
// ends with an "event: problem" holding the problem GET /tasks/{id} answers
// — a task a newer spec moved to a status this server does not declare (a
// rolling deploy), a task deleted — rather than closing as a finish does
// (a client took the silent end for one).
func TestEventsEndWithProblem(t *testing.T) {
	for _, backend := range sqlBackends {
		for _, tc := range []struct {
			name   string
			change func(ctx context.Context, o otherProcess, id string) error
			status float64
			kind   string
		}{
			{"status of a newer spec", func(ctx context.Context, o otherProcess, id string) error {
				return o.storeStatus(ctx, "analysis", id, "REVIEW")
			}, 503, "undeclared-value"},
			{"deleted", func(ctx context.Context, o otherProcess, id string) error {
				return o.eng.Store().Delete(ctx, uuid.MustParse(id))
			}, 404, "not-found"},
		} {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				e := newEnv(t, backend, envOptions{})
				id := e.create("alice")
				events, stop := e.streamEvents(context.Background(), "alice", id)
				defer stop()
				if first := <-events; first["status"] != "CREATED" {
					t.Fatalf("first event %v", first)
				}
				if err := tc.change(context.Background(), e.other(t), id); err != nil {
					t.Fatal(err)
				}
				var last map[string]any
				timeout := time.After(20 * time.Second)
				for done := false; !done; {
					select {
					case ev, ok := <-events:
						if !ok {
							done = true
							break
						}
						last = ev
					case <-timeout:
						t.Fatal("the stream did not end")
					}
				}
				if last["type"] != "urn:taskmodel:problem:"+tc.kind || last["status"] != tc.status || last["instance"] != "/tasks/"+id+"/events" {
					t.Errorf("the stream's last event is %v, want a %v %s problem", last, tc.status, tc.kind)
				}
			})
		}
	}
}

// TestEventsFinishedReconnect: a reconnection (Last-Event-ID) to the
// stream of a finished task whose last event the client has seen is
// answered 204, which stops a browser's EventSource; any other request
// gets the stream, the finished task's one event included.
func TestEventsFinishedReconnect(t *testing.T) {
	e := newEnv(t, "memory", envOptions{})
	done := e.createOf("training", "")
	e.must(200, "POST", "/tasks/"+done+"/cancel", "alice", "")
	version := int(e.must(200, "GET", "/tasks/"+done, "alice", "").json(t)["version"].(float64))
	running := e.createOf("training", "")
	cases := []struct {
		name, id, lastEventID string
		status                int
	}{
		{"no Last-Event-ID", done, "", 200},
		{"the terminal event's id", done, strconv.Itoa(version), 204},
		{"a later id", done, strconv.Itoa(version + 3), 204},
		{"an earlier id", done, strconv.Itoa(version - 1), 200},
		{"an id that is no version", done, "abc", 200},
		{"an unfinished task", running, strconv.Itoa(version + 100), 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/tasks/"+c.id+"/events", nil)
			req.Header.Set("Authorization", "Bearer "+e.tokens["alice"])
			if c.lastEventID != "" {
				req.Header.Set("Last-Event-ID", c.lastEventID)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			if c.status == 204 {
				return
			}
			if res.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("Content-Type %q", res.Header.Get("Content-Type"))
			}
			if c.id != done {
				return // the stream of an unfinished task does not end
			}
			body, _ := io.ReadAll(res.Body)
			if want := "id: " + strconv.Itoa(version) + "\n"; !strings.Contains(string(body), want) {
				t.Errorf("stream %q without %q", body, want)
			}
		})
	}
}
