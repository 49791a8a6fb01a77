package spec_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// FuzzParse feeds arbitrary bytes to the loader. It must never panic; it
// returns a model or errors that all carry a position; and a model it
// accepts must generate (gofmt-valid Go, a review document).
//
//	go test ./taskgen/internal/spec -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml", "../../../../schema/*.yaml", "../gen/testdata/golden/*/spec.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := spec.Parse("fuzz.yaml", data, nil)
		if err != nil {
			list, ok := err.(spec.ErrorList)
			if !ok || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
			}
			for _, e := range list {
				if e.Pos.Line < 1 || e.Pos.Col < 1 {
					t.Fatalf("error without a position: %v", e)
				}
			}
			return
		}
		files, err := gen.Generate(m, gen.Options{Storage: true, ImportPath: "example.com/gen/" + m.Package})
		if err != nil {
			t.Fatalf("accepted spec does not generate: %v\nspec:\n%s", err, data)
		}
		// Its snapshot reads back into a model that generates the same files.
		snap, err := spec.SnapshotOf("fuzz.yaml", data, nil)
		if err != nil {
			t.Fatalf("accepted spec has no snapshot: %v\nspec:\n%s", err, data)
		}
		m2, err := spec.Parse("snapshot.yaml", snap, nil)
		if err != nil {
			t.Fatalf("snapshot does not load: %v\nsnapshot:\n%s", err, snap)
		}
		files2, err := gen.Generate(m2, gen.Options{Storage: true, ImportPath: "example.com/gen/" + m.Package})
		if err != nil {
			t.Fatalf("snapshot does not generate: %v", err)
		}
		for name, want := range files {
			if name != "README.md" && string(files2[name]) != string(want) {
				t.Fatalf("%s differs when generated from the snapshot\nspec:\n%s\nsnapshot:\n%s", name, data, snap)
			}
		}
	})
}
