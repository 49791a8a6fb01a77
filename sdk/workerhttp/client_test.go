package workerhttp_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/taskmodel/taskmodel/sdk/workerhttp"
)

// TestProblems: the server's problem+json answers become *Problem errors
// that IsLeaseLost and HasField tell apart; the request carries the token.
func TestProblems(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tm_x" || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		switch r.URL.Path {
		case "/worker/tasks/a/heartbeat":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"type":"urn:taskmodel:problem:lease-lost","title":"Lease lost","status":409,"detail":"gone"}`))
		case "/worker/tasks/a/progress":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"type":"urn:taskmodel:problem:validation","title":"Invalid request","status":400,"errors":[{"field":"percent","message":"must be between 0 and 100"}]}`))
		case "/worker/tasks/a/release":
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"QUEUED","body":` + string(body) + `}`))
		case "/worker/claim":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"tasks":[{"task_type":"training","id":"a","lease":"l","heartbeat_seconds":10,"task":{"status":"RUNNING"}}]}`))
		default:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("not json"))
		}
	}))
	defer srv.Close()
	c, err := workerhttp.New(srv.URL, "tm_x")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tasks, err := c.Claim(ctx, workerhttp.ClaimRequest{Limit: 1})
	if err != nil || len(tasks) != 1 || tasks[0].Lease != "l" || string(tasks[0].Task) != `{"status":"RUNNING"}` {
		t.Fatalf("Claim = %+v, %v", tasks, err)
	}
	_, err = c.Heartbeat(ctx, "a", "l")
	if !workerhttp.IsLeaseLost(err) || workerhttp.HasField(err, "lease") {
		t.Errorf("heartbeat: %v", err)
	}
	_, err = c.Progress(ctx, "a", "l", 120, nil)
	if !workerhttp.HasField(err, "percent") || workerhttp.IsLeaseLost(err) {
		t.Errorf("progress: %v", err)
	}
	got, err := c.Release(ctx, "a", "l", "no GPU")
	if err != nil || string(got) != `{"status":"QUEUED","body":{"lease":"l","message":"no GPU"}}` {
		t.Errorf("release: %s, %v", got, err)
	}
	if got, err = c.Release(ctx, "a", "l", ""); err != nil || string(got) != `{"status":"QUEUED","body":{"lease":"l"}}` {
		t.Errorf("release without a reason: %s, %v", got, err)
	}
	_, err = c.Complete(ctx, "b", "l", nil)
	var p *workerhttp.Problem
	if !errors.As(err, &p) || p.Status != http.StatusBadGateway || p.Detail != "not json" {
		t.Errorf("complete: %v", err)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct{ url, token string }{{"ftp://x", "t"}, {"http://", "t"}, {"::", "t"}, {"http://x", ""}} {
		if _, err := workerhttp.New(tc.url, tc.token); err == nil {
			t.Errorf("New(%q, %q) accepted", tc.url, tc.token)
		}
	}
}

// TestUnreachable: a server that does not answer is said so, with the
// system's reason, not the HTTP client's text of the method and URL.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	c, err := workerhttp.New(url, "tok")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Heartbeat(context.Background(), "0190f6a8-8b5e-7c4e-9d3a-2f1b4c5d6e7f", "lease")
	var ue *workerhttp.UnreachableError
	if !errors.As(err, &ue) || err.Error() != "cannot reach the server at "+url+" (connection refused)" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %v", err)
	}
}
