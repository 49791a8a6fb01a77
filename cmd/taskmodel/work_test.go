package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
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
		{[]string{"work", "--model", "training,training", "--token", "x", "--", "true"}, `--model names "training" twice`},
		{[]string{"work", "--model", "training,", "--token", "x", "--", "true"}, `--model names an empty model in "training," (separate names with single commas)`},
		{[]string{"work", "--model", "training", "--model", "evaluation,training", "--token", "x", "--", "true"}, `--model names "training" twice`},
		{[]string{"work", "--model", "training", "--", "true"}, "a worker token is required"},
		{[]string{"work", "--model", "training", "--token", "x", "--concurrency", "0", "--", "true"}, "--concurrency must be 1 to 100"},
		{[]string{"work", "--model", "training", "--token", "x", "--url", "ftp://h", "--", "true"}, "must be an http:// or https:// URL"},
		{[]string{"work", "--model", "training", "--token", "x", "--worker", "bad name", "--", "true"},
			`work: --worker must be 1 to 100 letters, digits and . _ - @ : / (a host name, say), not "bad name"`},
		{[]string{"work", "--model", "training", "--token", "x", "--worker", strings.Repeat("w", 101), "--", "true"}, "--worker must be 1 to 100 letters"},
		{[]string{"work", "--model", "training", "--worker", "ok", "--", "true"}, "a worker token is required"},
		{[]string{"progress", "50"}, "runs inside a command of taskmodel work"},
		{[]string{"progress", "120"}, "PERCENT must be a number from 0 to 100"},
	} {
		r := s.run(tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("taskmodel %s: exit %d, %q; want 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}

// TestProgressServerDown: a progress report the server cannot take is
// dropped with a warning and exit status 0 (the command goes on), after
// --retry-for; --retry-for cannot be negative.
func TestProgressServerDown(t *testing.T) {
	s := newSandbox(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nobody answers there now
	s.env = append(s.env, "TASKMODEL_URL="+url, "TASKMODEL_TOKEN=tok", "TASKMODEL_TASK_ID=0190f6a8-8b5e-7c4e-9d3a-2f1b4c5d6e7f", "TASKMODEL_LEASE=lease")
	r := s.run("progress", "20", "--retry-for", "0")
	if r.code != 0 || !strings.HasPrefix(r.stderr, "taskmodel progress: warning: the report was dropped: ") || !strings.HasSuffix(r.stderr, "; the work goes on\n") {
		t.Errorf("server down: exit %d, %q; want 0 and a warning", r.code, r.stderr)
	}
	if r := s.run("progress", "20", "--retry-for=-1s"); r.code != 2 || !strings.Contains(r.stderr, "progress: --retry-for must be 0 or more, not -1s") {
		t.Errorf("--retry-for=-1s: exit %d, %q", r.code, r.stderr)
	}
}

// TestTokenCreateWorkerModels: a worker token's --models are models with
// a worker section; a model without one is said to have none, not to be
// unknown.
func TestTokenCreateWorkerModels(t *testing.T) {
	s := newSandbox(t)
	const withOne = "analysis, dataset_upload, evaluation, model_upload, synthesis, training"
	for _, tc := range []struct{ models, want string }{
		{"training,stage", `token create --worker: --models: model "stage" has no worker section (no worker claims its tasks); models with one: ` + withOne},
		{"pipeline_run", `token create --worker: --models: model "pipeline_run" has no worker section (no worker claims its tasks); models with one: ` + withOne},
		{"training,bogus", `token create --worker: --models: unknown model "bogus"; models with a worker section: ` + withOne},
		{"training,training", `token create --worker: --models names "training" twice`},
	} {
		r := s.run("token", "create", "--worker", "--models", tc.models)
		if want := "taskmodel: " + tc.want + "\n"; r.code != 2 || !strings.HasPrefix(r.stderr, want) {
			t.Errorf("--models %s: exit %d, %q; want 2 and %q", tc.models, r.code, r.stderr, want)
		}
	}
}

// workServer is a sandbox with taskmodel serve (no demo handlers), a user
// token and a worker token for training.
type workServer struct {
	s          *sandbox
	sv         *serving
	user, wtok string
}

func newWorkServer(t *testing.T) *workServer {
	s := newSandbox(t)
	user := strings.TrimSpace(s.ok("token", "create", "--user", "ana", "-q"))
	wtok := strings.TrimSpace(s.ok("token", "create", "--worker", "--models", "training", "-q"))
	return &workServer{s: s, sv: s.serve("--workers", "0"), user: user, wtok: wtok}
}

// queue creates n training tasks and returns their ids.
func (ws *workServer) queue(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		code, task := ws.sv.call(t, "POST", "/tasks", ws.user, `{"task_type":"training"}`)
		if code != 201 {
			t.Fatalf("create: %d %v", code, task)
		}
		ids = append(ids, task["task_id"].(string))
	}
	return ids
}

// statuses counts the tasks' statuses.
func (ws *workServer) statuses(t *testing.T, ids []string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, id := range ids {
		_, task := ws.sv.call(t, "GET", "/tasks/"+id, ws.user, "")
		n[task["status"].(string)]++
	}
	return n
}

// work runs taskmodel work with args in the sandbox, with extra
// environment.
func (ws *workServer) work(args []string, env ...string) *exec.Cmd {
	w := exec.Command(binary, append([]string{"work"}, args...)...)
	w.Dir = ws.s.dir
	w.Env = append(append(append([]string{}, ws.s.env...), "TASKMODEL_URL="+ws.sv.url, "TASKMODEL_TOKEN="+ws.wtok, "TM="+binary), env...)
	return w
}

// TestWorkCommandCannotStart: a command that cannot start is refused
// before anything is claimed (exit 2, the queue untouched); one that stops
// starting later fails no task: work gives the task back (queued at once,
// the claim not counted), stops claiming and exits 1; another worker then
// runs it.
func TestWorkCommandCannotStart(t *testing.T) {
	ws := newWorkServer(t)
	ids := ws.queue(t, 3)
	ws.s.write("noexec.sh", "#!/bin/sh\nexit 0\n")
	if err := os.Mkdir(filepath.Join(ws.s.dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		command string
		want    string
	}{
		{"./noexec.sh", "taskmodel: work: ./noexec.sh is not executable (chmod +x it)\n"},
		{"/nonexistent/cmd", "taskmodel: work: no such command: /nonexistent/cmd does not exist\n"},
		{"no-such-command-here", "taskmodel: work: no such command: no-such-command-here is not in PATH (give a path, such as ./no-such-command-here, for a file here)\n"},
		{"./adir", "taskmodel: work: ./adir is a directory, not a command\n"},
	} {
		w := ws.work([]string{"--model", "training", "--concurrency", "2", "--", tc.command})
		var stderr bytes.Buffer
		w.Stderr = &stderr
		err := w.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.HasPrefix(stderr.String(), tc.want) {
			t.Errorf("work -- %s: %v, %q; want exit 2 and %q", tc.command, err, stderr.String(), tc.want)
		}
	}
	if got := ws.statuses(t, ids); got["QUEUED"] != 3 {
		t.Fatalf("after the refused commands: %v, want 3 QUEUED", got)
	}

	// The command removes itself: the first task completes, the second
	// cannot start.
	script := ws.s.write("once.sh", "#!/bin/sh\nrm -f \"$0\"\nexit 0\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	w := ws.work([]string{"--model", "training", "--wait", "1", "--", "./once.sh"})
	var stderr bytes.Buffer
	w.Stderr = &stderr
	err := w.Run()
	const want = "taskmodel: work: the command could not start: ./once.sh no longer exists; work stopped claiming, and gave back the tasks it could not run\n"
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.HasSuffix(stderr.String(), want) {
		t.Fatalf("work -- ./once.sh: %v, %q; want exit 1 and %q", err, stderr.String(), want)
	}
	// The task that could not start is back in the queue at once (no
	// lease holds it), not failed, and its claim is not counted: the
	// history says so.
	if got := ws.statuses(t, ids); got["DONE"] != 1 || got["QUEUED"] != 2 {
		t.Errorf("after the command vanished: %v, want 1 DONE and 2 QUEUED (one given back)", got)
	}
	var released []string
	for _, id := range ids {
		_, hist := ws.sv.callList(t, "/tasks/"+id+"/history", ws.user)
		last := hist[len(hist)-1]
		if last["event"] != "requeue" {
			continue
		}
		released = append(released, id)
		msg, _ := last["message"].(string)
		if last["from_status"] != "RUNNING" || last["attempt"] != float64(1) || !strings.HasPrefix(msg, "released by ") ||
			!strings.HasSuffix(msg, " (attempt 1, not counted): the command could not start: ./once.sh no longer exists") {
			t.Errorf("the given-back task's history row: %v", last)
		}
	}
	if len(released) != 1 {
		t.Fatalf("%d tasks given back, want 1", len(released))
	}
	if !strings.Contains(stderr.String(), "task "+released[0]+": given back to the queue (the command could not start: ./once.sh no longer exists)") {
		t.Errorf("work did not say it gave the task back:\n%s", stderr.String())
	}
	// Any worker runs it now.
	ok := ws.s.write("ok.sh", "#!/bin/sh\nexit 0\n")
	if err := os.Chmod(ok, 0o755); err != nil {
		t.Fatal(err)
	}
	w = ws.work([]string{"--model", "training", "--wait", "1", "--", "./ok.sh"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Process.Kill(); _ = w.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for ws.statuses(t, ids)["DONE"] != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the tasks never ran: %v", ws.statuses(t, ids))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWorkKilled: when taskmodel work is killed with SIGKILL, the kernel
// kills its running command too (Linux), so no command outlives the lease.
func TestWorkKilled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux kills a command when its parent dies")
	}
	ws := newWorkServer(t)
	ws.queue(t, 1)
	pidFile := filepath.Join(ws.s.dir, "pid")
	script := ws.s.write("long.sh", "#!/bin/sh\necho $$ > \"$PIDFILE.tmp\" && mv \"$PIDFILE.tmp\" \"$PIDFILE\"\nexec sleep 300\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	w := ws.work([]string{"--model", "training", "--", script}, "PIDFILE="+pidFile)
	var out bytes.Buffer
	w.Stdout, w.Stderr = &out, &out
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Process.Kill(); _ = w.Wait() })
	var pid int
	deadline := time.Now().Add(30 * time.Second)
	for {
		if data, err := os.ReadFile(pidFile); err == nil {
			if pid, err = strconv.Atoi(strings.TrimSpace(string(data))); err != nil {
				t.Fatalf("pid file: %q", data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command never started\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if !alive(pid) {
		t.Fatalf("the command (pid %d) is not running", pid)
	}
	if err := w.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = w.Wait()
	deadline = time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the command (pid %d) still runs after work was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether process pid runs (a zombie does not).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(data), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// endsScript is the command of TestWorkEnds, by the task's tag.
const endsScript = `#!/bin/sh
case "$(cat "$TASKMODEL_TASK_FILE")" in
*'"tag":"segv"'*)
	kill -SEGV $$ ;;
*'"tag":"nul"'*)
	printf 'nul:\000:end\n' >&2
	exit 4 ;;
*'"tag":"bigerr"'*)
	# A message of 150,000 bytes, a NUL after its first character.
	printf '{"message": "a\\u0000b%s:end"}' "$(head -c 150000 /dev/zero | tr '\000' x)" > "$TASKMODEL_ERROR_FILE"
	exit 1 ;;
*'"tag":"lease"'*)
	echo "$TASKMODEL_LEASE" > "$DIR/lease"
	exit 0 ;;
*'"tag":"stops"'*)
	# Stops as soon as progress says so, as the documentation advises.
	touch "$DIR/running"
	while "$TM" progress 10 -q 2> "$DIR/progress.err"; do sleep 0.05; done || :
	"$TM" progress 10 -q 2> "$DIR/progress.err"
	echo $? > "$DIR/progress.code"
	exit 0 ;;
esac
exit 2
`

// TestWorkEnds: a command killed by a signal fails its task naming the
// signal; a NUL in standard error or an error file's message, and an error
// file's message too long for the server, still fail the task; progress after a cancel and after the task ended exits 6 with a
// plain message; a command that stops on the cancel and exits 0 leaves the
// task cancelled, and work reports no error.
func TestWorkEnds(t *testing.T) {
	ws := newWorkServer(t)
	tags := []string{"segv", "nul", "bigerr", "lease", "stops"}
	ids := map[string]string{}
	for _, tag := range tags {
		code, task := ws.sv.call(t, "POST", "/tasks", ws.user, `{"task_type":"training","tag":"`+tag+`"}`)
		if code != 201 {
			t.Fatalf("create: %d %v", code, task)
		}
		ids[tag] = task["task_id"].(string)
	}
	script := ws.s.write("ends.sh", endsScript)
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := ws.s.dir
	w := ws.work([]string{"--model", "training", "--concurrency", "5", "--", script}, "DIR="+dir)
	var out lockedBuffer
	w.Stdout, w.Stderr = &out, &out
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Process.Kill(); _ = w.Wait() })
	waitFor := func(id, want string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, task := ws.sv.call(t, "GET", "/tasks/"+id, ws.user, "")
			if task["status"] == want {
				return task
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s is %v, never %s\nwork:\n%s", id, task["status"], want, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	segv := waitFor(ids["segv"], "FAILED")
	if msg := segv["error_message"]; msg != "the command was killed by signal SIGSEGV (segmentation fault)" {
		t.Errorf("segv's error_message: %q", msg)
	}

	// Messages the server would refuse (a NUL, over 100,000 bytes) are
	// made text it takes: the tasks fail rather than stay running.
	if msg := waitFor(ids["nul"], "FAILED")["error_message"]; msg != "the command exited with status 4; standard error ends with:\nnul:\uFFFD:end" {
		t.Errorf("nul's error_message: %q", msg)
	}
	// It is cut in the middle twice: by work to the server's 100,000
	// bytes, then by the model to its error field's 4000 characters.
	if msg, _ := waitFor(ids["bigerr"], "FAILED")["error_message"].(string); !strings.HasPrefix(msg, "a\uFFFDbxxx") || !strings.HasSuffix(msg, "xxx:end") ||
		strings.Count(msg, " … ") != 1 || utf8.RuneCountInString(msg) != 4000 {
		t.Errorf("bigerr's error_message (%d bytes): %.40q…%q", len(msg), msg, msg[max(0, len(msg)-40):])
	}

	waitFor(ids["lease"], "DONE")
	lease, err := os.ReadFile(filepath.Join(dir, "lease"))
	if err != nil {
		t.Fatal(err)
	}
	p := exec.Command(binary, "progress", "20")
	p.Env = append(append([]string{}, ws.s.env...), "TASKMODEL_URL="+ws.sv.url, "TASKMODEL_TOKEN="+ws.wtok,
		"TASKMODEL_TASK_ID="+ids["lease"], "TASKMODEL_LEASE="+strings.TrimSpace(string(lease)))
	var perr bytes.Buffer
	p.Stderr = &perr
	err = p.Run()
	want := "taskmodel: progress: the lease no longer holds task " + ids["lease"] + " (it expired, another worker took it over, or the task ended); stop\n"
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 6 || perr.String() != want {
		t.Errorf("progress on an ended task: %v, %q; want exit 6 and %q", err, perr.String(), want)
	}

	waitFor(ids["stops"], "RUNNING")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "running")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command never ran\n%s", out.String())
		}
	}
	if code, c := ws.sv.call(t, "POST", "/tasks/"+ids["stops"]+"/cancel", ws.user, ""); code != 200 {
		t.Fatalf("cancel: %d %v", code, c)
	}
	waitFor(ids["stops"], "CANCELLED")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "progress.code")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress never said to stop\n%s", out.String())
		}
	}
	code, _ := os.ReadFile(filepath.Join(dir, "progress.code"))
	msg, _ := os.ReadFile(filepath.Join(dir, "progress.err"))
	if want := "taskmodel: progress: task " + ids["stops"] + " was cancelled; stop\n"; strings.TrimSpace(string(code)) != "6" || string(msg) != want {
		t.Errorf("progress after the cancel: exit %s, %q; want 6 and %q", code, msg, want)
	}
	// work reports the cancel once the command has exited; a signal sent
	// before that would stop the command as a shutdown instead.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "task "+ids["stops"]+": cancelled"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("work never reported the cancel\n%s", out.String())
		}
	}
	if err := w.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(); err != nil {
		t.Errorf("work: %v\n%s", err, out.String())
	}
	if s := out.String(); !strings.Contains(s, "task "+ids["stops"]+": cancelled") || strings.Contains(s, "completing failed") {
		t.Errorf("work's report of the cancelled task:\n%s", s)
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
