package gen_test

import (
	"regexp"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// internalWords are the words of the requirement documents and of the
// work that wrote the specs: spec authors keep them in YAML comments, which
// no generated document shows.
var internalWords = regexp.MustCompile(`(?i)\bseed\b|issue [0-9]|session [0-9]`)

// TestNoInternalWords generates the built-in specs (schema/) and fails when
// a document users read — a model's README.md and types.ts, the OpenAPI
// document — names the requirement documents or the work behind them.
func TestNoInternalWords(t *testing.T) {
	models, err := spec.LoadDir("../../../../schema")
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, data []byte) {
		t.Helper()
		for _, loc := range internalWords.FindAllIndex(data, -1) {
			from, to := max(loc[0]-40, 0), min(loc[1]+40, len(data))
			t.Errorf("%s: %q: say what the thing is; keep requirement references in the spec's # comments", name, data[from:to])
		}
	}
	for _, m := range models {
		files, err := gen.Generate(m, gen.Options{Storage: true, ImportPath: "example.com/gen/" + m.Package})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"README.md", "types.ts"} {
			if data, ok := files[name]; ok {
				check(m.Package+"/"+name, data)
			} else {
				t.Errorf("%s: no %s generated", m.Name, name)
			}
		}
	}
	doc, err := gen.OpenAPI(models)
	if err != nil {
		t.Fatal(err)
	}
	check("openapi.json", doc)
}
