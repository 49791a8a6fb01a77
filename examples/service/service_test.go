package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
)

// TestService runs the report service end to end on SQLite, PostgreSQL and
// MySQL (MariaDB),
// as a client sees it over HTTP: a report created with a token or
// anonymously is built by the worker pool until READY and its file
// downloads; a failing one ends FAILED with its error code; bad input is a
// problem+json 400 (401 for a bad token).
func TestService(t *testing.T) {
	for _, tc := range []struct {
		name     string
		database func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "reports.db") }},
		{"postgres", postgresURL},
		{"mysql", func(t *testing.T) string { return mysqltest.Database(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := start(t, tc.database(t))
			t.Run("token", func(t *testing.T) {
				t.Parallel()
				r := c.create(t, c.token, `{"title": "Signups", "kind": "SIGNUPS", "days": 3, "tag": "weekly"}`)
				r = c.wait(t, c.token, r.ID)
				if r.Status != "READY" || r.Rows == nil || *r.Rows != 3 || r.Progress != 100 || r.UserID != "ana" {
					t.Fatalf("report %+v, want READY with 3 rows, progress 100, of ana", r)
				}
				if csv := c.download(t, c.token, r.ID); strings.Count(csv, "\n") != 4 || !strings.HasPrefix(csv, "day,count,cents\n") {
					t.Errorf("report.csv:\n%s", csv)
				}
			})
			t.Run("anonymous", func(t *testing.T) {
				t.Parallel()
				r := c.create(t, "", `{"title": "Orders", "kind": "ORDERS", "days": 2, "format": "json"}`)
				r = c.wait(t, "", r.ID)
				if r.Status != "READY" || r.UserID != "anonymous" {
					t.Fatalf("report %+v, want READY of anonymous", r)
				}
				var rows []Row
				if err := json.Unmarshal([]byte(c.download(t, "", r.ID)), &rows); err != nil || len(rows) != 2 || rows[0].Cents == 0 {
					t.Errorf("report.json: %v, %+v", err, rows)
				}
			})
			t.Run("failure", func(t *testing.T) {
				t.Parallel()
				r := c.create(t, c.token, `{"title": "fail on purpose", "kind": "SIGNUPS"}`)
				r = c.wait(t, c.token, r.ID)
				if r.Status != "FAILED" || r.ErrorCode == nil || *r.ErrorCode != "NO_DATA" {
					t.Fatalf("report %+v, want FAILED with NO_DATA", r)
				}
			})
			t.Run("own route", func(t *testing.T) {
				t.Parallel()
				res, body := c.do(t, "GET", "/reports/kinds", "", "")
				if res.StatusCode != 200 || !strings.Contains(body, `"SIGNUPS"`) || !strings.Contains(body, `"csv"`) {
					t.Errorf("GET /reports/kinds: %d %s", res.StatusCode, body)
				}
			})
			t.Run("bad input", func(t *testing.T) {
				t.Parallel()
				for _, bad := range []struct {
					name, token, body string
					status            int
					field             string // named in errors[] or the detail
				}{
					{"empty title", c.token, `{"title": "", "kind": "SIGNUPS"}`, 400, "title"},
					{"unknown kind", c.token, `{"title": "x", "kind": "WEATHER"}`, 400, "kind"},
					{"days out of range", c.token, `{"title": "x", "kind": "SIGNUPS", "days": 0}`, 400, "days"},
					{"missing kind", c.token, `{"title": "x"}`, 400, "kind"},
					{"field not for clients", c.token, `{"title": "x", "kind": "SIGNUPS", "rows": 5}`, 400, "rows"},
					{"not JSON", c.token, `{"title": `, 400, "body"},
					{"bad token", "tm_nope", `{"title": "x", "kind": "SIGNUPS"}`, 401, ""},
				} {
					t.Run(bad.name, func(t *testing.T) {
						res, body := c.do(t, "POST", "/tasks", bad.token, bad.body)
						if res.StatusCode != bad.status || res.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, bad.field) {
							t.Errorf("%d %s %s, want %d problem+json naming %q", res.StatusCode, res.Header.Get("Content-Type"), body, bad.status, bad.field)
						}
					})
				}
			})
		})
	}
}

