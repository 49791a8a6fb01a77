package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/server"
)

// TestPagesSessionCookie: the session cookie counts only once a user
// interface is mounted, and only for reads.
func TestPagesSessionCookie(t *testing.T) {
	e := newEnv(t, "memory", envOptions{})
	cookie := func(method, path string) int {
		req, _ := http.NewRequest(method, e.url+path, nil)
		req.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: e.tokens["alice"]})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := cookie("GET", "/tasks"); got != http.StatusUnauthorized {
		t.Fatalf("GET /tasks with a session cookie, no UI mounted: %d, want 401", got)
	}
	e.srv.Mount("/ui-test/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	if got := cookie("GET", "/ui-test/x"); got != http.StatusTeapot {
		t.Fatalf("mounted handler: %d", got)
	}
	if got := cookie("GET", "/tasks"); got != http.StatusOK {
		t.Fatalf("GET /tasks with a session cookie: %d, want 200", got)
	}
	if got := cookie("POST", "/tasks"); got != http.StatusUnauthorized {
		t.Fatalf("POST /tasks with a session cookie only: %d, want 401", got)
	}
}

// TestPagesMethods: the page methods apply the API's filters and owner
// rules.
func TestPagesMethods(t *testing.T) {
	e := newEnv(t, "memory", envOptions{})
	ctx := context.Background()
	alice, bob := server.User{Name: "alice"}, server.User{Name: "bob"}

	var p *server.Problem
	if _, err := e.srv.ListFilter(url.Values{"status": {"X"}}); !errors.As(err, &p) || p.Status != 400 {
		t.Fatalf("ListFilter(status=X): %v", err)
	}
	changes := e.srv.WatchTasks(ctx, alice)
	bobs := e.create("bob")
	id := e.create("alice")
	select {
	case st := <-changes:
		if st.ID != id || st.Status != "CREATED" || st.Display.Label == "" || st.Code != "Q" {
			t.Fatalf("first change seen by alice: %+v", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no change")
	}
	f, err := e.srv.ListFilter(url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := e.srv.ListTasks(ctx, alice, f)
	if err != nil || len(rows) != 1 || rows[0].ID != id {
		t.Fatalf("alice's listing: %+v, %v", rows, err)
	}
	if _, err := e.srv.Task(ctx, bob, id); !errors.As(err, &p) || p.Status != 404 {
		t.Fatalf("bob reads alice's task: %v", err)
	}
	if _, err := e.srv.CancelTask(ctx, alice, bobs); !errors.As(err, &p) || p.Status != 404 {
		t.Fatalf("alice cancels bob's task: %v", err)
	}
	if _, err := e.srv.CancelTask(ctx, alice, id); !errors.As(err, &p) || p.Status != 409 {
		t.Fatalf("cancel in CREATED: %v, want the 409 of the transition table", err)
	}
	st, err := e.srv.Task(ctx, alice, id)
	if err != nil || st.CanCancel || st.Progress == nil {
		t.Fatalf("alice's task: %+v, %v", st, err)
	}
	if got := e.srv.ModelStatuses("analysis"); len(got) == 0 || got[0].Display.Label == "" {
		t.Fatalf("ModelStatuses(analysis): %+v", got)
	}
}
