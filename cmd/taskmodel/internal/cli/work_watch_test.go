package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/sdk/workerhttp"
)

// TestWorkCommandEnds: a command that exits ends its task even when a
// process it left in the background holds its standard error (the task
// stayed running as long as that process did, for ever for a daemon); and
// a command whose lease expires by work's clock, no heartbeat answered (the
// server cannot be reached), is stopped rather than run on beside the
// worker that claims the task next, and its task is not reported.
func TestWorkCommandEnds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		script    string
		heartbeat int           // answer to heartbeats: 0 = 200 with a new expiry
		lease     time.Duration // the lease as claimed
		paths     []string      // the end reports sent
		note      string
	}{
		{name: "a process left in the background", script: "sleep 60 &\necho $! > \"$PIDFILE\"\nexit 0",
			lease: 30 * time.Second, paths: []string{"/worker/tasks/T1/complete"},
			note: "task T1: the command exited, and a process it left running still holds its standard error; work stopped reading it"},
		{name: "a failure with a process left in the background", script: "sleep 60 &\necho $! > \"$PIDFILE\"\necho broken >&2\nexit 3",
			lease: 30 * time.Second, paths: []string{"/worker/tasks/T1/fail"}, note: "task T1: failed: the command exited with status 3"},
		{name: "the lease expires, no heartbeat answered", script: "echo $$ > \"$PIDFILE\"\nsleep 60",
			heartbeat: 503, lease: 2500 * time.Millisecond,
			note: "with no heartbeat answered since; the command was stopped, as another worker may run the task now"},
		// A revoked token: nothing the command does can be reported.
		{name: "the token is revoked", script: "echo $$ > \"$PIDFILE\"\nsleep 60",
			heartbeat: 401, lease: 30 * time.Second,
			note: "task T1: the command was stopped, as its end could not be reported; the task is rescued when its lease expires"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newEndServer(t, func(_ int, req endRequest) (int, string) {
				if strings.HasSuffix(req.Path, "/heartbeat") {
					if tc.heartbeat != 0 {
						return tc.heartbeat, `{"title":"Refused","status":` + strconv.Itoa(tc.heartbeat) + `}`
					}
					return 200, `{"task_id":"T1","status":"RUNNING","lease_expires_at":"` + time.Now().Add(tc.lease).UTC().Format(time.RFC3339Nano) + `"}`
				}
				return 0, ""
			})
			dir := t.TempDir()
			pidfile := filepath.Join(dir, "pid")
			t.Setenv("PIDFILE", pidfile)
			t.Cleanup(func() { // the process left running
				if data, err := os.ReadFile(pidfile); err == nil {
					if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			})
			r, errb := scriptRunner(t, s, tc.script)
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				r.runTask(context.Background(), workerhttp.Task{TaskType: "training", ID: "T1", Lease: "v2.training.1.x",
					LeaseExpiresAt: time.Now().Add(tc.lease), HeartbeatSeconds: 1, Task: json.RawMessage(`{}`)})
			}()
			select {
			case <-ended:
			case <-time.After(30 * time.Second): // a hang, not a speed goal
				t.Fatalf("the task did not end\nwork said:\n%s", errb.String())
			}
			var paths []string
			for _, req := range s.requests() {
				if !strings.HasSuffix(req.Path, "/heartbeat") {
					paths = append(paths, req.Path)
				}
			}
			if strings.Join(paths, " ") != strings.Join(tc.paths, " ") {
				t.Errorf("end reports %v; want %v\nwork said:\n%s", paths, tc.paths, errb.String())
			}
			if !strings.Contains(errb.String(), tc.note) {
				t.Errorf("work said:\n%s\nwant %q", errb.String(), tc.note)
			}
			if err := r.stopError(); tc.heartbeat == 401 && err != errTokenRefused {
				t.Errorf("work returns %v; want %v", err, errTokenRefused)
			}
		})
	}
}
