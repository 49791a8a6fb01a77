package gen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// listed loads the models of the golden cases that the catalog lists.
func goldenListed(t *testing.T) []*spec.Model {
	t.Helper()
	cases, _ := filepath.Glob("testdata/golden/*/spec.yaml")
	var out []*spec.Model
	for _, c := range cases {
		m, err := spec.LoadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		if gen.Listed(m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		t.Fatal("no golden case is listed")
	}
	return out
}

// schemaListed loads the built-in specs (schema/), which make gen/catalog.
func schemaListed(t *testing.T) []*spec.Model {
	t.Helper()
	models, err := spec.LoadDir("../../../../schema")
	if err != nil {
		t.Fatal(err)
	}
	var out []*spec.Model
	for _, m := range models {
		if gen.Listed(m) {
			out = append(out, m)
		}
	}
	return out
}

// TestOpenAPIGolden compares the document of the golden cases' listed
// models with testdata/golden/openapi.json.golden (-update accepts).
func TestOpenAPIGolden(t *testing.T) {
	got, err := gen.OpenAPI(goldenListed(t))
	if err != nil {
		t.Fatal(err)
	}
	golden := "testdata/golden/openapi.json.golden"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("openapi.json differs from %s (run go test -update to accept):\n%s", golden, firstDiff(string(got), string(want)))
	}
	again, _ := gen.OpenAPI(goldenListed(t))
	if !bytes.Equal(got, again) {
		t.Error("two runs give different documents")
	}
}

func loadOpenAPI(t *testing.T, models []*spec.Model) *openapi3.T {
	t.Helper()
	data, err := gen.OpenAPI(models)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI 3.1 document: %v", err)
	}
	return doc
}

