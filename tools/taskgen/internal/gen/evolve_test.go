package gen_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// TestEvolve generates testdata/evolve/base.yaml (or a case's own v1.yaml)
// as a new model, then each case's v2.yaml over the migrations that left, and compares the migration
// it appends with <case>/<engine>.sql.golden, or the error with
// <case>/error.golden when the change cannot be migrated. Run with -update
// to accept new output. backends/evolutiontest in the main module applies
// these migrations to real databases.
func TestEvolve(t *testing.T) {
	cases, err := filepath.Glob("testdata/evolve/*/v2.yaml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no evolution cases: %v", err)
	}
	for _, v2 := range cases {
		dir := filepath.Dir(v2)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			v1 := v1Path(dir)
			base := generateNew(t, v1)
			files, err := generateOver(t, base, v2)
			got := map[string][]byte{}
			if err != nil {
				got["error"] = []byte(err.Error() + "\n")
			} else {
				added := 0
				for name, data := range files {
					if _, ok := base[name]; ok || !strings.HasPrefix(name, gen.MigrationsDir+"/") {
						continue
					}
					added++
					switch parts := strings.Split(name, "/"); parts[1] {
					case "spec":
						if !strings.HasSuffix(parts[2], ".yaml") {
							t.Errorf("unexpected file %s", name)
						}
					default:
						got[parts[1]+".sql"] = data
					}
				}
				if added != len(gen.Engines)+1 {
					t.Errorf("%d new files under %s, want a migration per engine and a snapshot", added, gen.MigrationsDir)
				}
				// What was there is emitted unchanged (the sum file gains
				// the new files' lines).
				for name, data := range base {
					if strings.HasPrefix(name, gen.MigrationsDir+"/") && name != gen.SumFile && string(files[name]) != string(data) {
						t.Errorf("%s was rewritten", name)
					}
				}
			}
			// The report a pull request shows.
			oldM, err := spec.LoadFile(v1)
			if err != nil {
				t.Fatal(err)
			}
			if newM, err := spec.LoadFile(v2); err == nil {
				got["report.md"] = []byte(gen.Compare(oldM, newM).Markdown("`base.yaml`"))
			}
			names := make([]string, 0, len(got))
			for name := range got {
				names = append(names, name)
			}
			sort.Strings(names)
			checkGolden(t, dir, got, names)
			matches, _ := filepath.Glob(filepath.Join(dir, "*.golden"))
			for _, m := range matches {
				if _, ok := got[strings.TrimSuffix(filepath.Base(m), ".golden")]; !ok {
					t.Errorf("stale golden file %s", m)
				}
			}
		})
	}
}

// TestEvolveTwice regenerates each case over its own output: nothing is
// added the second time.
func TestEvolveTwice(t *testing.T) {
	cases, _ := filepath.Glob("testdata/evolve/*/v2.yaml")
	for _, v2 := range cases {
		base := generateNew(t, v1Path(filepath.Dir(v2)))
		files, err := generateOver(t, base, v2)
		if err != nil {
			continue
		}
		again, err := generateOver(t, files, v2)
		if err != nil {
			t.Fatalf("%s: %v", v2, err)
		}
		if len(again) != len(files) {
			t.Errorf("%s: %d files the second time, %d the first", v2, len(again), len(files))
		}
		for name, data := range files {
			if string(again[name]) != string(data) {
				t.Errorf("%s: %s differs the second time", v2, name)
			}
		}
	}
}

// v1Path is the spec a case starts from: its own v1.yaml, or the base.
func v1Path(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "v1.yaml")); err == nil {
		return filepath.Join(dir, "v1.yaml")
	}
	return "testdata/evolve/base.yaml"
}

func generateNew(t *testing.T, path string) map[string][]byte {
	t.Helper()
	m, err := spec.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := spec.Snapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	files, err := gen.Generate(m, gen.Options{Storage: true, ImportPath: "example.com/gen/" + m.Package, Snapshot: snap})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// generateOver generates the spec at path over the migrations in files.
func generateOver(t *testing.T, files map[string][]byte, path string) (map[string][]byte, error) {
	t.Helper()
	m, err := spec.LoadFile(path)
	if err != nil {
		return nil, err
	}
	snap, err := spec.Snapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	h := &gen.History{Migrations: map[gen.Engine]map[string][]byte{}, Specs: map[string][]byte{}}
	for _, e := range gen.Engines {
		h.Migrations[e] = map[string][]byte{}
	}
	for name, data := range files {
		parts := strings.Split(name, "/")
		if name == gen.SumFile {
			h.Sum = data
		}
		if len(parts) != 3 || parts[0] != gen.MigrationsDir {
			continue
		}
		if parts[1] == "spec" {
			h.Specs[strings.TrimSuffix(parts[2], ".yaml")] = data
		} else {
			h.Migrations[gen.Engine(parts[1])][strings.TrimSuffix(parts[2], ".sql")] = data
		}
	}
	return gen.Generate(m, gen.Options{Storage: true, ImportPath: "example.com/gen/" + m.Package, History: h, Snapshot: snap})
}

func TestEvolveNoChange(t *testing.T) {
	base := generateNew(t, "testdata/evolve/base.yaml")
	again, err := generateOver(t, base, "testdata/evolve/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name := range again {
		if _, ok := base[name]; !ok {
			t.Errorf("the same spec added %s", name)
		}
	}
}
