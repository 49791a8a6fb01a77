package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/analysis"
)

// TestSchemaConfigNamesTheSchemaExactly: SchemaConfig creates the schema it
// is given and puts that same schema, case included, in the search path:
// the migrations create their tables in it, AppliedMigrations reads them
// back from it, and a second SchemaConfig finds it there.
func TestSchemaConfigNamesTheSchemaExactly(t *testing.T) {
	pgtest.Schema(t) // skips without a server
	ctx := context.Background()
	suffix := strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	for _, tt := range []struct {
		name   string
		schema string
	}{
		{"lower case", "t_lower_" + suffix},
		{"mixed case", "T_Mixed_" + suffix},
		{"upper case", "T_UPPER_" + suffix},
		// A keyword, which reads as a name only quoted.
		{"keyword", "select"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			admin, err := pgx.Connect(ctx, pgtest.URL())
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close(ctx)
			var taken bool
			if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, tt.schema).Scan(&taken); err != nil {
				t.Fatal(err)
			}
			if taken {
				t.Skipf("schema %q exists already: not ours to use and drop", tt.schema)
			}
			pgtest.DropSchemaAtEnd(t, tt.schema)

			migrations := analysis.Migrations(postgres.Engine)
			for range 2 { // creating the schema, then finding it
				cfg, err := postgres.SchemaConfig(ctx, pgtest.URL(), tt.schema)
				if err != nil {
					t.Fatal(err)
				}
				pool, err := postgres.OpenConfig(ctx, cfg, migrations)
				if err != nil {
					t.Fatalf("open and migrate: %v", err)
				}
				var current string
				if err := pool.QueryRow(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&current); err != nil {
					t.Fatal(err)
				}
				if current != tt.schema {
					t.Errorf("current_schema() = %q, want %q", current, tt.schema)
				}
				applied, err := postgres.AppliedMigrations(ctx, pool)
				pool.Close()
				if err != nil || len(applied) != len(migrations) {
					t.Fatalf("applied migrations: %d, %v; want %d", len(applied), err, len(migrations))
				}
			}
			var tables int
			if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = $1 AND c.relname = 'taskmodel_migrations'`, tt.schema).Scan(&tables); err != nil {
				t.Fatal(err)
			}
			if tables != 1 {
				t.Errorf("schema %q holds %d taskmodel_migrations tables, want 1", tt.schema, tables)
			}
		})
	}
}

func TestSearchPath(t *testing.T) {
	for _, tt := range []struct{ schema, want string }{
		{"tasks", `"tasks"`},
		{"ReviewMixed", `"ReviewMixed"`},
		{"select", `"select"`},
		{`odd"name`, `"odd""name"`},
	} {
		if got := postgres.SearchPath(tt.schema); got != tt.want {
			t.Errorf("SearchPath(%q) = %s, want %s", tt.schema, got, tt.want)
		}
	}
}