// TestOpenAPIValid validates the documents of the built-in specs and of the
// golden cases with kin-openapi (OpenAPI 3.1, JSON Schema 2020-12).
func TestOpenAPIValid(t *testing.T) {
	loadOpenAPI(t, goldenListed(t))
	doc := loadOpenAPI(t, schemaListed(t))

	routes := map[string][]string{
		"/tasks":                       {"GET", "POST"},
		"/tasks/{id}":                  {"GET"},
		"/tasks/{id}/history":          {"GET"},
		"/tasks/{id}/cancel":           {"POST"},
		"/tasks/{id}/events":           {"GET"},
		"/tasks/{id}/upload-urls":      {"POST"},
		"/tasks/{id}/process":          {"POST"},
		"/tasks/{id}/downloads":        {"GET"},
		"/healthz":                     {"GET"},
		"/readyz":                      {"GET"},
		"/metrics":                     {"GET"},
		"/openapi.json":                {"GET"},
		"/worker/claim":                {"POST"},
		"/worker/tasks/{id}/heartbeat": {"POST"},
		"/worker/tasks/{id}/progress":  {"POST"},
		"/worker/tasks/{id}/complete":  {"POST"},
		"/worker/tasks/{id}/fail":      {"POST"},
		"/worker/tasks/{id}/release":   {"POST"},
		// Pipeline tracking (the catalog has the run and subtask models).
		"/pipelines/stages":                           {"GET", "POST"},
		"/pipelines/status":                           {"GET"},
		"/pipelines/active":                           {"GET"},
		"/pipelines/history":                          {"GET"},
		"/pipelines/runs":                             {"POST"},
		"/pipelines/runs/{id}":                        {"GET"},
		"/pipelines/runs/{id}/update":                 {"POST"},
		"/pipelines/runs/{id}/complete":               {"POST"},
		"/pipelines/runs/{id}/fail":                   {"POST"},
		"/pipelines/runs/{id}/skip":                   {"POST"},
		"/pipelines/runs/{id}/cancel":                 {"POST"},
		"/pipelines/runs/{id}/subtasks":               {"GET"},
		"/pipelines/runs/{id}/subtasks/{n}/start":     {"POST"},
		"/pipelines/runs/{id}/subtasks/{n}/update":    {"POST"},
		"/pipelines/runs/{id}/subtasks/{n}/increment": {"POST"},
		"/pipelines/runs/{id}/subtasks/{n}/complete":  {"POST"},
		"/pipelines/runs/{id}/subtasks/{n}/fail":      {"POST"},
	}
	if n := doc.Paths.Len(); n != len(routes) {
		t.Errorf("%d paths, want %d", n, len(routes))
	}
	for path, methods := range routes {
		item := doc.Paths.Value(path)
		if item == nil {
			t.Errorf("no path %s", path)
			continue
		}
		for _, method := range methods {
			op := item.GetOperation(method)
			if op == nil {
				t.Errorf("no %s %s", method, path)
				continue
			}
			public := path == "/healthz" || path == "/readyz" || path == "/openapi.json"
			if public != (op.Security != nil && len(*op.Security) == 0) {
				t.Errorf("%s %s: security %v; public = %v", method, path, op.Security, public)
			}
		}
	}

	// Seed requests and responses against the schemas.
	check := func(schema string, body string, ok bool) {
		t.Helper()
		s := doc.Components.Schemas[schema]
		if s == nil {
			t.Fatalf("no schema %s", schema)
		}
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		err := s.Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
		if ok && err != nil {
			t.Errorf("%s refuses %s: %v", schema, body, err)
		}
		if !ok && err == nil {
			t.Errorf("%s accepts %s", schema, body)
		}
	}
	// The upload → process lifecycle.
	check("analysis.create_request", `{"tool_id": "profile-my-data", "agents": ["unified-profiler", "score-risk"]}`, true)
	check("analysis.create_request", `{"task_type": "analysis", "tool_id": "t", "agents": ["a"]}`, true)
	check("analysis.create_request", `{"tool_id": "t", "agents": ["a"], "user_id": "mallory"}`, false)
	check("analysis.create_request", `{"tool_id": "", "agents": ["a"]}`, false)
	check("analysis.create_request", `{"tool_id": "t", "agents": []}`, false)
	check("analysis.create_request", `{"agents": ["a"]}`, false)
	check("analysis.upload_urls_request", `{"files": {"primary": {"filename": "data.csv", "content_type": "text/csv"}}, "has_parameters": true}`, true)
	check("analysis.upload_urls_request", `{"files": {"baseline": {"filename": "b.csv", "content_type": "text/csv"}}}`, false)
	check("analysis.upload_urls_request", `{"files": {"primary": {"filename": "a", "content_type": "text/csv", "size": 104857601}}}`, false)
	check("analysis.upload_urls_request", `{"files": {"primary": {"filename": "a", "content_type": "text/csv"}, "parameters": {"filename": "p", "content_type": "application/json"}}}`, false)
	check("training.create_request", `{"tool_id": "t", "agents": ["a"]}`, false)
	// The unified /tasks listing.
	check("ListRow", `{"id": "123e4567-e89b-12d3-a456-426614174000", "task_type": "training", "task_status": "R", "tag": "my-experiment", "created_at": "2024-01-15T10:30:00Z", "end_date": null}`, true)
	check("ListRow", `{"id": "123e4567-e89b-12d3-a456-426614174000", "task_type": "training", "task_status": "RUNNING", "tag": null, "created_at": "2024-01-15T10:30:00Z", "end_date": null}`, false)
	check("Problem", `{"type": "about:blank", "title": "Conflict", "status": 409, "detail": "cancel is not allowed from QUEUED", "current_status": "QUEUED", "allowed_actions": ["cancel"]}`, true)
	task := `{"task_id": "123e4567-e89b-12d3-a456-426614174000", "task_type": "analysis",
		"id": "123e4567-e89b-12d3-a456-426614174000", "status": "PROCESSING", "version": 4,
		"created_at": "2025-12-19T10:00:00Z", "updated_at": "2025-12-19T10:01:00Z",
		"user_id": "u", "tool_id": "profile-my-data", "agents": ["score-risk"], "progress": 55,
		"progress_detail": {"current_stage": "agent_execution", "current_agent": "score-risk", "agents_total": 6, "agents_completed": 3},
		"error_code": null, "error_message": null, "blobs_cleaned": false,
		"upload_started_at": "2025-12-19T10:00:10Z", "upload_failed_at": null, "queued_at": "2025-12-19T10:00:30Z",
		"processing_started_at": "2025-12-19T10:00:31Z", "completed_at": null, "failed_at": null,
		"cancelled_at": null, "expired_at": null}`
	check("analysis.Task", task, true)
	check("analysis.Task", strings.Replace(task, `"progress": 55`, `"progress": 101`, 1), false)
	check("analysis.Task", strings.Replace(task, `"error_code": null`, `"error_code": "NOPE"`, 1), false)
}

// TestTypeScriptCompiles type-checks every golden case's and built-in
// spec's types.ts with tsc --strict; it skips when tsc is not installed
// (npm i -g typescript).
func TestTypeScriptCompiles(t *testing.T) {
	tsc, err := exec.LookPath("tsc")
	if err != nil {
		t.Skip("tsc not found (npm i -g typescript): TypeScript output not type-checked")
	}
	dir := t.TempDir()
	cases, _ := filepath.Glob("testdata/golden/*/spec.yaml")
	models, err := spec.LoadDir("../../../../schema")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		m, err := spec.LoadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, m)
	}
	var files []string
	for i, m := range models {
		out, err := gen.Generate(m, gen.Options{ImportPath: "example.com/x"})
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, m.Name+"_"+string(rune('a'+i))+".ts")
		if err := os.WriteFile(name, out["types.ts"], 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, name)
	}
	cmd := exec.Command(tsc, append([]string{"--noEmit", "--strict", "--target", "es2017"}, files...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc: %v\n%s", err, out)
	}
}
