package spec_test

import (
	"errors"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the expected .err files under testdata/invalid")

// TestInvalid loads every testdata/invalid/*.yaml and expects exactly the
// messages, with positions, in the .err file beside it.
func TestInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no invalid cases")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			_, err := spec.LoadFile(path)
			if err == nil {
				t.Fatal("loaded without error")
			}
			var list spec.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is not an ErrorList: %v", err)
			}
			got := err.Error() + "\n"
			want := strings.TrimSuffix(path, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(exp) {
				t.Errorf("errors differ from %s\ngot:\n%s\nwant:\n%s", want, got, exp)
			}
			for _, e := range list {
				if e.Pos.Line < 1 || e.Pos.Col < 1 || e.Pos.File == "" {
					t.Errorf("error without a position: %v", e)
				}
			}
		})
	}
}

// TestValid loads every testdata/valid/*.yaml, the built-in specs and the
// golden cases, and generates each.
func TestValid(t *testing.T) {
	var files []string
	for _, pattern := range []string{"testdata/valid/*.yaml", "../../../../schema/*.yaml", "../gen/testdata/golden/*/spec.yaml"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("only %d valid specs found", len(files))
	}
	for _, path := range files {
		t.Run(path, func(t *testing.T) {
			m, err := spec.LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := gen.Generate(m, gen.Options{Storage: true, ImportPath: "example.com/gen/" + m.Package}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGeneratedNamesDeclared generates every valid spec and checks that
// each package-level name of the model's package is one the loader
// declared (spec.GeneratedNames, or one a spec name gives), so that a spec
// name that clashes with it is refused instead of making a package that
// does not compile. The variables of the numbered migrations are the
// exception: no spec name gives a name of their form.
func TestGeneratedNamesDeclared(t *testing.T) {
	var files []string
	for _, pattern := range []string{"testdata/valid/*.yaml", "../../../../schema/*.yaml", "../gen/testdata/golden/*/spec.yaml"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	migrationVar := regexp.MustCompile(`^migration[0-9]{4}[A-Z]`)
	for _, path := range files {
		t.Run(path, func(t *testing.T) {
			m, err := spec.LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			declared, err := spec.DeclaredNames(path)
			if err != nil {
				t.Fatal(err)
			}
			files, err := gen.Generate(m, gen.Options{Storage: true, ImportPath: "example.com/gen/" + m.Package})
			if err != nil {
				t.Fatal(err)
			}
			for name, src := range files {
				if strings.Contains(name, "/") || !strings.HasSuffix(name, ".go") {
					continue // another package, or not Go
				}
				f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.SkipObjectResolution)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, d := range f.Decls {
					switch d := d.(type) {
					case *ast.FuncDecl:
						if d.Recv == nil {
							names = append(names, d.Name.Name)
						}
					case *ast.GenDecl:
						for _, s := range d.Specs {
							switch s := s.(type) {
							case *ast.TypeSpec:
								names = append(names, s.Name.Name)
							case *ast.ValueSpec:
								for _, n := range s.Names {
									names = append(names, n.Name)
								}
							}
						}
					}
				}
				for _, n := range names {
					if _, ok := declared[n]; !ok && n != "_" && !migrationVar.MatchString(n) {
						t.Errorf("%s declares %s, which the spec loader does not reserve: add it to spec.GeneratedNames, or declare it where the spec name it comes from is read", name, n)
					}
				}
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	models, err := spec.LoadDir("../../../../schema")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range models {
		names = append(names, m.Name)
	}
	want := "analysis dataset_upload evaluation model_upload pipeline_run pipeline_subtask stage synthesis training"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("models = %s\nwant     %s", got, want)
	}

	dir := t.TempDir()
	minimal := "statuses:\n  A: {initial: true}\n  B: {terminal: true}\nevents:\n  go: {from: A, to: B}\n"
	for name, body := range map[string]string{"a.yaml": "model: one_two\n" + minimal, "b.yaml": "model: onetwo\n" + minimal} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = spec.LoadDir(dir)
	want = filepath.Join(dir, "b.yaml") + `:1:1: model "onetwo" has the Go package name "onetwo", as model "one_two" (` + filepath.Join(dir, "a.yaml") + `:1:1) does; set package: to tell them apart`
	if err == nil || err.Error() != want {
		t.Errorf("LoadDir = %v\nwant %s", err, want)
	}
	if _, err := spec.LoadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no *.yaml spec files") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestAnalysisModel(t *testing.T) {
	m, err := spec.LoadFile("../../../../schema/analysis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The derived matrix in the loader's own terms: the upload → process lifecycle allows 10 moves.
	moves := 0
	for _, s := range m.Statuses {
		moves += len(m.Targets(s))
	}
	if moves != 10 {
		t.Errorf("%d allowed moves, want 10 (the lifecycle's matrix)", moves)
	}
	if f := m.FieldByName("completed_at"); f == nil || !f.EnteredAt || !f.Optional || f.Type.Kind != spec.KindTime {
		t.Errorf("completed_at = %+v", f)
	}
}

func TestGoName(t *testing.T) {
	tests := map[string]string{
		"upload_failed": "UploadFailed", "UPLOAD_FAILED": "UploadFailed", "in-progress": "InProgress",
		"task_id": "TaskID", "request_upload_urls": "RequestUploadURLs", "cpu_percent": "CPUPercent",
		"model_upload": "ModelUpload", "NOT_STARTED": "NotStarted", "Running": "Running", "x": "X", "ppid": "PPID",
	}
	for in, want := range tests {
		if got := spec.GoName(in); got != want {
			t.Errorf("GoName(%q) = %q, want %q", in, got, want)
		}
	}
}
