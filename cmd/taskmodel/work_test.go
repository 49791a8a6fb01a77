package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// workScript is the command taskmodel work runs in TestWork: it reads its
// task from the task file and acts on its tag.
const workScript = `#!/bin/sh
set -u
case "$(cat "$TASKMODEL_TASK_FILE")" in
*'"tag":"ok"'*)
	"$TM" progress 50 -q || exit 9
	[ "$TASKMODEL_TASK_TYPE" = dataset_upload ] && echo '{"records_processed": 7}' > "$TASKMODEL_RESULT_FILE"
	exit 0 ;;
*'"tag":"crash"'*)
	echo "something broke" >&2
	exit 3 ;;
*'"tag":"coded"'*)
	echo '{"error_code": "NOT_A_CODE", "message": "bad input file"}' > "$TASKMODEL_ERROR_FILE"
	exit 1 ;;
*'"tag":"slow"'*)
	trap 'echo "$TASKMODEL_TASK_ID" > "$MARK"; exit 143' TERM
	sleep 60 &
	wait
	exit 0 ;;
esac
exit 2
`

// TestWork runs taskmodel work against taskmodel serve on each database:
// a shell script runs each task to DONE (with progress and a result), a
// non-zero exit fails the task with the exit status and standard error, an
// error file's unknown code is dropped, and a cancel reaches the script as
// SIGTERM.
func TestWork(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			s := newSandbox(t, eng.env(t)...)
			user := strings.TrimSpace(s.ok("token", "create", "--user", "ana", "-q"))
			if r := s.run("token", "create", "--worker", "--models", "training,bogus"); r.code != 2 || !strings.Contains(r.stderr, `unknown model "bogus"; models with a worker section: analysis, dataset_upload`) {
				t.Fatalf("token create with an unknown model: exit %d, %s", r.code, r.stderr)
			}
			wtok := strings.TrimSpace(s.ok("token", "create", "--worker", "--models", "training,dataset_upload", "-q"))
			if list := s.ok("token", "list"); !strings.Contains(list, "worker: training,dataset_upload") {
				t.Errorf("token list shows no scope:\n%s", list)
			}
			sv := s.serve("--workers", "0")
			ids := map[string]string{}
			for _, tag := range []string{"ok", "crash", "coded", "slow"} {
				code, task := sv.call(t, "POST", "/tasks", user, `{"task_type":"training","tag":"`+tag+`"}`)
				if code != 201 {
					t.Fatalf("create: %d %v", code, task)
				}
				ids[tag] = task["task_id"].(string)
			}
			_, ds := sv.call(t, "POST", "/tasks", user, `{"task_type":"dataset_upload","tag":"ok"}`)
			ids["dataset"] = ds["task_id"].(string)

			script := s.write("job.sh", workScript)
			if err := os.Chmod(script, 0o755); err != nil {
				t.Fatal(err)
			}
			mark := filepath.Join(s.dir, "terminated")
			w := exec.Command(binary, "work", "--model", "training,dataset_upload", "--concurrency", "5", "--grace", "5s", "--", script)
			w.Dir = s.dir
			w.Env = append(append([]string{}, s.env...), "TASKMODEL_URL="+sv.url, "TASKMODEL_TOKEN="+wtok, "TM="+binary, "MARK="+mark)
			var wout bytes.Buffer
			w.Stdout, w.Stderr = &wout, &wout
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- w.Wait() }()
			t.Cleanup(func() { _ = w.Process.Kill() })

			status := func(id string) map[string]any {
				_, task := sv.call(t, "GET", "/tasks/"+id, user, "")
				return task
			}
			waitFor := func(id, want string) map[string]any {
				deadline := time.Now().Add(30 * time.Second)
				for {
					task := status(id)
					if task["status"] == want {
						return task
					}
					if time.Now().After(deadline) {
						t.Fatalf("task %s is %v, never %s\nwork:\n%s", id, task["status"], want, wout.String())
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			waitFor(ids["ok"], "DONE")
			if got := waitFor(ids["dataset"], "DONE"); got["records_processed"] != float64(7) {
				t.Errorf("dataset_upload result: %v", got)
			}
			crash := waitFor(ids["crash"], "FAILED")
			if msg, _ := crash["error_message"].(string); !strings.Contains(msg, "exited with status 3") || !strings.Contains(msg, "something broke") {
				t.Errorf("crash's error_message: %q", msg)
			}
			coded := waitFor(ids["coded"], "FAILED")
			if msg, _ := coded["error_message"].(string); !strings.Contains(msg, "NOT_A_CODE") || !strings.Contains(msg, "bad input file") {
				t.Errorf("coded's error_message: %q", msg)
			}
			waitFor(ids["slow"], "RUNNING")
			if code, c := sv.call(t, "POST", "/tasks/"+ids["slow"]+"/cancel", user, ""); code != 200 {
				t.Fatalf("cancel: %d %v", code, c)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				if data, err := os.ReadFile(mark); err == nil {
					if strings.TrimSpace(string(data)) != ids["slow"] {
						t.Errorf("SIGTERM reached the script of %s, want %s", data, ids["slow"])
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the cancelled task's script never got SIGTERM\nwork:\n%s", wout.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			if got := status(ids["slow"]); got["status"] != "CANCELLED" {
				t.Errorf("slow: %v", got["status"])
			}

			if err := w.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("work exited with %v\n%s", err, wout.String())
				}
			case <-time.After(40 * time.Second):
				t.Fatalf("work did not stop on SIGTERM\n%s", wout.String())
			}
		})
	}
}

// TestWorkUsage: clear usage errors (exit 2) before anything runs.
func TestWorkUsage(t *testing.T) {
	s := newSandbox(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"work", "--model", "training"}, "the command to run goes after --"},
		{[]string{"work", "--", "true"}, "--model MODEL is required"},
		{[]string{"work", "--model", "training", "--", "true"}, "a worker token is required"},
		{[]string{"work", "--model", "training", "--token", "x", "--concurrency", "0", "--", "true"}, "--concurrency must be 1 to 100"},
		{[]string{"work", "--model", "training", "--token", "x", "--url", "ftp://h", "--", "true"}, "must be an http:// or https:// URL"},
		{[]string{"progress", "50"}, "runs inside a command of taskmodel work"},
		{[]string{"progress", "120"}, "PERCENT must be a number from 0 to 100"},
	} {
		r := s.run(tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("taskmodel %s: exit %d, %q; want 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}
