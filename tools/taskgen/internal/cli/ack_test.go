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

// ackProject writes go.mod and schema/job.yaml (spec) into a new directory,
// generates it into gen/ and commits it to git; it returns the directory,
// which is the current one for the rest of the test.
func ackProject(t *testing.T, spec string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/d\n")
	must(t, os.MkdirAll(filepath.Join(dir, "schema"), 0o755))
	writeFile(t, filepath.Join(dir, "schema", "job.yaml"), spec)
	t.Chdir(dir)
	if code, msg := ackGenerate(); code != cli.ExitOK || msg != "" {
		t.Fatalf("generate v1: %d %s", code, msg)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-qm", "v1"}} {
		cmd := exec.Command("git", append([]string{"-c", "user.email=t@example.com", "-c", "user.name=t"}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	return dir
}

// ackGenerate runs go generate's taskgen over schema/ into gen/.
func ackGenerate() (int, string) {
	var stderr bytes.Buffer
	code := cli.Run([]string{"-spec", "schema", "-out", "gen", "-sqlc", "sqlc.yaml"}, &stderr)
	return code, stderr.String()
}

// ackDiff runs taskgen diff over schema/ with args and checks its exit code.
func ackDiff(t *testing.T, want int, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := cli.Main(append([]string{"diff", "-spec", "schema"}, args...), &stdout, &stderr); code != want {
		t.Fatalf("diff %v: exit %d, want %d\n%s%s", args, code, want, stdout.String(), stderr.String())
	}
	return stdout.String()
}

const ackV1 = "model: job\nstatuses:\n  A: {initial: true}\n  B: {terminal: true}\nevents:\n  go: {from: A, to: B}\nfields:\n  note: {type: string, optional: true, max_len: 100}\n"

// TestAcknowledgedAfterGenerating: a breaking change generated before the
// spec acknowledges it, then acknowledged, passes taskgen diff against the
// branch (-base) and against the snapshots (-out) alike, and keeps passing
// after the next migration.
func TestAcknowledgedAfterGenerating(t *testing.T) {
	ackProject(t, ackV1)
	v2 := ackV1 + "  region: {type: string, required: true, max_len: 20, backfill: eu}\n"
	writeFile(t, filepath.Join("schema", "job.yaml"), v2)
	code, msg := ackGenerate()
	want := "taskgen: warning: model job: 1 breaking change is not acknowledged: field.region.added_required. " +
		"Generated anyway; if it is meant, list it under breaking_changes in the spec (before or after generating): taskgen diff -base REF (in CI) fails until the spec does\n"
	if code != cli.ExitOK || msg != want {
		t.Fatalf("generate v2: exit %d\n%q\nwant\n%q", code, msg, want)
	}
	ackDiff(t, cli.ExitBreaking, "-base", "HEAD")
	ackDiff(t, cli.ExitOK, "-out", "gen")

	acked := v2 + "breaking_changes: [field.region.added_required]\n"
	writeFile(t, filepath.Join("schema", "job.yaml"), acked)
	if out := ackDiff(t, cli.ExitOK, "-base", "HEAD"); !strings.Contains(out, "(breaking, acknowledged: `field.region.added_required`)") {
		t.Errorf("diff -base:\n%s", out)
	}
	// The entry acknowledges the change the newest migration holds.
	if out := ackDiff(t, cli.ExitOK, "-out", "gen"); !strings.Contains(out, "No change.") {
		t.Errorf("diff -out:\n%s", out)
	}
	if code, msg := ackGenerate(); code != cli.ExitOK || msg != "" {
		t.Fatalf("generate the acknowledged spec: exit %d %s", code, msg)
	}

	// The next change: the entry stays right, before and after its
	// migration (whose snapshot lists the entry).
	v3 := strings.Replace(acked, "breaking_changes:", "  tag: {type: string, optional: true}\nbreaking_changes:", 1)
	writeFile(t, filepath.Join("schema", "job.yaml"), v3)
	ackDiff(t, cli.ExitOK, "-out", "gen")
	ackDiff(t, cli.ExitOK, "-base", "HEAD")
	if code, msg := ackGenerate(); code != cli.ExitOK || msg != "" {
		t.Fatalf("generate v3: exit %d %s", code, msg)
	}
	if out := ackDiff(t, cli.ExitOK, "-out", "gen"); !strings.Contains(out, "No change.") {
		t.Errorf("diff -out after v3:\n%s", out)
	}
	ackDiff(t, cli.ExitOK, "-base", "HEAD")

	// An entry naming a change of a migration before the newest names none
	// of the changes since the newest: it needs no entry.
	writeFile(t, filepath.Join("schema", "job.yaml"), strings.Replace(v3, "[field.region.added_required]", "[field.region.added_required, field.tag.removed]", 1))
	if out := ackDiff(t, cli.ExitBreaking, "-out", "gen"); !strings.Contains(out, "**breaking_changes lists `field.tag.removed`, which names none of the changes since migration `0014_add_tag`.**") {
		t.Errorf("diff -out with an entry naming no change:\n%s", out)
	}
}

// TestAcknowledgedAfterTwoMigrations: a breaking change generated
// without an entry, then another migration generated before the entry is
// added: the entry acknowledges the earlier migration's change, for
// taskgen diff -out as for -base, and generating with it warns of nothing.
func TestAcknowledgedAfterTwoMigrations(t *testing.T) {
	ackProject(t, ackV1)
	v2 := ackV1 + "  region: {type: string, required: true, max_len: 20, backfill: eu}\n"
	writeFile(t, filepath.Join("schema", "job.yaml"), v2)
	if code, msg := ackGenerate(); code != cli.ExitOK || !strings.Contains(msg, "not acknowledged: field.region.added_required.") {
		t.Fatalf("generate v2: exit %d %s", code, msg)
	}
	v3 := strings.Replace(v2, "max_len: 100", "max_len: 50", 1)
	writeFile(t, filepath.Join("schema", "job.yaml"), v3)
	if code, msg := ackGenerate(); code != cli.ExitOK || !strings.Contains(msg, "not acknowledged: field.note.narrowed.") {
		t.Fatalf("generate v3: exit %d %s", code, msg)
	}
	ackDiff(t, cli.ExitBreaking, "-base", "HEAD")

	// Each entry alone, then both: the earlier migration's entry is as
	// right as the newest's.
	for _, entries := range []string{"field.region.added_required", "field.note.narrowed", "field.region.added_required, field.note.narrowed to 50"} {
		writeFile(t, filepath.Join("schema", "job.yaml"), v3+"breaking_changes: ["+entries+"]\n")
		if out := ackDiff(t, cli.ExitOK, "-out", "gen"); !strings.Contains(out, "No change.") {
			t.Errorf("diff -out with [%s]:\n%s", entries, out)
		}
	}
	ackDiff(t, cli.ExitOK, "-base", "HEAD")
	if code, msg := ackGenerate(); code != cli.ExitOK || msg != "" {
		t.Fatalf("generate the acknowledged spec: exit %d %s", code, msg)
	}

	// An entry naming a change no migration holds is still reported.
	writeFile(t, filepath.Join("schema", "job.yaml"), v3+"breaking_changes: [field.region.added_required, field.note.narrowed to 50, field.region.removed]\n")
	if out := ackDiff(t, cli.ExitBreaking, "-out", "gen"); !strings.Contains(out, "**breaking_changes lists `field.region.removed`, which names none of the changes since migration `0014_change_note`.**") {
		t.Errorf("diff -out with an entry naming no change:\n%s", out)
	}
}

// TestGenerateWarnsOfMistypedEntry: generating a change with a new entry
// under breaking_changes that names none of its changes (nor those of the
// newest migration) warns that it is probably a typo, listing the IDs.
func TestGenerateWarnsOfMistypedEntry(t *testing.T) {
	narrowed := strings.Replace(ackV1, "max_len: 100", "max_len: 50", 1)
	unacked := "taskgen: warning: model job: 1 breaking change is not acknowledged: field.note.narrowed. " +
		"Generated anyway; if it is meant, list it under breaking_changes in the spec (before or after generating): taskgen diff -base REF (in CI) fails until the spec does\n"
	for _, c := range []struct {
		name, v2, want string
	}{
		{"typo", narrowed + "breaking_changes: [field.note.shortened]\n", unacked +
			"taskgen: warning: model job: breaking_changes lists field.note.shortened, which names none of the changes, probably a typo: " +
			"the breaking changes generated now are field.note.narrowed. Correct the entry or remove it: a migration's spec snapshot keeps it as it is, after which taskgen diff no longer reports it\n"},
		{"typo and no breaking change", strings.Replace(ackV1, "max_len: 100", "max_len: 200", 1) + "breaking_changes: [field.note.narowed]\n",
			"taskgen: warning: model job: breaking_changes lists field.note.narowed, which names none of the changes, probably a typo: " +
				"no change generated now is breaking. Correct the entry or remove it: a migration's spec snapshot keeps it as it is, after which taskgen diff no longer reports it\n"},
		{"reason", narrowed + "breaking_changes: [field.note.narrowed to 50]\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ackProject(t, ackV1)
			writeFile(t, filepath.Join("schema", "job.yaml"), c.v2)
			if code, msg := ackGenerate(); code != cli.ExitOK || msg != c.want {
				t.Fatalf("generate v2: exit %d\n%q\nwant\n%q", code, msg, c.want)
			}
		})
	}

	// After generating, a mistyped entry added names no change of the
	// newest migration either.
	ackProject(t, ackV1)
	writeFile(t, filepath.Join("schema", "job.yaml"), narrowed)
	if code, msg := ackGenerate(); code != cli.ExitOK || msg != unacked {
		t.Fatalf("generate v2: exit %d %s", code, msg)
	}
	writeFile(t, filepath.Join("schema", "job.yaml"), narrowed+"  tag: {type: string, optional: true}\nbreaking_changes: [field.note.shortened]\n")
	want := "taskgen: warning: model job: breaking_changes lists field.note.shortened, which names none of the changes, probably a typo: " +
		"no change generated now is breaking, and the breaking changes of migration 0013_change_note are field.note.narrowed. " +
		"Correct the entry or remove it: a migration's spec snapshot keeps it as it is, after which taskgen diff no longer reports it\n"
	if code, msg := ackGenerate(); code != cli.ExitOK || msg != want {
		t.Fatalf("generate v3: exit %d\n%q\nwant\n%q", code, msg, want)
	}
}

// TestRetiredAfterRefusedMigration: an event removed without retiring it
// makes a migration that a database with its history refuses; retiring it
// then names no event of that migration's spec, and the error says how to
// redo the migration.
func TestRetiredAfterRefusedMigration(t *testing.T) {
	ackProject(t, ackV1)
	renamed := strings.Replace(ackV1, "  go: {from: A, to: B}\n", "  run: {from: A, to: B}\n", 1)
	writeFile(t, filepath.Join("schema", "job.yaml"), renamed)
	if code, msg := ackGenerate(); code != cli.ExitOK {
		t.Fatalf("generate v2: exit %d %s", code, msg)
	}
	snaps, _ := filepath.Glob(filepath.Join("gen", "job", "migrations", "spec", "*.yaml"))
	if len(snaps) != 2 {
		t.Fatalf("snapshots: %v", snaps)
	}
	name := strings.TrimSuffix(filepath.Base(snaps[1]), ".yaml")
	writeFile(t, filepath.Join("schema", "job.yaml"), renamed+"retired:\n  events: [go]\n")
	code, msg := ackGenerate()
	mig := filepath.Join("gen", "job", "migrations")
	want := filepath.Join("schema", "job.yaml") + `:10:12: retired event "go" names no event of the spec of migration ` + name +
		`; its events are: run; this spec has all of them: retired lists the events that spec has and this one removes, or remove the entry. ` +
		`Migration ` + name + ` removed the event: if no database applied it (one refused it), delete its files (` +
		filepath.Join(mig, "postgresql", name+".sql") + ", " + filepath.Join(mig, "sqlite", name+".sql") + ", " +
		filepath.Join(mig, "mysql", name+".sql") + " and " + filepath.Join(mig, "spec", name+".yaml") +
		`) and generate again, so that the entry retires the event of the spec of migration 0001_schema` + "\n"
	if code != cli.ExitSpec || msg != want {
		t.Fatalf("generate v3: exit %d\n%s\nwant\n%s", code, msg, want)
	}
	// taskgen diff's report of the refusal says the same.
	if out := ackDiff(t, cli.ExitBreaking, "-out", "gen"); !strings.Contains(out, "Migration "+name+" removed the event: if no database applied it (one refused it), delete its files (") {
		t.Errorf("diff -out:\n%s", out)
	}
	for _, f := range []string{filepath.Join(mig, "postgresql", name+".sql"), filepath.Join(mig, "sqlite", name+".sql"), filepath.Join(mig, "mysql", name+".sql"), filepath.Join(mig, "spec", name+".yaml")} {
		must(t, os.Remove(f))
	}
	// Redone over the snapshot before it, the migration retires the event.
	if code, msg := ackGenerate(); code != cli.ExitOK || !strings.HasPrefix(msg, "taskgen: warning: model job: 1 breaking change is not acknowledged: event.go.removed.") {
		t.Fatalf("generate v3 after the migration is deleted: exit %d %s", code, msg)
	}
	snaps, _ = filepath.Glob(filepath.Join(mig, "spec", "*.yaml"))
	if len(snaps) != 2 || !strings.HasPrefix(filepath.Base(snaps[1]), "0013_") {
		t.Errorf("snapshots after the redo: %v", snaps)
	}
}

// TestDiffChangedMigrations: taskgen diff -base REF -out DIR, the check
// for CI, fails when a migration file the revision has was changed or
// deleted (which generation cannot tell once the sum file's line goes
// with it), and passes new migrations.
func TestDiffChangedMigrations(t *testing.T) {
	ackProject(t, ackV1)
	if out := ackDiff(t, cli.ExitOK, "-base", "HEAD", "-out", "gen"); !strings.Contains(out, "No change.") || strings.Contains(out, "migrations changed") {
		t.Fatalf("unchanged:\n%s", out)
	}
	// A new migration is no change of a migration.
	writeFile(t, filepath.Join("schema", "job.yaml"), ackV1+"  tag: {type: string, optional: true}\n")
	if code, msg := ackGenerate(); code != cli.ExitOK {
		t.Fatalf("generate: %d %s", code, msg)
	}
	if out := ackDiff(t, cli.ExitOK, "-base", "HEAD", "-out", "gen"); strings.Contains(out, "migrations changed") {
		t.Fatalf("a new migration:\n%s", out)
	}
	// Edited with its sum line removed, and deleted: generation takes
	// them, the check against the revision does not.
	mig := filepath.Join("gen", "job", "migrations")
	f, err := os.OpenFile(filepath.Join(mig, "sqlite", "0001_schema.sql"), os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString("-- edited\n")
	must(t, err)
	must(t, f.Close())
	must(t, os.Remove(filepath.Join(mig, "taskmodel.sum")))
	must(t, os.Remove(filepath.Join(mig, "mysql", "0004_retention_index.sql")))
	out := ackDiff(t, cli.ExitBreaking, "-base", "HEAD", "-out", "gen")
	for _, want := range []string{
		"## Model `job`: migrations changed since `HEAD`\n\n",
		"- `gen/job/migrations/mysql/0004_retention_index.sql`: **deleted**\n",
		"- `gen/job/migrations/sqlite/0001_schema.sql`: **changed**\n",
		"- `gen/job/migrations/taskmodel.sum`: **deleted**\n",
		"Restore them from `HEAD`:\n\n```sh\ngit checkout HEAD -- gen/job/migrations/mysql/0004_retention_index.sql gen/job/migrations/sqlite/0001_schema.sql gen/job/migrations/taskmodel.sum\n```\n\nthen run `go generate`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// An edit whose sum line was removed, then written again by
	// generation: the sum file's line of it changed too, and the command
	// the report gives, run as it is, leaves nothing to report.
	must(t, exec.Command("git", "checkout", "HEAD", "--", mig).Run())
	if code, msg := ackGenerate(); code != cli.ExitOK {
		t.Fatalf("generate: %d %s", code, msg)
	}
	edited := filepath.Join(mig, "postgresql", "0001_schema.sql")
	data, err := os.ReadFile(edited)
	must(t, err)
	writeFile(t, edited, string(data)+"-- edited\n")
	sum, err := os.ReadFile(filepath.Join(mig, "taskmodel.sum"))
	must(t, err)
	var kept []string
	for _, line := range strings.SplitAfter(string(sum), "\n") {
		if !strings.HasPrefix(line, "postgresql/0001_schema.sql ") {
			kept = append(kept, line)
		}
	}
	writeFile(t, filepath.Join(mig, "taskmodel.sum"), strings.Join(kept, ""))
	if code, msg := ackGenerate(); code != cli.ExitOK {
		t.Fatalf("generate after removing the sum line: %d %s", code, msg)
	}
	out = ackDiff(t, cli.ExitBreaking, "-base", "HEAD", "-out", "gen")
	for _, want := range []string{
		"- `gen/job/migrations/postgresql/0001_schema.sql`: **changed**\n",
		"- `gen/job/migrations/taskmodel.sum`: the line of `postgresql/0001_schema.sql` **changed**\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	_, cmdLine, ok := strings.Cut(out, "```sh\n")
	if !ok {
		t.Fatalf("no command in the report:\n%s", out)
	}
	cmdLine, _, _ = strings.Cut(cmdLine, "\n")
	if b, err := exec.Command("sh", "-c", cmdLine).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdLine, err, b)
	}
	if code, msg := ackGenerate(); code != cli.ExitOK {
		t.Fatalf("generate after restoring: %d %s", code, msg)
	}
	if out := ackDiff(t, cli.ExitOK, "-base", "HEAD", "-out", "gen"); strings.Contains(out, "migrations changed") {
		t.Errorf("after the report's command and go generate:\n%s", out)
	}
	// The sum file keeps the new migration's line.
	if sum, _ := os.ReadFile(filepath.Join(mig, "taskmodel.sum")); !strings.Contains(string(sum), "_tag.sql ") {
		t.Errorf("the new migration's line is gone:\n%s", sum)
	}
	// Line ends alone are no change.
	must(t, exec.Command("git", "checkout", "HEAD", "--", mig).Run())
	data, err = os.ReadFile(filepath.Join(mig, "sqlite", "0001_schema.sql"))
	must(t, err)
	writeFile(t, filepath.Join(mig, "sqlite", "0001_schema.sql"), strings.ReplaceAll(string(data), "\n", "\r\n"))
	if out := ackDiff(t, cli.ExitOK, "-base", "HEAD", "-out", "gen"); strings.Contains(out, "migrations changed") {
		t.Errorf("CRLF line ends:\n%s", out)
	}
}
