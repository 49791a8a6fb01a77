package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
)

// FuzzPipelineRoutes sends fuzzed bodies and query strings to the
// /pipelines routes (a registered task, a started run and its first
// subtask exist), on PostgreSQL when a server answers and on SQLite
// otherwise: no answer may be a 5xx, and every error must be problem+json.
func FuzzPipelineRoutes(f *testing.F) {
	backend := "sqlite"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	if c, err := pgx.Connect(ctx, pgtest.URL()); err == nil {
		backend = "postgres"
		c.Close(ctx)
	} else {
		f.Logf("PostgreSQL at %s does not answer (%v): fuzzing on SQLite", pgtest.URL(), err)
	}
	cancel()
	e := newEnv(f, backend, envOptions{pipelines: true})
	e.must(200, "POST", "/pipelines/stages", "alice", registerBody)
	run := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Build","total_subtasks":5}`).json(f)["id"].(string)
	e.must(201, "POST", "/pipelines/runs/"+run+"/subtasks/1/start", "alice", `{"name":"Load","items_total":100}`)
	posts := []string{"/pipelines/stages", "/pipelines/runs", "/pipelines/runs/{id}/update", "/pipelines/runs/{id}/complete",
		"/pipelines/runs/{id}/fail", "/pipelines/runs/{id}/subtasks/1/update", "/pipelines/runs/{id}/subtasks/1/increment",
		"/pipelines/runs/{id}/subtasks/2/start", "/pipelines/runs/{id}/subtasks/1/complete", "/pipelines/runs/{id}/subtasks/1/fail"}
	for i, b := range []string{``, `{}`, `{"stages":[{"name":"\u0000"}]}`, `{"tasks":[{"stage":"S","name":"` + strings.Repeat("x", 300) + `"}]}`,
		`{"stage":"STATIC","task":"Build","environment":{"a":1e999}}`, `{"percent":1e308}`, `{"message":"\ud800"}`, `{"items_complete":9223372036854775807}`,
		`{"by":-1}`, `{"name":"a\tb","items_total":1}`, `{"force":null}`, `[`} {
		f.Add(uint8(i), b, "stage=STATIC")
	}
	f.Add(uint8(0), `{}`, "limit=99999999999999999999")
	f.Add(uint8(0), `{}`, "stage=%00")
	client := &http.Client{Timeout: 30 * time.Second}
	check := func(t *testing.T, req *http.Request) {
		req.Header.Set("Authorization", "Bearer "+e.tokens["alice"])
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s: %d %s", req.Method, req.URL, res.StatusCode, body)
		}
		if res.StatusCode >= 400 && res.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %s: %d with Content-Type %q: %s", req.Method, req.URL, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body, query string) {
		path := strings.ReplaceAll(posts[int(route)%len(posts)], "{id}", run)
		req, err := http.NewRequest("POST", e.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		check(t, req)
		if strings.ContainsAny(query, "# \t\r\n") {
			return
		}
		for _, get := range []string{"/pipelines/status", "/pipelines/history"} {
			if req, err := http.NewRequest("GET", e.url+get+"?"+query, nil); err == nil {
				check(t, req)
			}
		}
	})
}
