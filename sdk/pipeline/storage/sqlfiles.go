package storage

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/tasktype"
)

// SQL holds an engine's statements and migrations, read from its embedded
// files: one statement per file in the root ("increment.sql" is statement
// "increment"), migrations in migrations/ ("0001_registry.sql" is migration
// "pipeline/0001_registry"), applied in name order.
type SQL struct {
	statements map[string]string
	migrations []tasktype.Migration
}

// LoadSQL reads an engine's files. It fails on a file that is not .sql.
func LoadSQL(fsys fs.FS) (*SQL, error) {
	s := &SQL{statements: map[string]string{}}
	files, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.IsDir() {
			continue
		}
		name, ok := strings.CutSuffix(f.Name(), ".sql")
		if !ok {
			return nil, fmt.Errorf("storage: %s is not a .sql file", f.Name())
		}
		b, err := fs.ReadFile(fsys, f.Name())
		if err != nil {
			return nil, err
		}
		s.statements[name] = string(b)
	}
	migs, err := fs.Glob(fsys, "migrations/*.sql") // sorted by name
	if err != nil {
		return nil, err
	}
	for _, m := range migs {
		b, err := fs.ReadFile(fsys, m)
		if err != nil {
			return nil, err
		}
		s.migrations = append(s.migrations, tasktype.Migration{
			Name: "pipeline/" + strings.TrimSuffix(path.Base(m), ".sql"),
			SQL:  string(b),
		})
	}
	return s, nil
}

// MustLoadSQL is LoadSQL of the directory dir of embedded files, which
// cannot fail at run time once a test has loaded them.
func MustLoadSQL(fsys fs.FS, dir string) *SQL {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	s, err := LoadSQL(sub)
	if err != nil {
		panic(err)
	}
	return s
}

// Statement returns the statement of a file; it panics on a name with no
// file, a programming error every test run would catch.
func (s *SQL) Statement(name string) string {
	q, ok := s.statements[name]
	if !ok {
		panic("storage: no statement " + name)
	}
	return q
}

// Migrations returns every migration an engine ("sqlite", "postgresql",
// "mysql") needs, in order: the generated run and subtask models', then the
// engine's own.
func (s *SQL) Migrations(engine string) []tasktype.Migration {
	var all []tasktype.Migration
	all = append(all, pipelinerun.Migrations(engine)...)
	all = append(all, pipelinesubtask.Migrations(engine)...)
	return append(all, s.migrations...)
}

// Registry returns the engine's own migrations only (the registry of stages
// and tasks), for a database whose run and subtask migrations are applied
// with the other models' (taskmodel serve's).
func (s *SQL) Registry() []tasktype.Migration {
	return append([]tasktype.Migration(nil), s.migrations...)
}
