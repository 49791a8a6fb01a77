package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/taskmodel/taskmodel/sdk/workerhttp"
)

// TestWorkGivesBackTasksNotStarted: a task work claimed but does not start
// — it is stopping (SIGINT or SIGTERM came after the claim), or the command
// cannot start — is given back with POST /worker/tasks/ID/release, saying
// why, and its command never runs; a release the server refuses (a model
// without a requeue event) is said, and the task waits for its lease.
func TestWorkGivesBackTasksNotStarted(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	script := filepath.Join(dir, "cmd.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		stopping bool   // the context ended before the task started
		command  string // "" for the script
		refuse   bool   // the server refuses the release
		reason   string
		note     string
		startErr bool
		tmpdir   string // TMPDIR, when set
		stopErr  string // what work returns, when it stops claiming
	}{
		{name: "claimed as work stops", stopping: true, reason: "taskmodel work is stopping",
			note: "task T1: given back to the queue (taskmodel work is stopping)"},
		{name: "the command vanished", command: filepath.Join(dir, "gone.sh"), reason: "the command could not start: " + filepath.Join(dir, "gone.sh") + " no longer exists",
			note: "task T1: given back to the queue (the command could not start: ", startErr: true},
		{name: "the server refuses", stopping: true, refuse: true, reason: "taskmodel work is stopping",
			note: "task T1: giving it back failed (Release not possible (409): model analysis has no requeue event"},
		// work could not run the command for a fault of the machine: it
		// stops claiming, as when the command cannot start (it claimed and
		// gave back the same task in a loop, and, for a model without a
		// requeue event, failed every queued task at its lease's expiry).
		{name: "no temporary directory", tmpdir: filepath.Join(dir, "missing"),
			reason:   "the worker cannot make a temporary directory in " + filepath.Join(dir, "missing") + ": no such file or directory",
			note:     "task T1: given back to the queue (the worker cannot make a temporary directory in ",
			startErr: true,
			stopErr:  "work: the worker cannot make a temporary directory in " + filepath.Join(dir, "missing") + ": no such file or directory; work stopped claiming, and gave back the tasks it could not run"},
		{name: "the command vanished, the server refuses", command: filepath.Join(dir, "gone.sh"), refuse: true,
			reason:   "the command could not start: " + filepath.Join(dir, "gone.sh") + " no longer exists",
			note:     "it is rescued when its lease expires: queued again while it has attempts left, failed otherwise",
			startErr: true,
			stopErr:  "work: the command could not start: " + filepath.Join(dir, "gone.sh") + " no longer exists; work stopped claiming; 1 task could not be given back (the model has no requeue event, or the server did not answer): each is rescued when its lease expires, queued again while it has attempts left and failed otherwise"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tmpdir != "" {
				t.Setenv("TMPDIR", tc.tmpdir)
			}
			_ = os.Remove(marker)
			var mu sync.Mutex
			var bodies []map[string]any
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/worker/tasks/T1/release" {
					w.WriteHeader(http.StatusNotFound)
					return
				}
				data, _ := io.ReadAll(r.Body)
				var b map[string]any
				_ = json.Unmarshal(data, &b)
				mu.Lock()
				bodies = append(bodies, b)
				mu.Unlock()
				if tc.refuse {
					w.Header().Set("Content-Type", "application/problem+json")
					w.WriteHeader(http.StatusConflict)
					_, _ = w.Write([]byte(`{"type":"urn:taskmodel:problem:transition","title":"Release not possible","status":409,"detail":"model analysis has no requeue event in its worker section"}`))
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"task_id":"T1","status":"QUEUED"}`))
			}))
			defer srv.Close()
			client, err := workerhttp.New(srv.URL, "tm_w")
			if err != nil {
				t.Fatal(err)
			}
			var errb bytes.Buffer
			app := &App{IO: IO{In: strings.NewReader(""), Out: io.Discard, Err: &errb}}
			command := []string{script}
			if tc.command != "" {
				command = []string{tc.command}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.stopping {
				cancel()
			}
			r := &workRunner{app: app, client: client, f: workFlags{grace: 1}, command: command, stopClaims: func() {}}
			r.runTask(ctx, workerhttp.Task{TaskType: "training", ID: "T1", Lease: "v1.training.1.x", HeartbeatSeconds: 10, Task: json.RawMessage(`{}`)})

			if _, err := os.Stat(marker); err == nil {
				t.Error("the command ran")
			}
			if len(bodies) != 1 || bodies[0]["lease"] != "v1.training.1.x" || bodies[0]["message"] != tc.reason {
				t.Errorf("release requests: %v; want one with the lease and message %q", bodies, tc.reason)
			}
			if !strings.Contains(errb.String(), tc.note) {
				t.Errorf("work said:\n%s\nwant %q", errb.String(), tc.note)
			}
			if (r.startErr != nil) != tc.startErr {
				t.Errorf("startErr = %v", r.startErr)
			}
			if err := r.stopError(); tc.stopErr != "" && (err == nil || err.Error() != tc.stopErr) {
				t.Errorf("work returns %v\nwant %s", err, tc.stopErr)
			}
		})
	}
}
