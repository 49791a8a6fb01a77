package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/cli"
)

// TestPathsUnderGoGenerate: go generate runs taskgen in the directory of
// the file that asks for it, while its user is at the module's root; a
// message about a migration names the file from there, so that the git
// command it gives runs as it is. Run directly, taskgen names it as its
// -out flag does.
func TestPathsUnderGoGenerate(t *testing.T) {
	const spec = "model: job\nstatuses:\n  A: {initial: true}\n  B: {terminal: true}\nevents:\n  go: {from: A, to: B}\nfields:\n  note: {type: string, optional: true}\n"
	for _, tc := range []struct {
		name     string
		generate bool // under go generate
		want     string
	}{
		{"go generate", true, "git checkout -- tasks/renderjob/migrations/sqlite/0001_schema.sql"},
		{"run directly", false, "git checkout -- renderjob/migrations/sqlite/0001_schema.sql"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "go.mod"), "module example.com/d\n")
			must(t, os.MkdirAll(filepath.Join(root, "tasks"), 0o755))
			writeFile(t, filepath.Join(root, "tasks", "job.yaml"), spec)
			t.Chdir(filepath.Join(root, "tasks"))
			if tc.generate {
				t.Setenv("GOFILE", "generate.go")
				t.Setenv("GOPACKAGE", "tasks")
			}
			run := func() (int, string) {
				var stderr bytes.Buffer
				code := cli.Run([]string{"-spec", "job.yaml", "-out", "renderjob", "-sqlc", "sqlc.yaml"}, &stderr)
				return code, stderr.String()
			}
			if code, msg := run(); code != cli.ExitOK {
				t.Fatalf("generate: %d %s", code, msg)
			}
			f := filepath.Join("renderjob", "migrations", "sqlite", "0001_schema.sql")
			data, err := os.ReadFile(f)
			must(t, err)
			writeFile(t, f, string(data)+"-- edited\n")
			code, msg := run()
			if code == cli.ExitOK || !strings.Contains(msg, "("+tc.want+")") {
				t.Fatalf("exit %d, want the message to hold %q:\n%s", code, tc.want, msg)
			}
		})
	}
}
