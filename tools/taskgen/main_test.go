package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoGenerateInAnotherModule does what another team does: in a module of
// its own it declares taskgen as a tool, writes a spec that is none of the
// built-in models and a //go:generate line, runs go generate, then vets the generated
// package and runs tests against it. Both taskmodel modules are replaced by
// this checkout, so the test needs only the module cache and proxy.
func TestGoGenerateInAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with go generate and go test; skipped with -short")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	read := func(path string) []byte {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	gomod := `module example.com/renders

go 1.26.8

tool github.com/taskmodel/taskmodel/tools/taskgen

require (
	github.com/taskmodel/taskmodel v0.0.0
	github.com/taskmodel/taskmodel/tools v0.0.0
)

replace (
	github.com/taskmodel/taskmodel => ` + root + `
	github.com/taskmodel/taskmodel/tools => ` + filepath.Join(root, "tools") + `
)
`
	files := map[string][]byte{
		"go.mod":                      []byte(gomod),
		"go.sum":                      append(read(filepath.Join(root, "go.sum")), read(filepath.Join(root, "tools", "go.sum"))...),
		"renderjob.yaml":              read("internal/gen/testdata/golden/renderjob/spec.yaml"),
		"generate.go":                 []byte("// Package renders holds the render-job model.\npackage renders\n\n//go:generate go run github.com/taskmodel/taskmodel/tools/taskgen -spec renderjob.yaml -out renderjob\n"),
		"renderjob/renderjob_test.go": read("testdata/compile/renderjob_test.go.txt"),
	}
	for name, data := range files {
		path := filepath.Join(mod, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		cmd := exec.Command("go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("generate", ".")
	for _, name := range []string{"doc.go", "status.go", "event.go", "model.go", "README.md"} {
		if _, err := os.Stat(filepath.Join(mod, "renderjob", name)); err != nil {
			t.Errorf("go generate did not write %s: %v", name, err)
		}
	}
	run("mod", "tidy")
	run("vet", "./...")
	out := run("test", "-count=1", "-v", "./...")
	for _, name := range []string{"TestLifecycle", "TestTables", "TestValidate", "TestJSON"} {
		if !strings.Contains(out, "--- PASS: "+name) {
			t.Errorf("%s did not pass:\n%s", name, out)
		}
	}
}

// TestSpecChangeInAnotherModule is a team's second week: in a module of its
// own, with taskgen and sqlc as tools, it generates the job spec, writes
// tasks into a SQLite file, changes the spec (a field renamed, a field
// added with a backfill, a status retired), runs go generate again, and the
// same database file opens, migrates, reads the old tasks and moves them on.
func TestSpecChangeInAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with go generate, sqlc and go run; skipped with -short")
	}
	m := newOtherModule(t, "example.com/evolution")
	m.write("generate.go", "// Package evolution holds the job model.\npackage evolution\n\n"+
		"//go:generate go tool taskgen -spec job.yaml -out job -sqlc sqlc.yaml\n//go:generate go tool sqlc generate -f sqlc.yaml\n")
	v1 := m.read("internal/gen/testdata/evolve/base.yaml")
	m.write("job.yaml", v1)
	m.run("mod", "tidy")
	m.run("generate", ".")
	m.write("cmd/step/main.go", m.read("testdata/evolve/v1_main.go.txt"))
	m.run("mod", "tidy")
	if out := m.run("run", "./cmd/step"); out != "queued QUEUED\nrunning RUNNING\npaused PAUSED\ndone DONE\n" {
		t.Fatalf("v1 wrote:\n%s", out)
	}

	v2 := strings.NewReplacer(
		"  note: {type: string, optional: true, max_len: 100}\n", "  comment: {type: string, optional: true, max_len: 100, renamed_from: note}\n  region: {type: string, max_len: 20, backfill: eu}\n",
		"create: [tag, note,", "create: [tag, comment,",
		"  PAUSED: {code: Q}\n", "",
		"  pause: {from: RUNNING, to: PAUSED}\n  resume: {from: PAUSED, to: RUNNING}\n", "",
		"fail: {from: [RUNNING, PAUSED]", "fail: {from: [RUNNING]",
		"cancel: {from: [QUEUED, RUNNING, PAUSED]", "cancel: {from: [QUEUED, RUNNING]",
		"worker:\n", "retired:\n  statuses:\n    PAUSED: {replaced_by: QUEUED}\n  events: [pause, resume]\nworker:\n",
	).Replace(v1)
	m.write("job.yaml", v2)
	m.write("cmd/step/main.go", m.read("testdata/evolve/v2_main.go.txt"))
	m.run("generate", ".")
	migrations, _ := filepath.Glob(filepath.Join(m.dir, "job", "migrations", "sqlite", "*.sql"))
	if n := len(migrations); n != 9 {
		t.Errorf("%d SQLite migrations after the change, want 8 and the new one", n)
	}
	want := "queued QUEUED eu 1\npaused QUEUED eu 4\n" +
		"  1  -> QUEUED  by v1\n  2 QUEUED -> RUNNING start by v1\n  3 RUNNING -> PAUSED pause by v1\n" +
		"  4 PAUSED -> QUEUED  by taskmodel migrate\n  5 QUEUED -> RUNNING start by v2\n  6 RUNNING -> DONE complete by v2\n" +
		"running RUNNING eu 2\ndone DONE eu 3\n"
	if out := m.run("run", "./cmd/step"); out != want {
		t.Errorf("v2 read and moved:\n%s\nwant:\n%s", out, want)
	}
	// Generating again changes nothing.
	before := m.read(filepath.Join(m.dir, "job", "model.go"))
	m.run("generate", ".")
	if after := m.read(filepath.Join(m.dir, "job", "model.go")); after != before {
		t.Error("a second go generate changed model.go")
	}
	if again, _ := filepath.Glob(filepath.Join(m.dir, "job", "migrations", "sqlite", "*.sql")); len(again) != len(migrations) {
		t.Errorf("a second go generate wrote %d migrations, the first %d", len(again), len(migrations))
	}
}
