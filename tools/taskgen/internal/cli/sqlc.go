package cli

import (
	"path/filepath"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
)

// sqlcLayout returns where the files sqlc.yaml names are, relative to the
// directory of the sqlc.yaml file at sqlcPath: dirs are the directories the
// models' packages were written into, catalog the catalog package's ("" for
// none). The paths are those taskgen wrote, not derived from package names:
// a package may live in a directory named otherwise.
func sqlcLayout(sqlcPath string, dirs []string, catalog string) (gen.SQLCLayout, error) {
	var layout gen.SQLCLayout
	base, err := filepath.Abs(filepath.Dir(sqlcPath))
	if err != nil {
		return layout, err
	}
	for _, d := range dirs {
		rel, err := relSlash(base, d)
		if err != nil {
			return layout, err
		}
		layout.Dirs = append(layout.Dirs, rel)
	}
	if catalog != "" {
		if layout.Catalog, err = relSlash(base, catalog); err != nil {
			return layout, err
		}
	}
	return layout, nil
}

// relSlash returns path relative to the absolute directory base, as a slash
// path.
func relSlash(base, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(base, abs)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}
