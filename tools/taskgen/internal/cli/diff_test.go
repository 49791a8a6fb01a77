package cli_test

import (
	"bytes"
	"errors"
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
	must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/d\n"), 0o644))
	specs := filepath.Join(dir, "schema")
	must(t, os.MkdirAll(specs, 0o755))
	v1 := "model: job\nstatuses:\n  A: {initial: true}\n  B: {terminal: true}\nevents:\n  go: {from: A, to: B}\nfields:\n  note: {type: string, optional: true, max_len: 100}\n"
	must(t, os.WriteFile(filepath.Join(specs, "job.yaml"), []byte(v1), 0o644))
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
	must(t, os.WriteFile(filepath.Join(specs, "job.yaml"), []byte(v2), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "schema2"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "schema2", "job.yaml"), []byte(v1), 0o644))
	t.Chdir(dir)
	must(t, exec.Command("git", "remote", "add", "origin", "https://example.com/nowhere.git").Run())
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
		{"no spec", []string{"-out", "gen"}, cli.ExitUsage, nil},
		{"git and the migrations", []string{"-spec", "schema", "-out", "gen", "-base", "HEAD"}, cli.ExitBreaking, []string{"## Model `job`: changes since `HEAD`", "field.note.renamed"}},
		{"missing spec", []string{"-spec", "nope.yaml", "-out", "gen"}, cli.ExitIO, nil},
		{"bad ref", []string{"-spec", "schema", "-base", "no-such-ref"}, cli.ExitIO, nil},
		{"a remote branch not fetched", []string{"-spec", "schema", "-base", "origin/main"}, cli.ExitIO, nil},
		{"a directory the revision lacks", []string{"-spec", "schema2", "-base", "HEAD"}, cli.ExitOK, []string{"## Model `job`: new"}},
	}
	stderrs := map[string]string{
		"bad ref":      "taskgen diff: -base no-such-ref: no such revision in this repository (give a branch, a tag or a commit)\n",
		"missing spec": "taskgen diff: -spec nope.yaml: no such file or directory\n",
		"a remote branch not fetched": "taskgen diff: -base origin/main: no such revision in this repository (give a branch, a tag or a commit); " +
			"a checkout of one branch lacks it until it is fetched: git fetch --depth=1 origin main:refs/remotes/origin/main\n",
	}
	// The first line of stderr, before the usage text.
	firstLines := map[string]string{
		"usage":   "taskgen diff: -out or -base is required",
		"no spec": "taskgen diff: -spec is required",
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
			if want, ok := stderrs[tt.name]; ok && stderr.String() != want {
				t.Errorf("stderr %q, want %q", stderr.String(), want)
			}
			if want, ok := firstLines[tt.name]; ok {
				if line, _, _ := strings.Cut(stderr.String(), "\n"); line != want {
					t.Errorf("stderr starts with %q, want %q", line, want)
				}
			}
		})
	}
	// Acknowledged, the same change passes.
	must(t, os.WriteFile(filepath.Join(specs, "job.yaml"), []byte(v2+"breaking_changes: [field.note.renamed, field.comment.narrowed]\n"), 0o644))
	var stdout bytes.Buffer
	if code := cli.Main([]string{"diff", "-spec", "schema", "-base", "HEAD"}, &stdout, &stderr); code != cli.ExitOK {
		t.Fatalf("acknowledged: exit %d\n%s", code, stdout.String())
	}
	if !strings.Contains(stdout.String(), "(breaking, acknowledged: `field.note.renamed`)") {
		t.Errorf("report:\n%s", stdout.String())
	}

	// Deployed (generated and committed), the entries stay in the spec; they
	// acknowledged that change, not the next one.
	if code := cli.Run([]string{"-spec", "schema", "-out", "gen", "-sqlc", "sqlc.yaml"}, &stderr); code != cli.ExitOK {
		t.Fatalf("generate v2: %d %s", code, stderr.String())
	}
	git("add", ".")
	git("commit", "-qm", "v2")
	v3 := strings.Replace(v2, "max_len: 50", "max_len: 40", 1) + "breaking_changes: [field.note.renamed, field.comment.narrowed]\n"
	later := []struct {
		name string
		spec string
		code int
		want []string
	}{
		{"earlier entry", v3, cli.ExitBreaking, []string{
			"(**breaking**: `field.comment.narrowed`)",
			"  - field.comment.narrowed <why>\n",
			"`field.comment.narrowed` is under breaking_changes at %s already, where it acknowledged an earlier change",
		}},
		{"entry with a reason", strings.Replace(v3, "]\n", ", field.comment.narrowed again for the cards]\n", 1), cli.ExitOK, []string{
			"(breaking, acknowledged: `field.comment.narrowed`)",
		}},
		{"reworded entry", strings.Replace(v3, "field.comment.narrowed]", "field.comment.narrowed to 40]", 1), cli.ExitOK, []string{
			"(breaking, acknowledged: `field.comment.narrowed`)",
		}},
		{"entry naming no change", strings.Replace(v3, "]\n", ", field.comment.narrowed to 40, fields.comment.narowed]\n", 1), cli.ExitBreaking, []string{
			"**breaking_changes lists `fields.comment.narowed`, which names none of the changes since %s.**",
		}},
		{"entry and no change", v2 + "breaking_changes: [field.note.renamed, field.comment.narrowed, field.nonexistent.removed]\n", cli.ExitBreaking, []string{
			"No change.",
			"**breaking_changes lists `field.nonexistent.removed`, which names none of the changes since %s.**",
		}},
		{"unchanged", v2 + "breaking_changes: [field.note.renamed, field.comment.narrowed]\n", cli.ExitOK, []string{"No change."}},
	}
	for _, tt := range later {
		for _, base := range []struct {
			name, from string
			args       []string
		}{
			{"snapshot", "migration `0013_rename_note_to_comment_and_change_comment`", []string{"-spec", "schema", "-out", "gen"}},
			{"git", "`HEAD`", []string{"-spec", "schema", "-base", "HEAD"}},
		} {
			t.Run(tt.name+"/"+base.name, func(t *testing.T) {
				must(t, os.WriteFile(filepath.Join(specs, "job.yaml"), []byte(tt.spec), 0o644))
				var stdout, stderr bytes.Buffer
				if code := cli.Main(append([]string{"diff"}, base.args...), &stdout, &stderr); code != tt.code {
					t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
				}
				for _, w := range tt.want {
					if w = strings.ReplaceAll(w, "%s", base.from); !strings.Contains(stdout.String(), w) {
						t.Errorf("report lacks %q:\n%s", w, stdout.String())
					}
				}
			})
		}
	}
}

