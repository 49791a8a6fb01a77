package auth

import (
	"embed"
	"io/fs"
	"path"
	"strings"

	"github.com/taskmodel/taskmodel/tasktype"
)

// sql/ENGINE/NNNN_name.sql is migration "auth/NNNN_name" of ENGINE
// ("sqlite", "postgresql", "mysql"), applied in name order.
//
//go:embed sql
var sqlFiles embed.FS

// Migrations returns the migrations of the token table for an engine
// ("sqlite", "postgresql", "mysql"), in order; NewSQLite, NewPostgres and
// NewMySQL apply them.
// It panics on another engine.
func Migrations(engine string) []tasktype.Migration {
	names, err := fs.Glob(sqlFiles, "sql/"+engine+"/*.sql") // sorted
	if err != nil || len(names) == 0 {
		panic("auth: no migrations for engine " + engine)
	}
	var out []tasktype.Migration
	for _, n := range names {
		b, err := sqlFiles.ReadFile(n)
		if err != nil {
			panic(err)
		}
		out = append(out, tasktype.Migration{Name: "auth/" + strings.TrimSuffix(path.Base(n), ".sql"), SQL: string(b)})
	}
	return out
}
