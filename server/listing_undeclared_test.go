package server_test

import (
	"context"
	"strings"
	"testing"
)

// TestListUndeclaredStatus: a task in a status this program's spec does not
// declare (a newer program wrote it, during a rolling deploy) is never left
// out of GET /tasks without a word. A listing that may hold it (its models,
// owner and tag) fails with a problem naming the task type, the status, the
// statuses this server knows and the likely cause; listings that cannot
// hold it still answer. Reading the task itself fails alike.
func TestListUndeclaredStatus(t *testing.T) {
	for _, backend := range sqlBackends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend, envOptions{})
			review := e.create("alice")
			e.create("alice")
			bobs := e.create("bob")
			if err := e.other(t).storeStatus(context.Background(), "analysis", review, "REVIEW"); err != nil {
				t.Fatal(err)
			}
			for _, tt := range []struct {
				name, user, path string
				status           int
				listed           int // tasks in a listing that answers
			}{
				{"the owner's listing", "alice", "/tasks", 503, 0},
				{"an admin's listing", "admin", "/tasks", 503, 0},
				{"by status code", "alice", "/tasks?status=D", 503, 0},
				{"the model asked for", "alice", "/tasks?task_type=analysis", 503, 0},
				{"beyond the window", "alice", "/tasks?within_hours=1&offset=5", 503, 0},
				{"another owner's listing", "bob", "/tasks", 200, 1},
				{"another model", "alice", "/tasks?task_type=synthesis", 200, 0},
				{"a tag the model has no column for", "admin", "/tasks?tag=x", 200, 0},
				{"the task", "alice", "/tasks/" + review, 503, -1},
			} {
				t.Run(tt.name, func(t *testing.T) {
					r := e.do("GET", tt.path, tt.user, "")
					if r.status != tt.status {
						t.Fatalf("status %d, want %d\n%s", r.status, tt.status, r.body)
					}
					if tt.status == 200 {
						if n := strings.Count(string(r.body), `"task_type"`); n != tt.listed {
							t.Errorf("%d tasks listed, want %d: %s", n, tt.listed, r.body)
						}
						if tt.user == "bob" && !strings.Contains(string(r.body), bobs) {
							t.Errorf("bob's task is not listed: %s", r.body)
						}
						return
					}
					if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
						t.Errorf("Content-Type %q", ct)
					}
					p := r.json(t)
					if p["type"] != "urn:taskmodel:problem:undeclared-value" || p["status"] != float64(503) {
						t.Errorf("problem %v", p)
					}
					detail, _ := p["detail"].(string)
					for _, want := range []string{"analysis", `"REVIEW"`, "CREATED, UPLOADING", "newer"} {
						if !strings.Contains(detail, want) {
							t.Errorf("detail %q does not say %q", detail, want)
						}
					}
					for _, not := range []string{"backends.", "*", "Error", "column status of table"} {
						if strings.Contains(detail, not) {
							t.Errorf("detail %q says %q", detail, not)
						}
					}
				})
			}
		})
	}
}
