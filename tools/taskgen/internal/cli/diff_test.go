package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/cli"
)

// TestDiff generates a model, changes its spec, and runs taskgen diff
// against the snapshot, then against a git revision; a breaking change
// fails it until the spec acknowledges it.
func TestDiff(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/d\n"), 0o644)
	specs := filepath.Join(dir, "schema")
	os.MkdirAll(specs, 0o755)
	v1 := "model: job\nstatuses:\n  A: {initial: true}\n  B: {terminal: true}\nevents:\n  go: {from: A, to: B}\nfields:\n  note: {type: string, optional: true, max_len: 100}\n"
	os.WriteFile(filepath.Join(specs, "job.yaml"), []byte(v1), 0o644)
	out := filepath.Join(dir, "gen")
	var stderr bytes.Buffer
	if code := cli.Run([]string{"-spec", specs, "-out", out, "-sqlc", filepath.Join(dir, "sqlc.yaml")}, &stderr); code != cli.ExitOK {
		t.Fatalf("generate: %d %s", code, stderr.String())
	}
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.email=t@example.com", "-c", "user.name=t"}, args...)...)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "v1")

	v2 := strings.Replace(v1, "note: {type: string, optional: true, max_len: 100}", "comment: {type: string, optional: true, max_len: 50, renamed_from: note}", 1)
	os.WriteFile(filepath.Join(specs, "job.yaml"), []byte(v2), 0o644)
	t.Chdir(dir)
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"snapshot", []string{"-spec", "schema", "-out", "gen"}, cli.ExitBreaking, []string{
			"## Model `job`: changes since migration `0001_schema`",
			"- rename field note to comment (values kept)",
			"`job.comment: at most 50 characters`",
			"- field `note` renamed to `comment` (**breaking**: `field.note.renamed`)",
			"  - field.comment.narrowed\n  - field.note.renamed\n",
		}},
		{"git", []string{"-spec", "schema/job.yaml", "-base", "HEAD"}, cli.ExitBreaking, []string{"## Model `job`: changes since `HEAD`", "field.note.renamed"}},
		{"usage", []string{"-spec", "schema"}, cli.ExitUsage, nil},
		{"bad ref", []string{"-spec", "schema", "-base", "no-such-ref"}, cli.ExitIO, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := cli.Main(append([]string{"diff"}, tt.args...), &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
	// Acknowledged, the same change passes.
	os.WriteFile(filepath.Join(specs, "job.yaml"), []byte(v2+"breaking_changes: [field.note.renamed, field.comment.narrowed]\n"), 0o644)
	var stdout bytes.Buffer
	if code := cli.Main([]string{"diff", "-spec", "schema", "-base", "HEAD"}, &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("acknowledged: exit %d\n%s", code, stdout.String())
	}
	if !strings.Contains(stdout.String(), "(breaking, acknowledged: `field.note.renamed`)") {
		t.Errorf("report:\n%s", stdout.String())
	}
}
