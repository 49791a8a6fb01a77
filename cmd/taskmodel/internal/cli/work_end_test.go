package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/sdk/workerhttp"
	"github.com/taskmodel/taskmodel/validation"
)

// endServer is a fake worker-protocol server that takes a task's end
// reports (complete, fail) and records them; answer decides each answer
// (the request's number, from 1, its path and body), nil for the server's
// own checks of a fail's message and a 200.
type endServer struct {
	*httptest.Server
	mu      sync.Mutex
	reports []endRequest
	answer  func(n int, req endRequest) (status int, body string)
}

type endRequest struct {
	Path string
	Body map[string]any
}

func newEndServer(t *testing.T, answer func(n int, req endRequest) (int, string)) *endServer {
	s := &endServer{answer: answer}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(data, &body)
		req := endRequest{Path: r.URL.Path, Body: body}
		s.mu.Lock()
		s.reports = append(s.reports, req)
		n := len(s.reports)
		s.mu.Unlock()
		status, out := 0, ""
		if s.answer != nil {
			status, out = s.answer(n, req)
		}
		if status == -1 { // the server goes away without an answer
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		if status == 0 && strings.HasSuffix(req.Path, "/fail") {
			// The server's checks of a fail's message (server/worker.go's
			// stringField).
			msg, _ := body["message"].(string)
			if len(msg) > 100_000 {
				status, out = 400, `{"type":"urn:taskmodel:problem:validation","title":"Invalid request","status":400,"detail":"message: must be at most 100000 bytes","errors":[{"field":"message","message":"must be at most 100000 bytes"}]}`
			} else if err := validation.CheckText(msg, true); err != nil {
				status, out = 400, fmt.Sprintf(`{"type":"urn:taskmodel:problem:validation","title":"Invalid request","status":400,"detail":"message: %s","errors":[{"field":"message","message":%q}]}`, err, err.Error())
			}
		}
		if status == 0 {
			status, out = 200, `{"task_id":"T1","status":"DONE"}`
		}
		if status != 200 {
			w.Header().Set("Content-Type", "application/problem+json")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(out))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *endServer) requests() []endRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]endRequest(nil), s.reports...)
}

// runEnd runs script (a shell script's body) as the command of one task
// T1 against s, its lease expiring at until; it returns work's standard
// error.
func runEnd(t *testing.T, s *endServer, script string, until time.Time) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "cmd.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	client, err := workerhttp.New(s.URL, "tm_w")
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	app := &App{IO: IO{In: strings.NewReader(""), Out: io.Discard, Err: &errb}}
	r := &workRunner{app: app, client: client, f: workFlags{grace: time.Second}, command: []string{path}, stopClaims: func() {}}
	r.runTask(context.Background(), workerhttp.Task{TaskType: "training", ID: "T1", Lease: "v2.training.1.x", LeaseExpiresAt: until, HeartbeatSeconds: 60, Task: json.RawMessage(`{}`)})
	return errb.String()
}

// TestWorkRetriesEndReports: an end report the server did not take — it
// was unreachable (restarting) or answered 502, 503 or 504 — is sent again
// with the same lease until the server takes it, while the lease may hold;
// then work gives up, saying so. A 4xx is not sent again.
func TestWorkRetriesEndReports(t *testing.T) {
	lease := func() time.Time { return time.Now().Add(30 * time.Second) }
	for _, tc := range []struct {
		name, script, path string
		first              int // the first answer's status (-1: none)
	}{
		{"complete after a 503", "exit 0", "/worker/tasks/T1/complete", 503},
		{"complete after no answer", "exit 0", "/worker/tasks/T1/complete", -1},
		{"fail after a 502", "exit 3", "/worker/tasks/T1/fail", 502},
		{"fail after a 504", "exit 3", "/worker/tasks/T1/fail", 504},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newEndServer(t, func(n int, _ endRequest) (int, string) {
				if n == 1 {
					return tc.first, `{"title":"Service Unavailable","status":` + fmt.Sprint(tc.first) + `}`
				}
				return 0, ""
			})
			out := runEnd(t, s, tc.script, lease())
			reqs := s.requests()
			if len(reqs) != 2 || reqs[0].Path != tc.path || reqs[1].Path != tc.path || reqs[1].Body["lease"] != "v2.training.1.x" {
				t.Fatalf("requests: %+v; want %s twice, with the lease\nwork said:\n%s", reqs, tc.path, out)
			}
			if !strings.Contains(out, "retrying in 1s (until its lease expires at ") {
				t.Errorf("work said no retry:\n%s", out)
			}
			if want := map[string]string{"/worker/tasks/T1/complete": "task T1: done", "/worker/tasks/T1/fail": "task T1: failed: the command exited with status 3"}[tc.path]; !strings.Contains(out, want) {
				t.Errorf("work said:\n%s\nwant %q", out, want)
			}
		})
	}

	t.Run("until the lease expires", func(t *testing.T) {
		s := newEndServer(t, func(int, endRequest) (int, string) { return 503, `{"title":"Not ready","status":503}` })
		start := time.Now()
		out := runEnd(t, s, "exit 0", time.Now().Add(2500*time.Millisecond))
		took := time.Since(start)
		// Tries at 0 s, 1 s, then at the lease's expiry (2.5 s).
		if n := len(s.requests()); n != 3 || took < 2*time.Second || took > 10*time.Second {
			t.Errorf("%d tries in %s; want 3 within the lease\nwork said:\n%s", n, took, out)
		}
		if !strings.Contains(out, "task T1: completing failed (Not ready (503)); giving up: its lease expired at ") || strings.Contains(out, ": done") {
			t.Errorf("work said:\n%s", out)
		}
	})

	t.Run("a 4xx is final", func(t *testing.T) {
		s := newEndServer(t, func(int, endRequest) (int, string) {
			return 409, `{"type":"urn:taskmodel:problem:lease-lost","title":"Lease lost","status":409,"detail":"the lease expired"}`
		})
		out := runEnd(t, s, "exit 0", lease())
		if n := len(s.requests()); n != 1 {
			t.Errorf("%d tries of a lease-lost report; want 1", n)
		}
		if !strings.Contains(out, "task T1: completing failed: the lease no longer holds the task") {
			t.Errorf("work said:\n%s", out)
		}
	})
}
