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

// TestMergedMigrationsDiffer: two branches each generated the same
// migration (same name) from different specs; git leaves its files with
// conflict markers, which generation refuses, saying to keep one side;
// with one side kept, it generates the difference as the next migration.
func TestMergedMigrationsDiffer(t *testing.T) {
	ackProject(t, ackV1)
	git := func(args ...string) string {
		t.Helper()
		out, _ := exec.Command("git", append([]string{"-c", "user.email=t@example.com", "-c", "user.name=t"}, args...)...).CombinedOutput()
		return string(out)
	}
	git("branch", "-m", "master")
	for _, b := range []struct{ name, limit string }{{"a", "10"}, {"b", "20"}} {
		git("checkout", "-q", "-b", b.name, "master")
		writeFile(t, filepath.Join("schema", "job.yaml"), ackV1+"  region: {type: string, optional: true, max_len: "+b.limit+"}\n")
		if code, msg := ackGenerate(); code != cli.ExitOK {
			t.Fatalf("generate on %s: %d %s", b.name, code, msg)
		}
		git("add", ".")
		git("commit", "-qm", b.name)
	}
	git("checkout", "-q", "a")
	git("merge", "-q", "b")
	writeFile(t, filepath.Join("schema", "job.yaml"), ackV1+"  region: {type: string, optional: true, max_len: 20}\n")
	mig := filepath.Join("gen", "job", "migrations")
	code, msg := ackGenerate()
	want := "taskgen: job: " + filepath.Join(mig, "postgresql", "0013_add_region.sql") + ":"
	if code != cli.ExitIO || !strings.HasPrefix(msg, want) ||
		!strings.Contains(msg, "holds a merge conflict marker (<<<<<<< HEAD): two merged branches each generated migration 0013_add_region, differently. Keep one branch's files of it for every engine and its spec snapshot (git checkout --ours or --theirs -- "+
			filepath.Join(mig, "postgresql", "0013_add_region.sql")+" "+filepath.Join(mig, "sqlite", "0013_add_region.sql")+" "+filepath.Join(mig, "mysql", "0013_add_region.sql")+" "+filepath.Join(mig, "spec", "0013_add_region.yaml")+")") {
		t.Fatalf("generate after the merge: exit %d\n%s", code, msg)
	}
	// As it says: a's files (max_len 10); the spec's 20 is the next
	// migration.
	git("checkout", "--ours", "--", filepath.Join(mig, "postgresql", "0013_add_region.sql"), filepath.Join(mig, "sqlite", "0013_add_region.sql"),
		filepath.Join(mig, "mysql", "0013_add_region.sql"), filepath.Join(mig, "spec", "0013_add_region.yaml"))
	if code, msg := ackGenerate(); code != cli.ExitOK {
		t.Fatalf("generate with a's migration: exit %d\n%s", code, msg)
	}
	if _, err := os.Stat(filepath.Join(mig, "sqlite", "0014_change_region.sql")); err != nil {
		t.Errorf("the spec's change over a's migration is not 0014_change_region: %v", err)
	}
}

// TestLateMySQL: a model whose MySQL migrations came after its first ones
// (an earlier taskgen had none) starts its MySQL chain with the schema
// under the number of the newest migration of the others. That number is
// no gap's filler: the newest spec change deleted is a gap, not a
// migration to redo (MySQL's schema was rendered from its snapshot); and
// another branch's spec change under a MySQL migration's number is two
// migrations under one number.
func TestLateMySQL(t *testing.T) {
	setup := func(t *testing.T) string {
		ackProject(t, ackV1)
		writeFile(t, filepath.Join("schema", "job.yaml"), ackV1+"  region: {type: string, optional: true}\n")
		if code, msg := ackGenerate(); code != cli.ExitOK {
			t.Fatalf("generate v2: %d %s", code, msg)
		}
		// As an earlier taskgen left it: no MySQL, no sums.
		mig := filepath.Join("gen", "job", "migrations")
		must(t, os.RemoveAll(filepath.Join(mig, "mysql")))
		must(t, os.Remove(filepath.Join(mig, "taskmodel.sum")))
		if code, msg := ackGenerate(); code != cli.ExitOK {
			t.Fatalf("generate with today's taskgen: %d %s", code, msg)
		}
		if _, err := os.Stat(filepath.Join(mig, "mysql", "0013_schema.sql")); err != nil {
			t.Fatalf("MySQL's chain does not start at 0013_schema: %v", err)
		}
		return mig
	}
	t.Run("the newest spec change deleted", func(t *testing.T) {
		mig := setup(t)
		for _, f := range []string{"postgresql/0013_add_region.sql", "sqlite/0013_add_region.sql", "spec/0013_add_region.yaml"} {
			must(t, os.Remove(filepath.Join(mig, filepath.FromSlash(f))))
		}
		if code, msg := ackGenerate(); code != cli.ExitIO || !strings.Contains(msg, mig+" holds no migration numbered 0013 (the numbers jump from 0012_sqlite_lean_writes to 0014_ascending_indexes)") {
			t.Fatalf("generate: exit %d\n%s", code, msg)
		}
	})
	t.Run("another branch's change under a MySQL number", func(t *testing.T) {
		mig := setup(t)
		// The other branch, with the earlier taskgen: 0014 for PostgreSQL,
		// SQLite and the snapshot.
		for _, f := range []string{"postgresql/%s.sql", "sqlite/%s.sql", "spec/%s.yaml"} {
			data, err := os.ReadFile(filepath.Join(mig, filepath.FromSlash(strings.ReplaceAll(f, "%s", "0013_add_region"))))
			must(t, err)
			writeFile(t, filepath.Join(mig, filepath.FromSlash(strings.ReplaceAll(f, "%s", "0014_add_team"))), strings.ReplaceAll(string(data), "region", "team"))
		}
		if code, msg := ackGenerate(); code != cli.ExitIO || !strings.Contains(msg, "migrations 0014_add_team and 0014_ascending_indexes have the same number 0014") {
			t.Fatalf("generate: exit %d\n%s", code, msg)
		}
	})
}
