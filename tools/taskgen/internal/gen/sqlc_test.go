package gen_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// TestSQLCGolden renders sqlc.yaml for the golden specs, each in a
// directory that is not named after its package, with the catalog, and
// compares it with testdata/sqlc/<case>.golden. Run with -update to accept
// new output.
func TestSQLCGolden(t *testing.T) {
	var models []*spec.Model
	for _, name := range []string{"minimal", "renderjob", "shared"} {
		m, err := spec.LoadFile(filepath.Join("testdata", "golden", name, "spec.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, m)
	}
	dirs := []string{"gen/minimal", "gen/render_job", "../internal/shared_pkg"}
	tests := []struct {
		name   string
		layout gen.SQLCLayout
	}{
		{"sqlc.yaml", gen.SQLCLayout{Dirs: dirs, Catalog: "gen/catalog", Command: "taskgen -spec schema -out gen -sqlc sqlc.yaml", File: "sqlc.yaml"}},
		// No command line (a path that could not be made relative): neutral wording.
		{"no_command.yaml", gen.SQLCLayout{Dirs: dirs, File: "sqlc.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{tt.name: gen.SQLCConfig(models, tt.layout)}
			checkGolden(t, filepath.Join("testdata", "sqlc"), files, []string{tt.name})
			for _, dir := range dirs {
				if !strings.Contains(string(files[tt.name]), "    queries: "+dir+"/sql/sqlite/query.sql\n") {
					t.Errorf("no query file in %s", dir)
				}
			}
		})
	}
}
