package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/cli"
)

// TestMergedBranches follows two branches that each changed the spec and
// each got migration 0013, merged with git: generation names both
// migrations' files; with one branch's deleted as it says, it writes the
// other's change as 0014 over the merged spec, and the sum file, which git
// left with conflict markers, is written anew.
func TestMergedBranches(t *testing.T) {
	ackProject(t, ackV1)
	git := func(args ...string) string {
		t.Helper()
		out, _ := exec.Command("git", append([]string{"-c", "user.email=t@example.com", "-c", "user.name=t"}, args...)...).CombinedOutput()
		return string(out)
	}
	branch := func(name, field string) {
		t.Helper()
		git("checkout", "-q", "-b", name, "master")
		writeFile(t, filepath.Join("schema", "job.yaml"), ackV1+"  "+field+": {type: string, optional: true}\n")
		if code, msg := ackGenerate(); code != cli.ExitOK {
			t.Fatalf("generate on %s: %d %s", name, code, msg)
		}
		git("add", ".")
		git("commit", "-qm", name)
	}
	git("branch", "-m", "master")
	branch("a", "region")
	branch("b", "team")
	git("checkout", "-q", "a")
	out := git("merge", "-q", "b")
	if !strings.Contains(out, "CONFLICT") {
		t.Fatalf("the merge did not conflict:\n%s", out)
	}
	// The spec, merged by hand: both fields.
	writeFile(t, filepath.Join("schema", "job.yaml"), ackV1+"  region: {type: string, optional: true}\n  team: {type: string, optional: true}\n")
	sum, err := os.ReadFile(filepath.Join("gen", "job", "migrations", "taskmodel.sum"))
	if err != nil || !strings.Contains(string(sum), "<<<<<<<") {
		t.Fatalf("the sum file after the merge (%v):\n%s", err, sum)
	}
	code, msg := ackGenerate()
	mig := filepath.Join("gen", "job", "migrations")
	if code != cli.ExitIO || !strings.Contains(msg, "migrations 0013_add_region and 0013_add_team have the same number 0013") ||
		!strings.Contains(msg, "delete the other's files in "+mig+" (0013_add_team's: postgresql/0013_add_team.sql, sqlite/0013_add_team.sql, mysql/0013_add_team.sql and spec/0013_add_team.yaml; or 0013_add_region's: postgresql/0013_add_region.sql, ") {
		t.Fatalf("generate after the merge: exit %d\n%s", code, msg)
	}
	// Keep b's (say a database applied it), delete a's.
	for _, f := range []string{"postgresql/0013_add_region.sql", "sqlite/0013_add_region.sql", "mysql/0013_add_region.sql", "spec/0013_add_region.yaml"} {
		must(t, os.Remove(filepath.Join(mig, filepath.FromSlash(f))))
	}
	if code, msg := ackGenerate(); code != cli.ExitOK || msg != "" {
		t.Fatalf("generate after deleting a's migration: exit %d\n%s", code, msg)
	}
	if _, err := os.Stat(filepath.Join(mig, "sqlite", "0014_add_region.sql")); err != nil {
		t.Errorf("a's change is not migration 0014: %v", err)
	}
	sum, _ = os.ReadFile(filepath.Join(mig, "taskmodel.sum"))
	if strings.Contains(string(sum), "<<<<<<<") || !strings.Contains(string(sum), "sqlite/0014_add_region.sql ") || strings.Contains(string(sum), "0013_add_region") {
		t.Errorf("the sum file:\n%s", sum)
	}
	// Generating again changes nothing; taskgen diff agrees.
	if code, msg := ackGenerate(); code != cli.ExitOK || msg != "" {
		t.Fatalf("generate again: exit %d\n%s", code, msg)
	}
	if out := ackDiff(t, cli.ExitOK, "-out", "gen"); !strings.Contains(out, "No change.") {
		t.Errorf("diff -out:\n%s", out)
	}
}
