package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// otherModule is a Go module of a user's, in a temporary directory, that
// uses this repository's checkout (replace directives) with taskgen and
// sqlc as its tools, as the README's quick start sets one up.
type otherModule struct {
	t   *testing.T
	dir string
}

// newOtherModule writes the module's go.mod and go.sum (this repository's
// two, so that nothing is downloaded that the repository does not use).
func newOtherModule(t *testing.T, path string) *otherModule {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	m := &otherModule{t: t, dir: t.TempDir()}
	m.write("go.mod", `module `+path+`

go 1.26.8

tool (
	github.com/sqlc-dev/sqlc/cmd/sqlc
	github.com/taskmodel/taskmodel/tools/taskgen
)

require (
	github.com/sqlc-dev/sqlc v1.31.1
	github.com/taskmodel/taskmodel v0.0.0
	github.com/taskmodel/taskmodel/tools v0.0.0
)

replace (
	github.com/taskmodel/taskmodel => `+root+`
	github.com/taskmodel/taskmodel/tools => `+filepath.Join(root, "tools")+`
)
`)
	m.write("go.sum", m.read(filepath.Join(root, "go.sum"))+m.read(filepath.Join(root, "tools", "go.sum")))
	return m
}

// read returns the file at path (relative to the test's directory).
func (m *otherModule) read(path string) string {
	m.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		m.t.Fatal(err)
	}
	return string(data)
}

// write writes a file of the module, its directories made.
func (m *otherModule) write(name, data string) {
	m.t.Helper()
	path := filepath.Join(m.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

// run runs the go command in the module and returns its output; a failure
// fails the test.
func (m *otherModule) run(args ...string) string {
	m.t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = m.dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	if err != nil {
		m.t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
