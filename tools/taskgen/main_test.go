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
// seeds and a //go:generate line, runs go generate, then vets the generated
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
	run("generate", "./...")
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