// specModule makes a module in a temporary directory with an empty schema
// directory for specs, and returns both.
func specModule(t *testing.T) (dir, specs string) {
	dir = t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/d\n"), 0o644))
	specs = filepath.Join(dir, "schema")
	must(t, os.MkdirAll(specs, 0o755))
	return dir, specs
}

// model is the spec of a model of two statuses.
func model(name string) string {
	return "model: " + name + "\nstatuses:\n  A: {initial: true}\n  B: {terminal: true}\nevents:\n  go: {from: A, to: B}\n"
}

// TestRemovedModel removes one of two models' specs: taskgen keeps its
// package, which holds migrations, until its user deletes it, and taskgen
// diff reports the removal until another spec acknowledges it.
func TestRemovedModel(t *testing.T) {
	dir, specs := specModule(t)
	must(t, os.WriteFile(filepath.Join(specs, "job.yaml"), []byte(model("job")), 0o644))
	must(t, os.WriteFile(filepath.Join(specs, "export_job.yaml"), []byte(model("export_job")), 0o644))
	t.Chdir(dir)
	// Before anything is generated, every model is new.
	var before bytes.Buffer
	if code := cli.Main([]string{"diff", "-spec", "schema", "-out", "gen"}, &before, &before); code != cli.ExitOK || !strings.Contains(before.String(), "## Model `export_job`: new") {
		t.Fatalf("diff before generating: exit %d\n%s", code, before.String())
	}
	generate := func() (int, string) {
		var stderr bytes.Buffer
		// sqlc.yaml beside the specs, as the README's quick start has it.
		code := cli.Run([]string{"-spec", "schema", "-out", "gen", "-sqlc", "schema/sqlc.yaml"}, &stderr)
		return code, stderr.String()
	}
	if code, msg := generate(); code != cli.ExitOK {
		t.Fatalf("generate: %d %s", code, msg)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-qm", "v1"}} {
		cmd := exec.Command("git", append([]string{"-c", "user.email=t@example.com", "-c", "user.name=t"}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	must(t, os.Remove(filepath.Join(specs, "export_job.yaml")))

	code, msg := generate()
	want := "taskgen: the spec of model export_job is gone, but gen/exportjob/migrations holds its migrations, which databases may have applied; " +
		"taskgen removes no migration: to remove the model, delete gen/exportjob yourself (databases keep its tables and rows), or restore its spec\n"
	if code != cli.ExitSpec || msg != want {
		t.Fatalf("generate without the spec: exit %d\n%s\nwant exit %d\n%s", code, msg, cli.ExitSpec, want)
	}
	if _, err := os.Stat(filepath.Join("gen", "exportjob", "doc.go")); err != nil {
		t.Fatalf("the refused run removed the package: %v", err)
	}

	diff := func(t *testing.T, wantCode int, want string, args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := cli.Main(append([]string{"diff", "-spec", "schema"}, args...), &stdout, &stderr); code != wantCode {
			t.Fatalf("diff %v: exit %d, want %d\n%s%s", args, code, wantCode, stdout.String(), stderr.String())
		}
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("diff %v: report lacks %q:\n%s", args, want, stdout.String())
		}
	}
	diff(t, cli.ExitBreaking, "## Model `export_job`: removed\n\nIts spec is gone, but `gen/exportjob/migrations` holds its migrations", "-out", "gen")
	diff(t, cli.ExitBreaking, "Its spec at `HEAD` is gone: the API no longer takes its task type, and databases keep its tables and rows (**breaking**: `model.export_job.removed`)", "-base", "HEAD")

	must(t, os.RemoveAll(filepath.Join("gen", "exportjob")))
	if code, msg := generate(); code != cli.ExitOK {
		t.Fatalf("generate after the package is deleted: %d %s", code, msg)
	}
	must(t, os.WriteFile(filepath.Join(specs, "job.yaml"), []byte(model("job")+"breaking_changes: [model.export_job.removed]\n"), 0o644))
	diff(t, cli.ExitOK, "(breaking, acknowledged: `model.export_job.removed`)", "-base", "HEAD")
	diff(t, cli.ExitOK, "No change.", "-out", "gen")
	// Generating, the entry is no typo either.
	if code, msg := generate(); code != cli.ExitOK || msg != "" {
		t.Fatalf("generate with the entry: %d %s", code, msg)
	}
}

// TestRenamedModel renames the model of a spec file: taskgen refuses, as
// for a removed model, and says that a model cannot be renamed and what to
// do instead; taskgen diff says the same.
func TestRenamedModel(t *testing.T) {
	dir, specs := specModule(t)
	must(t, os.WriteFile(filepath.Join(specs, "report.yaml"), []byte(model("report")), 0o644))
	t.Chdir(dir)
	var stderr bytes.Buffer
	if code := cli.Run([]string{"-spec", "schema", "-out", "gen", "-sqlc", "schema/sqlc.yaml"}, &stderr); code != cli.ExitOK {
		t.Fatalf("generate: %d %s", code, stderr.String())
	}
	must(t, os.WriteFile(filepath.Join(specs, "report.yaml"), []byte(model("reports")), 0o644))

	stderr.Reset()
	code := cli.Run([]string{"-spec", "schema", "-out", "gen", "-sqlc", "schema/sqlc.yaml"}, &stderr)
	hint := "if model reports (" + filepath.Join("schema", "report.yaml") + ") is report renamed: a model cannot be renamed, as its tables are named after it; " +
		"keep the name report, or restore the spec of report and keep the new model beside it, moving the tasks over yourself"
	want := "taskgen: the spec of model report is gone, but " + filepath.Join("gen", "report", "migrations") + " holds its migrations, which databases may have applied; " +
		hint + "; to remove report, delete " + filepath.Join("gen", "report") + " yourself (databases keep its tables and rows)\n"
	if code != cli.ExitSpec || stderr.String() != want {
		t.Fatalf("generate with the model renamed: exit %d\n%s\nwant exit %d\n%s", code, stderr.String(), cli.ExitSpec, want)
	}
	if _, err := os.Stat(filepath.Join("gen", "reports")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused run generated the renamed model: %v", err)
	}

	var stdout bytes.Buffer
	stderr.Reset()
	if code := cli.Main([]string{"diff", "-spec", "schema", "-out", "gen"}, &stdout, &stderr); code != cli.ExitBreaking {
		t.Fatalf("diff: exit %d, want %d\n%s%s", code, cli.ExitBreaking, stdout.String(), stderr.String())
	}
	if w := "(**breaking**: `model.report.removed`). I" + hint[1:] + ".\n"; !strings.Contains(stdout.String(), w) {
		t.Errorf("diff report lacks %q:\n%s", w, stdout.String())
	}
}

// TestDiffBaseOutsideGit: -base outside a git repository says so, in the
// user's words, instead of git's.
func TestDiffBaseOutsideGit(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte("x: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	var stdout, stderr bytes.Buffer
	if code := cli.Main([]string{"diff", "-spec", "job.yaml", "-base", "HEAD"}, &stdout, &stderr); code != cli.ExitIO {
		t.Fatalf("exit %d, want %d: %s", code, cli.ExitIO, stderr.String())
	}
	want := "taskgen diff: -base HEAD: the current directory is not in a git repository (run taskgen diff from the repository's checkout, or compare with the snapshots: -out)\n"
	if stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

// TestDiffUploads: a change of the api section's uploads needs no
// migration, but taskgen diff reports it against the snapshot of the
// newest migration, and fails on a breaking one until the spec
// acknowledges it; the acknowledged change stays listed, since no
// migration records it.
func TestDiffUploads(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/d\n")
	specs := filepath.Join(dir, "schema")
	if err := os.MkdirAll(specs, 0o755); err != nil {
		t.Fatal(err)
	}
	v1 := `model: job
statuses:
  CREATED: {initial: true}
  UPLOADING: {}
  UPLOAD_FAILED: {}
  QUEUED: {}
  DONE: {terminal: true}
events:
  request_upload: {from: [CREATED, UPLOAD_FAILED], to: UPLOADING}
  verify_uploads: {from: UPLOADING, to: QUEUED}
  upload_failed: {from: UPLOADING, to: UPLOAD_FAILED}
  finish: {from: QUEUED, to: DONE}
fields:
  note: {type: string, optional: true, max_len: 100}
api:
  create: [note]
  uploads:
    request: request_upload
    verify: verify_uploads
    missing: upload_failed
    files:
      data: {required: true, max_size: 10MiB}
      extra: {max_size: 10MiB}
`
	writeFile(t, filepath.Join(specs, "job.yaml"), v1)
	t.Chdir(dir)
	var stderr bytes.Buffer
	if code := cli.Run([]string{"-spec", "schema", "-out", "gen", "-sqlc", "sqlc.yaml"}, &stderr); code != cli.ExitOK {
		t.Fatalf("generate: %d %s", code, stderr.String())
	}
	lowered := strings.Replace(v1, "data: {required: true, max_size: 10MiB}", "data: {required: true, max_size: 1MiB}", 1)
	line := "- api uploads file `data` max_size: 1MiB (was 10MiB): a larger file, accepted before, is refused: `POST /tasks/{id}/upload-urls` declaring a larger size answers 400, and `POST /tasks/{id}/process` deletes a stored file that is larger and moves its task to `UPLOAD_FAILED`"
	for _, tt := range []struct {
		name string
		spec string
		code int
		want []string
	}{
		{"unchanged", v1, cli.ExitOK, []string{"No change."}},
		{"widened", strings.Replace(v1, "extra: {max_size: 10MiB}", "extra: {max_size: 20MiB}", 1), cli.ExitOK, []string{
			"### Wire (JSON, OpenAPI, TypeScript)\n\n- api uploads file `extra` max_size: 20MiB (was 10MiB)\n",
		}},
		{"narrowed", lowered, cli.ExitBreaking, []string{
			line + " (**breaking**: `api.uploads.files.data.max_size`)\n",
			"breaking_changes:\n  - api.uploads.files.data.max_size\n",
		}},
		{"narrowed, acknowledged", lowered + "breaking_changes: [api.uploads.files.data.max_size]\n", cli.ExitOK, []string{
			line + " (breaking, acknowledged: `api.uploads.files.data.max_size`)\n",
		}},
		{"file removed", strings.Replace(v1, "      extra: {max_size: 10MiB}\n", "", 1), cli.ExitBreaking, []string{
			"- api uploads file `extra` removed: `POST /tasks/{id}/upload-urls` no longer signs a URL for it: a request naming it under `files` answers 400 (unknown file) (**breaking**: `api.uploads.files.extra.removed`)\n",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			writeFile(t, filepath.Join(specs, "job.yaml"), tt.spec)
			var stdout, stderr bytes.Buffer
			if code := cli.Main([]string{"diff", "-spec", "schema", "-out", "gen"}, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}

// writeFile writes data to path or fails the test.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGenerateWarnsOfUnacknowledged: generating a breaking change that
// the spec does not acknowledge writes its migration and warns on
// standard error, naming the changes; acknowledged ones are not warned of.
func TestGenerateWarnsOfUnacknowledged(t *testing.T) {
	v1 := "model: job\nstatuses:\n  A: {initial: true}\n  B: {terminal: true}\nevents:\n  go: {from: A, to: B}\nfields:\n  note: {type: string, optional: true, max_len: 100}\n  tag: {type: string, optional: true}\n"
	narrowed := strings.Replace(v1, "max_len: 100", "max_len: 50", 1)
	for _, c := range []struct {
		name, v2, want string
	}{
		{"unacknowledged", narrowed, "taskgen: warning: model job: 1 breaking change is not acknowledged: field.note.narrowed. " +
			"Generated anyway; if it is meant, list it under breaking_changes in the spec (before or after generating): taskgen diff -base REF (in CI) fails until the spec does\n"},
		{"two unacknowledged", strings.Replace(narrowed, "  tag: {type: string, optional: true}\n", "", 1),
			"taskgen: warning: model job: 2 breaking changes are not acknowledged: field.tag.removed, field.note.narrowed. " +
				"Generated anyway; if they are meant, list them under breaking_changes in the spec (before or after generating): taskgen diff -base REF (in CI) fails until the spec does\n"},
		{"acknowledged", narrowed + "breaking_changes:\n  - field.note.narrowed\n", ""},
		{"not breaking", strings.Replace(v1, "max_len: 100", "max_len: 200", 1), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/d\n"), 0o644))
			spec := filepath.Join(dir, "job.yaml")
			must(t, os.WriteFile(spec, []byte(v1), 0o644))
			args := []string{"-spec", spec, "-out", filepath.Join(dir, "job"), "-sqlc", filepath.Join(dir, "sqlc.yaml")}
			var stderr bytes.Buffer
			if code := cli.Run(args, &stderr); code != cli.ExitOK || stderr.Len() != 0 {
				t.Fatalf("generate v1: %d %s", code, stderr.String())
			}
			must(t, os.WriteFile(spec, []byte(c.v2), 0o644))
			if code := cli.Run(args, &stderr); code != cli.ExitOK {
				t.Fatalf("generate v2: %d %s", code, stderr.String())
			}
			if got := stderr.String(); (c.want == "" && got != "") || !strings.HasPrefix(got, c.want) {
				t.Errorf("stderr %q\nwant %q", got, c.want)
			}
			if snaps, _ := filepath.Glob(filepath.Join(dir, "job", "migrations", "spec", "*.yaml")); len(snaps) != 2 {
				t.Errorf("snapshots %v: the second migration was not written", snaps)
			}
		})
	}
}
