package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/config"
	"github.com/taskmodel/taskmodel/tasktype"
)

// TestSchemaNamedExactly: --db-schema names the schema case included:
// migrate status finds no schema before migrate up, migrate up creates the
// schema and its tables in it, status reads them back from it, and serve's
// database opens it.
func TestSchemaNamedExactly(t *testing.T) {
	pgtest.Schema(t) // skips without a server
	ctx := context.Background()
	twoMigrations := func(engine string) []tasktype.Migration { return job(engine)[:2] }
	suffix := strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	for _, tt := range []struct {
		name   string
		schema string
	}{
		{"lower case", "t_cli_lower_" + suffix},
		{"mixed case", "T_Cli_Mixed_" + suffix},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pgtest.DropSchemaAtEnd(t, tt.schema)
			flags := []string{"--db-url", pgtest.URL(), "--db-schema", tt.schema}

			code, stdout, stderr := runApp(t, twoMigrations, append([]string{"migrate", "status"}, flags...)...)
			if want := "Note: the schema " + tt.schema + " does not exist yet, and was not created; every migration is pending.\n"; code != 0 || !strings.Contains(stdout, want) {
				t.Errorf("status before up: exit %d, want 0 and %q:\n%s%s", code, want, stdout, stderr)
			}
			code, stdout, stderr = runApp(t, twoMigrations, append([]string{"migrate", "up"}, flags...)...)
			if code != 0 || !strings.Contains(stdout, "Applied 2 migrations in ") {
				t.Fatalf("up: exit %d\n%s%s", code, stdout, stderr)
			}
			code, stdout, stderr = runApp(t, twoMigrations, append([]string{"migrate", "status"}, flags...)...)
			if code != 0 || !strings.Contains(stdout, "2 migrations: 2 applied, 0 pending") || strings.Contains(stdout, "Note:") {
				t.Errorf("status after up: exit %d\n%s%s", code, stdout, stderr)
			}

			d := config.Database{Driver: config.PostgreSQL, URL: pgtest.URL(), Schema: tt.schema}
			db, err := openServeDB(ctx, d)
			if err != nil {
				t.Fatalf("serve's database: %v", err)
			}
			defer db.close()
			var current string
			var jobs int
			if err := db.pg.QueryRow(ctx, `SELECT coalesce(current_schema(), ''), (SELECT count(*) FROM job)`).Scan(&current, &jobs); err != nil {
				t.Fatal(err)
			}
			if current != tt.schema || jobs != 2 {
				t.Errorf("serve's database: schema %q with %d jobs, want %q with 2", current, jobs, tt.schema)
			}
		})
	}
}
