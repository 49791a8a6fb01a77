package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/tasktype"
)

// A program that keeps tasks of its own models shows which of their
// migrations a database has not applied yet, and what they check and
// change, before it opens the database (which applies them): here a
// database migrated by the previous build, which knew only the first
// migration. Generated packages give the list: Migrations(sqlite.Engine).
func ExampleAppliedMigrations() {
	ctx := context.Background()
	migrations := []tasktype.Migration{
		{Name: "render_job/0001_schema", SQL: "CREATE TABLE render_job (id TEXT PRIMARY KEY, title TEXT);\n"},
		{Name: "render_job/0002_add_priority", SQL: "ALTER TABLE render_job ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;\n"},
	}
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tasks.db")
	old, err := sqlite.Open(ctx, path, migrations[:1]) // the previous build
	if err != nil {
		fmt.Println(err)
		return
	}
	defer old.Close()

	applied, err := sqlite.AppliedMigrations(ctx, old)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := tasktype.CheckApplied(migrations, appliedSums(applied)); err != nil {
		fmt.Println("refused:", err) // a newer build's migration, or an edited one
		return
	}
	for _, m := range tasktype.PendingMigrations(migrations, applied) {
		fmt.Printf("pending %s:\n%s", m.Name, m.SQL)
	}
	// Output:
	// pending render_job/0002_add_priority:
	// ALTER TABLE render_job ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
}

func appliedSums(applied []tasktype.AppliedMigration) map[string]string {
	sums := make(map[string]string, len(applied))
	for _, a := range applied {
		sums[a.Name] = a.Checksum
	}
	return sums
}
