package gen_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// TestCatalogGolden generates the catalog package (the unified listing) over
// golden specs that declare api owners — renderjob (an optional owner, no
// tag) and shared — with minimal, which is not listed, and compares each
// file with testdata/catalog/<file>.golden. Run with -update to accept new
// output.
func TestCatalogGolden(t *testing.T) {
	var models []*spec.Model
	for _, name := range []string{"minimal", "renderjob", "shared"} {
		m, err := spec.LoadFile(filepath.Join("testdata", "golden", name, "spec.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, m)
	}
	files, err := gen.CatalogFiles(models, "example.com/gen")
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		if !strings.HasPrefix(name, "openapi.") { // the OpenAPI document has its own golden test
			names = append(names, name)
		}
	}
	slices.Sort(names)
	want := []string{"catalog.go", "mysqldb/lister.go", "mysqldb/query.sql", "pgdb/lister.go", "serve.go", "sql/postgresql/query.sql", "sql/sqlite/query.sql", "sqlitedb/lister.go"}
	if !slices.Equal(names, want) {
		t.Fatalf("files = %v, want %v", names, want)
	}
	checkGolden(t, filepath.Join("testdata", "catalog"), files, names)
	// Every listed model with an owner has a branch by owner; a model
	// without one reads nothing for an owner.
	// SQLite writes the parameter +? (no plan that depends on its value).
	for file, cols := range map[string][2]string{
		"sql/postgresql/query.sql": {"t.submitted_by = sqlc.narg(tm_owner)", "t.owner_name = sqlc.narg(tm_owner)"},
		"sql/sqlite/query.sql":     {"t.submitted_by = +sqlc.narg(tm_owner)", "t.owner_name = +sqlc.narg(tm_owner)"},
		"mysqldb/query.sql":        {"t.`submitted_by` = sqlc.narg(tm_owner)", "t.`owner_name` = sqlc.narg(tm_owner)"},
	} {
		e := file
		q := string(files[file])
		for _, cond := range cols {
			if !strings.Contains(q, cond) {
				t.Errorf("%s query: no branch with %q", e, cond)
			}
		}
	}
}
