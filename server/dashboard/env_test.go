package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/auth"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/blob/local"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/server/dashboard"
	"github.com/taskmodel/taskmodel/server/demo"
)

// env is taskmodel serve as the CLI builds it — the models over one
// database, the token store, a demo worker pool for analysis tasks, the
// API and the dashboard — on a loopback listener, with tokens for alice,
// bob and admin (an admin).
type env struct {
	t      testing.TB
	url    string
	tokens map[string]string
	ids    map[string]string // token ids by user
	store  auth.Store
	// exec runs a statement on the database ($1, $2… parameters); nil on
	// the memory backend.
	exec func(query string, args ...any)
	// tracker is the server's pipeline tracker, on the same database.
	tracker *pipeline.Tracker
}

type envOptions struct {
	backend   string // memory, sqlite, postgres or mysql
	agentTime time.Duration
	anonymous bool
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var b *server.Backend
	var tokens auth.Store
	var err error
	var exec func(query string, args ...any)
	switch o.backend {
	case "sqlite":
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tasks.db"), catalog.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		b = server.SQLite(db)
		exec = func(q string, args ...any) {
			if _, err := db.ExecContext(ctx, regexp.MustCompile(`\$([0-9]+)`).ReplaceAllString(q, "?$1"), args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if tokens, err = auth.NewSQLite(ctx, db); err != nil {
			t.Fatal(err)
		}
	case "postgres":
		pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), catalog.Migrations(postgres.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		b = server.Postgres(pool)
		exec = func(q string, args ...any) {
			if _, err := pool.Exec(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if tokens, err = auth.NewPostgres(ctx, pool); err != nil {
			t.Fatal(err)
		}
	case "mysql":
		db, err := mysql.Open(ctx, mysqltest.Database(t), catalog.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		b = server.MySQL(db)
		exec = func(q string, args ...any) {
			// The tests' statements take their parameters in order.
			if _, err := db.ExecContext(ctx, regexp.MustCompile(`\$[0-9]+`).ReplaceAllString(q, "?"), args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if tokens, err = auth.NewMySQL(ctx, db); err != nil {
			t.Fatal(err)
		}
	default:
		b, tokens = server.Memory(), auth.NewMemory()
	}
	models, err := catalog.Serve(b)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, tokens: map[string]string{}, ids: map[string]string{}, store: tokens, exec: exec}
	for _, u := range []struct {
		name  string
		admin bool
	}{{"alice", false}, {"bob", false}, {"admin", true}} {
		secret, tok, err := tokens.Create(ctx, u.name, u.admin)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.name], e.ids[u.name] = secret, tok.ID
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	blobs, err := local.New(local.Config{Dir: t.TempDir(), BaseURL: e.url + "/blobs/", SigningKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	quiet := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pipelines, err := b.PipelineStorage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.tracker = pipeline.New(pipelines, pipeline.WithLogger(quiet))
	eng, err := server.Engine[analysis.Task, analysis.Event](models, analysis.ModelName)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := worker.New(eng, demo.Handler(blobs, o.agentTime), worker.Config{Concurrency: 4, PollInterval: 20 * time.Millisecond, CancelCheck: 20 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	anon := ""
	if o.anonymous {
		anon = "anonymous"
	}
	srv, err := server.New(server.Config{
		Models: models, DefaultTaskType: analysis.ModelName,
		Authenticate: func(ctx context.Context, token string) (server.User, error) {
			u, err := tokens.Authenticate(ctx, token)
			if errors.Is(err, auth.ErrUnauthorized) {
				return server.User{}, server.ErrUnauthorized
			}
			if err != nil {
				return server.User{}, err
			}
			return server.AuthUser(u), nil
		},
		Anonymous: anon, Blobs: blobs, BlobHandler: blobs.Handler(),
		Logger: quiet, SweepEvery: time.Hour, Heartbeat: time.Second, TokenRecheck: 100 * time.Millisecond,
		Wake:      func(string) { pool.Wake() },
		Pipelines: e.tracker,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dashboard.Mount(srv, dashboard.Options{Logger: quiet, Heartbeat: time.Second}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = pool.Run(ctx) })
	wg.Go(func() { _ = srv.Run(ctx) })
	wg.Go(func() { _ = srv.Serve(ctx, ln, 5*time.Second) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return e
}

// api calls the JSON API as user ("" for none) and decodes the answer.
func (e *env) api(method, path, user, body string, header ...string) (int, map[string]any) {
	e.t.Helper()
	target := path
	if strings.HasPrefix(path, "/") {
		target = e.url + path
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return res.StatusCode, m
}

func (e *env) must(status int, method, path, user, body string, header ...string) map[string]any {
	e.t.Helper()
	got, m := e.api(method, path, user, body, header...)
	if got != status {
		e.t.Fatalf("%s %s: status %d, want %d: %v", method, path, got, status, m)
	}
	return m
}

// analysis creates an analysis task of user running agents.
func (e *env) analysis(user string, agents ...string) string {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"tool_id": "profile-my-data", "agents": agents})
	return e.must(201, "POST", "/tasks", user, string(body))["task_id"].(string)
}

// create creates a task of another type with fields.
func (e *env) create(user, taskType string, fields map[string]any) string {
	e.t.Helper()
	fields["task_type"] = taskType
	body, _ := json.Marshal(fields)
	return e.must(201, "POST", "/tasks", user, string(body))["task_id"].(string)
}

// process uploads the task's primary file and queues it: the worker pool
// then runs it.
func (e *env) process(user, id string) {
	e.t.Helper()
	ups := e.must(200, "POST", "/tasks/"+id+"/upload-urls", user, `{"files":{"primary":{"filename":"data.csv","content_type":"text/csv"}}}`)["uploads"].(map[string]any)
	url := ups["primary"].(map[string]any)["url"].(string)
	e.must(200, "PUT", url, "", "a,b\n1,2\n", "Content-Type", "text/csv")
	e.must(200, "POST", "/tasks/"+id+"/process", user, "")
}

// waitStatus waits until the API shows the task in status.
func (e *env) waitStatus(user, id, status string) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, m := e.api("GET", "/tasks/"+id, user, "")
		if m["status"] == status {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("task %s is %v, want %s", id, m["status"], status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// client is a browser-like HTTP client with a cookie jar that does not
// follow redirects.
func client(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
