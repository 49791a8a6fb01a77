package spec

import "os"

// DeclaredNames loads the spec file path and returns the package-level Go
// names the loader declared for it: the generated ones (GeneratedNames) and
// those the spec's own names give.
func DeclaredNames(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l := &loader{file: path, read: os.ReadFile, idents: map[string]string{}, brokenEvents: map[*Event]bool{}}
	l.model(data)
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return l.idents, nil
}
