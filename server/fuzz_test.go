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

// FuzzListAndCreate sends fuzzed query strings to GET /tasks and fuzzed
// bodies to POST /tasks, on PostgreSQL when a server answers (its text
// rules are the strictest) and on SQLite otherwise: no answer may be a 5xx,
// and every error must be problem+json.
func FuzzListAndCreate(f *testing.F) {
	backend := "sqlite"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	if c, err := pgx.Connect(ctx, pgtest.URL()); err == nil {
		backend = "postgres"
		c.Close(ctx)
	} else {
		f.Logf("PostgreSQL at %s does not answer (%v): fuzzing on SQLite", pgtest.URL(), err)
	}
	cancel()
	e := newEnv(f, backend, envOptions{})
	for _, q := range []string{"", "tag=%00", "tag=%ff%fe", "offset=9223372036854775807", "%zz=1", "limit=5&offset=5", "status=R&task_type=training", "within_hours=99999999999", "a;b"} {
		f.Add(q, `{"tool_id":"t","agents":["a"]}`)
	}
	for _, b := range []string{``, `{}`, `{"task_type":"training","tag":"\ud800"}`, `[`, `{"tool_id":1e999}`, `{"agents":[` + strings.Repeat(`"a",`, 100) + `"a"]}`, `{"tool_id":"a\u0000b","agents":["x"]}`} {
		f.Add("", b)
	}
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
	f.Fuzz(func(t *testing.T, query, body string) {
		if req, err := http.NewRequest("GET", e.url+"/tasks?"+query, nil); err == nil && !strings.ContainsAny(query, "# \t\r\n") {
			check(t, req)
		}
		req, err := http.NewRequest("POST", e.url+"/tasks", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		check(t, req)
	})
}