// postgresURL is a URL of the test server whose connections use a fresh
// schema, dropped when the test ends (pgtest skips loudly without a
// server, and fails under CI=true).
func postgresURL(t *testing.T) string {
	cfg := pgtest.Schema(t)
	u, err := url.Parse(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", cfg.ConnConfig.RuntimeParams["search_path"])
	u.RawQuery = q.Encode()
	return u.String()
}

// client talks to a running service.
type client struct {
	url   string
	token string // a token of the user ana
	// http is the server's own client: the default one's idle connections
	// are closed under it by a parallel test's httptest server closing.
	http *http.Client
}

// start opens the service on database and serves it until the test ends.
func start(t *testing.T, database string) *client {
	ts := httptest.NewUnstartedServer(nil) // listens on 127.0.0.1: anonymous access applies
	svc, err := Open(t.Context(), Config{
		Database:  database,
		BlobDir:   t.TempDir(),
		PublicURL: "http://" + ts.Listener.Addr().String(),
		Anonymous: true,
		Workers:   4,
		StepTime:  10 * time.Millisecond,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = svc.Handler()
	ts.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	t.Cleanup(func() { ts.Close(); cancel(); <-done; svc.Close() })
	token, _, err := svc.Tokens.Create(t.Context(), "ana", false)
	if err != nil {
		t.Fatal(err)
	}
	return &client{url: ts.URL, token: token, http: ts.Client()}
}

// reportJSON is what GET /tasks/{id} returns of a report.
type reportJSON struct {
	ID        string  `json:"task_id"`
	Type      string  `json:"task_type"`
	Status    string  `json:"status"`
	Progress  int     `json:"progress"`
	Rows      *int    `json:"rows"`
	UserID    string  `json:"user_id"`
	ErrorCode *string `json:"error_code"`
}

func (c *client) do(t *testing.T, method, path, token, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(data)
}

func (c *client) create(t *testing.T, token, body string) reportJSON {
	t.Helper()
	res, data := c.do(t, "POST", "/tasks", token, body)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST /tasks %s: %d %s", body, res.StatusCode, data)
	}
	var r reportJSON
	if err := json.Unmarshal([]byte(data), &r); err != nil || r.Type != "report" || r.Status != "QUEUED" {
		t.Fatalf("POST /tasks: %v, %s", err, data)
	}
	return r
}

// wait polls the report until it is finished.
func (c *client) wait(t *testing.T, token, id string) reportJSON {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, data := c.do(t, "GET", "/tasks/"+id, token, "")
		var r reportJSON
		if err := json.Unmarshal([]byte(data), &r); err != nil || res.StatusCode != 200 {
			t.Fatalf("GET /tasks/%s: %d %s", id, res.StatusCode, data)
		}
		switch r.Status {
		case "READY", "FAILED", "CANCELLED":
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("report %s still %s after 30 s", id, r.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// download fetches the report's file through its signed URL.
func (c *client) download(t *testing.T, token, id string) string {
	t.Helper()
	res, data := c.do(t, "GET", "/tasks/"+id+"/downloads", token, "")
	var out struct {
		Downloads []struct {
			Name string `json:"name"`
			URL  string `json:"url"`
		} `json:"downloads"`
	}
	if err := json.Unmarshal([]byte(data), &out); err != nil || res.StatusCode != 200 || len(out.Downloads) != 1 {
		t.Fatalf("GET /tasks/%s/downloads: %d %s", id, res.StatusCode, data)
	}
	file, err := c.http.Get(out.Downloads[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Body.Close()
	body, _ := io.ReadAll(file.Body)
	if file.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", out.Downloads[0].URL, file.StatusCode, body)
	}
	return string(body)
}

// TestOpenFails: Open returns the error that stopped it, having closed what
// it had opened, and never panics (a deferred Close once ran on the nil
// *Service that the error return had set).
func TestOpenFails(t *testing.T) {
	dir := t.TempDir()
	notDir, notDB := filepath.Join(dir, "file"), filepath.Join(dir, "text.db")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"a database file that is not SQLite", Config{Database: "sqlite:" + notDB, BlobDir: t.TempDir()}, "not a database"},
		{"the blob directory is a file", Config{Database: "sqlite:" + filepath.Join(dir, "r.db"), BlobDir: notDir}, "file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = slog.New(slog.DiscardHandler)
			svc, err := Open(t.Context(), tc.cfg)
			if err == nil {
				svc.Close()
				t.Fatal("Open succeeded")
			}
			if svc != nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Open = %v, %q; want nil and an error about %q", svc, err, tc.wantErr)
			}
		})
	}
}
