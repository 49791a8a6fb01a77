package main_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTasks runs taskmodel tasks against taskmodel serve: an operator
// lists, shows, follows and cancels the API's tasks with a user's token,
// sees only what the token may, and every refusal exits with its code and
// names the flag or argument.
func TestTasks(t *testing.T) {
	s := newSandbox(t)
	admin := strings.TrimSpace(s.ok("token", "create", "--user", "ops", "--admin", "-q"))
	ana := strings.TrimSpace(s.ok("token", "create", "--user", "ana", "-q"))
	bob := strings.TrimSpace(s.ok("token", "create", "--user", "bob", "-q"))
	sv := s.serve("--workers", "0")
	create := func(token, body string) string {
		t.Helper()
		code, task := sv.call(t, "POST", "/tasks", token, body)
		if code != 201 {
			t.Fatalf("create: %d %v", code, task)
		}
		return task["task_id"].(string)
	}
	first := create(ana, `{"task_type":"training","tag":"exp-1"}`)
	second := create(ana, `{"task_type":"evaluation"}`)
	tasks := func(token string, args ...string) result {
		t.Helper()
		return s.run(append([]string{"tasks", "--url", sv.url, "--token", token}, args...)...)
	}

	// The listing, newest first, with each status's code and word.
	r := tasks(ana, "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasPrefix(lines[1], second) ||
		!strings.Contains(lines[2], first+"  training") || !strings.Contains(lines[2], "Q waiting  exp-1") {
		t.Fatalf("tasks list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var rows []map[string]any
	s.json(&rows, "tasks", "--url", sv.url, "--token", ana, "list", "--type", "training", "--status", "waiting", "--tag", "exp-1")
	if len(rows) != 1 || rows[0]["id"] != first || rows[0]["task_status"] != "Q" {
		t.Errorf("tasks list --json with filters: %v", rows)
	}
	// Another user sees none of them; an admin sees them.
	if r := tasks(bob, "list"); r.code != 0 || r.stdout != "ID  TYPE  STATUS  TAG  CREATED  ENDED\n" ||
		r.stderr != "taskmodel: no task matches (finished tasks of the last hour are listed; --within-hours N looks further back)\n" {
		t.Errorf("bob's list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := tasks(admin, "list", "--status", "Q"); r.code != 0 || !strings.Contains(r.stdout, first) || !strings.Contains(r.stdout, second) {
		t.Errorf("admin's list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A task's fields, one per line in the API's order; its history.
	r = tasks(ana, "show", first)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "task_id        "+first+"\ntask_type      training\n") || !strings.Contains(r.stdout, "\nstatus         QUEUED\n") ||
		!strings.Contains(r.stdout, "\nerror_message  -\n") {
		t.Errorf("tasks show: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Cancel, then the history says who did it; a second cancel is not
	// allowed (exit 5) and says why.
	if r := tasks(ana, "cancel", first); r.code != 0 || r.stdout != "task "+first+": CANCELLED\n" {
		t.Errorf("tasks cancel: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = tasks(ana, "history", first)
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.Contains(lines[1], "-       -       QUEUED     0        user:ana  POST /tasks") ||
		!strings.Contains(lines[2], "cancel  QUEUED  CANCELLED  0        user:ana  POST /tasks/{id}/cancel") {
		t.Errorf("tasks history: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for _, tt := range []struct {
		name   string
		token  string
		args   []string
		code   int
		stderr string
	}{
		{"cancelled twice", ana, []string{"cancel", first}, 5, "taskmodel: cancel is not possible while the task is CANCELLED; no action is possible now\n"},
		{"another user's task", bob, []string{"show", second}, 3, "taskmodel: no such task (a user's token sees that user's tasks alone; an admin's, every task)\n"},
		{"not an id", ana, []string{"history", "nope"}, 4, "taskmodel: ID: must be a task id (a UUID such as 123e4567-e89b-12d3-a456-426614174000), not \"nope\"\n"},
		{"unknown type", ana, []string{"list", "--type", "nosuch"}, 4, "taskmodel: --type: unknown task type \"nosuch\"; allowed: analysis, dataset_upload, evaluation, model_upload, pipeline_run, pipeline_subtask, stage, synthesis, training\n"},
		{"unknown status", ana, []string{"list", "--status", "stuck"}, 4, "taskmodel: --status: must be one of Q, R, D, F, C (or waiting, running, done, failed, cancelled)\n"},
		{"limit out of range", ana, []string{"list", "--limit", "500"}, 4, "taskmodel: --limit: must be between 1 and 100 (got 500)\n"},
		{"a revoked or unknown token", "tm_nope", []string{"list"}, 1, "taskmodel: the server refused the token: the token is unknown, malformed or revoked (a user's token: taskmodel token create --user NAME)\n"},
		{"no token", "", []string{"list"}, 2, "taskmodel: a token is required: --token TOKEN or TASKMODEL_TOKEN (taskmodel token create --user NAME [--admin])\nRun 'taskmodel tasks list --help' for usage.\n"},
		{"two ids", ana, []string{"show", first, second}, 2, ""},
		{"an empty id", ana, []string{"show", ""}, 4, "taskmodel: ID: must be a task id (a UUID such as 123e4567-e89b-12d3-a456-426614174000), not \"\"\n"},
		{"a dot for an id", ana, []string{"cancel", ".."}, 4, "taskmodel: ID: must be a task id (a UUID such as 123e4567-e89b-12d3-a456-426614174000), not \"..\"\n"},
		{"the server quotes words of cobra's errors", ana, []string{"list", "--type", "invalid argument"}, 4, "taskmodel: --type: unknown task type \"invalid argument\"; allowed: analysis, dataset_upload, evaluation, model_upload, pipeline_run, pipeline_subtask, stage, synthesis, training\n"},
		{"a limit of 0", ana, []string{"list", "--limit", "0"}, 4, "taskmodel: --limit: must be between 1 and 100 (got 0)\n"},
		{"a negative offset", ana, []string{"list", "--offset=-1"}, 4, "taskmodel: --offset: must be between 0 and 1000000 (got -1)\n"},
		{"a window too far back", ana, []string{"list", "--within-hours", "100000"}, 4, "taskmodel: --within-hours: must be between 1 and 87840 (got 100000)\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tasks(tt.token, tt.args...)
			if r.code != tt.code || (tt.stderr != "" && r.stderr != tt.stderr) || r.stdout != "" {
				t.Errorf("tasks %v: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", tt.args, r.code, r.stdout, r.stderr, tt.code, tt.stderr)
			}
		})
	}
	// --json prints what the API answers.
	if r := tasks(ana, "list", "--json", "--type", "evaluation"); r.code != 0 || !strings.Contains(r.stdout, `"task_status": "Q"`) {
		t.Errorf("tasks list --json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Another service at the URL: its 404 page is not a task not found.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(404)
		fmt.Fprint(w, "<html><body>Not Found</body></html>"+strings.Repeat(" padding", 100))
	}))
	defer other.Close()
	if r := s.run("tasks", "--url", other.URL, "--token", ana, "show", first); r.code != 1 ||
		!strings.HasPrefix(r.stderr, "taskmodel: the server at "+other.URL+" answered 404 Not Found, not as taskmodel serve's API does (is --url right?): <html><body>Not Found</body></html>") || len(r.stderr) > 400 {
		t.Errorf("another service: exit %d, %q", r.code, r.stderr)
	}
	// No server there.
	if r := s.run("tasks", "--url", "http://127.0.0.1:1", "--token", ana, "list"); r.code != 1 ||
		r.stderr != "taskmodel: cannot reach the server at http://127.0.0.1:1 (connection refused): is taskmodel serve running there? (--url or TASKMODEL_URL)\n" {
		t.Errorf("no server: exit %d, %q", r.code, r.stderr)
	}
}
