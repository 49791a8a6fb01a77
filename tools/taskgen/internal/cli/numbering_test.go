package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/cli"
)

// TestBrokenNumbering: a migrations directory whose numbering is broken
// (two migrations under one number, as two merged branches leave it, or a
// number deleted while later ones stay) is refused by generation and by
// taskgen diff alike, naming the migrations and what to do, and nothing is
// written.
func TestBrokenNumbering(t *testing.T) {
	const v1 = "model: job\nstatuses:\n  A: {initial: true}\n  B: {terminal: true}\nevents:\n  go: {from: A, to: B}\nfields:\n  note: {type: string, optional: true}\n"
	v2 := v1 + "  note_a: {type: string, optional: true}\n"
	// {mig} is the migrations directory, as the command was given it.
	dup := "taskgen: job: migrations 0013_add_note_a and 0013_add_note_b have the same number 0013 (two branches each changed the spec and each got the next migration?); each number is one migration, applied once. " +
		"Keep the one already applied to a database, if any, and delete the other's files in {mig} (0013_add_note_b's: postgresql/0013_add_note_b.sql, sqlite/0013_add_note_b.sql, mysql/0013_add_note_b.sql and spec/0013_add_note_b.yaml; " +
		"or 0013_add_note_a's: postgresql/0013_add_note_a.sql, sqlite/0013_add_note_a.sql, mysql/0013_add_note_a.sql and spec/0013_add_note_a.yaml), then run go generate again: the spec's changes that the deleted migration held become the next migration. " +
		"If databases applied each of them, those that applied the deleted one cannot follow: recreate them if they hold nothing to keep (a developer's or a test database)\n"
	gap := "taskgen: job: {mig} holds no migration numbered 0013 (the numbers jump from 0012_sqlite_lean_writes to 0014_add_note_a): a migration other than the newest was deleted, and the ones after it were generated over its changes, so no database could apply them; migrations are never deleted once others follow them: restore migration 0013's files ({mig}/<engine>/0013_*.sql for every engine and {mig}/spec/0013_*.yaml) from version control\n"
	// A migration that lacks a file: the newest, which may be redone, and
	// an earlier one.
	lacks := func(name, missing, here string) string {
		return "taskgen: job: migration " + name + " lacks " + missing + " (" + here + " have the rest): every engine's databases apply it, so generating over it would write its change again or leave the databases of an engine without it; restore the file from version control (git checkout -- " + missing + ")"
	}
	mig13 := func(sub string) string {
		return "{mig}/" + sub + "/0013_add_note_a." + map[bool]string{true: "yaml", false: "sql"}[sub == "spec"]
	}
	noSQLite := lacks("0013_add_note_a", mig13("sqlite"), mig13("postgresql")+", "+mig13("mysql")+" and "+mig13("spec")) +
		". If no database applied the migration and it is to be redone, delete " + mig13("postgresql") + ", " + mig13("mysql") + " and " + mig13("spec") + " too and run go generate again\n"
	noSnapshot := "taskgen: job: migration 0013_add_note_a lacks " + mig13("spec") + " (" + mig13("postgresql") + ", " + mig13("sqlite") + " and " + mig13("mysql") +
		" have the rest): taskgen writes the next migration over the spec snapshot of the newest, so generating over it would write its change again or leave the databases of an engine without it; restore the file from version control (git checkout -- " + mig13("spec") + ")" +
		". If no database applied the migration and it is to be redone, delete " + mig13("postgresql") + ", " + mig13("sqlite") + " and " + mig13("mysql") + " too and run go generate again\n"
	tests := []struct {
		name    string
		corrupt func(t *testing.T, mig string)
		want    string
	}{
		{"two migrations under one number", func(t *testing.T, mig string) {
			// The other branch's migration, under the same number.
			each(t, mig, "0013_add_note_a", func(path string, data []byte) {
				must(t, os.WriteFile(strings.Replace(path, "note_a", "note_b", 1), data, 0o644))
			})
		}, dup},
		{"a number missing", func(t *testing.T, mig string) {
			// As when 0013 is deleted while 0014 stays.
			each(t, mig, "0013_add_note_a", func(path string, data []byte) {
				must(t, os.Remove(path))
				must(t, os.WriteFile(strings.Replace(path, "0013_", "0014_", 1), data, 0o644))
			})
		}, gap},
		{"an engine's file missing", func(t *testing.T, mig string) {
			must(t, os.Remove(filepath.Join(mig, "sqlite", "0013_add_note_a.sql")))
		}, noSQLite},
		{"the newest spec snapshot missing", func(t *testing.T, mig string) {
			must(t, os.Remove(filepath.Join(mig, "spec", "0013_add_note_a.yaml")))
		}, noSnapshot},
		{"a migration edited by hand", func(t *testing.T, mig string) {
			f, err := os.OpenFile(filepath.Join(mig, "sqlite", "0001_schema.sql"), os.O_APPEND|os.O_WRONLY, 0)
			must(t, err)
			_, err = f.WriteString("-- edited\n")
			must(t, err)
			must(t, f.Close())
		}, "taskgen: job: {mig}/sqlite/0001_schema.sql is not the file taskgen wrote: its checksum is not the one {mig}/taskmodel.sum holds, so it was edited after it was generated. " +
			"Applied migrations are never rewritten: a database that applied it refuses a program with other SQL, and one that did not would apply the edit. " +
			"Restore it from version control (git checkout -- {mig}/sqlite/0001_schema.sql); if the edit is meant and no database applied the migration, remove its line from {mig}/taskmodel.sum and run go generate again\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/d\n"), 0o644))
			specs, out := filepath.Join(dir, "schema"), filepath.Join(dir, "gen")
			must(t, os.MkdirAll(specs, 0o755))
			generate := func(spec string) (int, string) {
				must(t, os.WriteFile(filepath.Join(specs, "job.yaml"), []byte(spec), 0o644))
				var stderr bytes.Buffer
				return cli.Run([]string{"-spec", specs, "-out", out, "-sqlc", filepath.Join(dir, "sqlc.yaml")}, &stderr), stderr.String()
			}
			for _, spec := range []string{v1, v2} {
				if code, stderr := generate(spec); code != cli.ExitOK {
					t.Fatalf("generate: %d %s", code, stderr)
				}
			}
			mig := filepath.Join(out, "job", "migrations")
			tt.corrupt(t, mig)
			before := listing(t, out)
			// A later change of the spec: generation would append a
			// migration over the broken chain.
			if code, stderr := generate(v2 + "  note_c: {type: string, optional: true}\n"); code != cli.ExitIO || stderr != strings.ReplaceAll(tt.want, "{mig}", mig) {
				t.Errorf("generate: exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", code, stderr, cli.ExitIO, strings.ReplaceAll(tt.want, "{mig}", mig))
			}
			if after := listing(t, out); after != before {
				t.Errorf("generation wrote files:\n%s\nwas:\n%s", after, before)
			}
			var stdout, stderr bytes.Buffer
			t.Chdir(dir)
			code := cli.Main([]string{"diff", "-spec", "schema", "-out", "gen"}, &stdout, &stderr)
			if want := strings.ReplaceAll(strings.Replace(tt.want, "taskgen: ", "taskgen diff: ", 1), "{mig}", filepath.Join("gen", "job", "migrations")); code != cli.ExitIO || stderr.String() != want {
				t.Errorf("diff: exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", code, stderr.String(), cli.ExitIO, want)
			}
		})
	}
}

// each calls f with every file of migration name in the migrations
// directory mig, each engine's and the spec snapshot.
func each(t *testing.T, mig, name string, f func(path string, data []byte)) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(mig, "*", name+".*"))
	if len(paths) != 4 {
		t.Fatalf("%s: %d files, want 4: %v", name, len(paths), paths)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f(p, data)
	}
}

// listing lists the files under dir with their lengths.
func listing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			b.WriteString(p + " " + strconv.Itoa(len(data)) + "\n")
		}
		return err
	})
	return b.String()
}
