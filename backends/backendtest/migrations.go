package backendtest

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/tasktype"
)

// GeneratedFrom returns the name (without the model) of the first of ms
// whose generated header says it was generated from the spec of the
// migration named name ("-- from the spec of <name> to …"): the migration
// a program lacking name is refused for. "" when none is.
func GeneratedFrom(ms []tasktype.Migration, name string) string {
	for _, m := range ms {
		if strings.Contains(m.SQL, "\n-- from the spec of "+name+" ") {
			_, n, _ := strings.Cut(m.Name, "/")
			return n
		}
	}
	return ""
}

// Migrating is an engine's migration applier, for RunMigrationRules.
type Migrating struct {
	// Engine names the engine's generated migrations (sqlite.Engine, …).
	Engine string
	// Jobs are three migrations of a model job in the engine's SQL:
	// 0001_schema creates the table job (id and note, both text),
	// 0002_at adds a column, and 0003_short_note first checks that no
	// note is longer than 5 characters ("-- taskmodel:check job.note |
	// at most 5 characters | tasks", its example the smallest id).
	Jobs []tasktype.Migration
	// Open opens a new, empty database of its own and applies ms.
	Open func(t testing.TB, ms []tasktype.Migration) MigratingDB
}

// MigratingDB is a database Migrating.Open opened.
type MigratingDB interface {
	Exec(ctx context.Context, sql string) error
	Migrate(ctx context.Context, ms []tasktype.Migration) error
	Applied(ctx context.Context) (map[string]string, error)
}

// SQLMigratingDB is the MigratingDB of a database/sql engine: db, with
// the engine package's Migrate and Applied.
func SQLMigratingDB(db *sql.DB, migrate func(context.Context, *sql.DB, []tasktype.Migration) error, applied func(context.Context, *sql.DB) (map[string]string, error)) MigratingDB {
	return sqlMigrating{db, migrate, applied}
}

type sqlMigrating struct {
	db      *sql.DB
	migrate func(context.Context, *sql.DB, []tasktype.Migration) error
	applied func(context.Context, *sql.DB) (map[string]string, error)
}

func (m sqlMigrating) Exec(ctx context.Context, q string) error {
	_, err := m.db.ExecContext(ctx, q)
	return err
}

func (m sqlMigrating) Migrate(ctx context.Context, ms []tasktype.Migration) error {
	return m.migrate(ctx, m.db, ms)
}

func (m sqlMigrating) Applied(ctx context.Context) (map[string]string, error) {
	return m.applied(ctx, m.db)
}

// RunMigrationRules checks, on one engine, what its applier refuses and
// says: a migration whose data check stored rows break names the rule and
// what is true of the database (unchanged, or at the migration the same
// start applied before it), and applies once the rows are fixed; a
// program whose migrations' numbering is broken (two under one number,
// one missing) is refused before it applies anything.
func RunMigrationRules(t *testing.T, m Migrating) {
	ctx := context.Background()
	t.Run("refused", func(t *testing.T) {
		rule := `migration job/0003_short_note refused: job.note: 2 tasks break the rule "at most 5 characters" (for example task a); `
		advice := ". Fix the rows and start again, or fix the spec: a migration generated after this one would never run, so first delete this one's files (migrations/sqlite/0003_short_note.sql, migrations/postgresql/0003_short_note.sql, migrations/mysql/0003_short_note.sql and migrations/spec/0003_short_note.yaml, in the model's generated package) if it is the model's newest and no database applied it, then run go generate"
		for _, tt := range []struct {
			name    string
			applied int // migrations applied before the rows are written
			want    string
		}{
			{"the first to apply", 2, rule + "the database is unchanged" + advice},
			{"after one the start applied", 1, rule + "it changed nothing, and the database stays at migration job/0002_at, which this start applied before it" + advice},
		} {
			t.Run(tt.name, func(t *testing.T) {
				db := m.Open(t, m.Jobs[:tt.applied])
				if err := db.Exec(ctx, `INSERT INTO job (id, note) VALUES ('b', 'too long'), ('a', 'longer still'), ('c', 'ok')`); err != nil {
					t.Fatal(err)
				}
				if err := db.Migrate(ctx, m.Jobs); err == nil || err.Error() != tt.want {
					t.Fatalf("Migrate = %v\nwant %s", err, tt.want)
				}
				if sums, err := db.Applied(ctx); err != nil || len(sums) != 2 {
					t.Fatalf("applied after the refusal: %v, %v; want the first two", sums, err)
				}
				if err := db.Exec(ctx, `UPDATE job SET note = 'short' WHERE id IN ('a', 'b')`); err != nil {
					t.Fatal(err)
				}
				if err := db.Migrate(ctx, m.Jobs); err != nil {
					t.Fatalf("Migrate once the rows are fixed: %v", err)
				}
			})
		}
	})
	t.Run("numbering", func(t *testing.T) {
		all := analysis.Migrations(m.Engine)
		without := func(name string) []tasktype.Migration {
			return slices.DeleteFunc(analysis.Migrations(m.Engine), func(x tasktype.Migration) bool { return x.Name == "analysis/"+name })
		}
		withoutIf := func(name string) []tasktype.Migration {
			if name == "" {
				return nil
			}
			return without(name)
		}
		last := strings.TrimPrefix(all[len(all)-1].Name, "analysis/")
		dup := last[:4] + "_add_x" // a second migration under the newest one's number
		pair := []string{dup, last}
		slices.Sort(pair)
		// deleted is a migration of the engine's that a later one was
		// generated from the spec of (none on MySQL, whose analysis
		// migrations start after the spec changes, with its own schema).
		deleted := ""
		for _, x := range all {
			_, name, _ := strings.Cut(x.Name, "/")
			if GeneratedFrom(all, name) != "" {
				deleted = name
			}
		}
		framework := all[1].Name[len("analysis/"):] // a migration before the newest, not generated from a spec change
		for _, tt := range []struct {
			name       string
			applied    []tasktype.Migration // before the program opens the database
			migrations []tasktype.Migration
			want       string
		}{
			{"two under one number, new database", nil, append(analysis.Migrations(m.Engine), tasktype.Migration{Name: "analysis/" + dup, SQL: "SELECT 1;"}),
				"this program's migrations of model analysis are broken: " + pair[0] + " and " + pair[1] + " have the same number " + last[:4] + " (two branches each generated one?), so none is applied; keep the one a database has applied, if any, delete the other's files in the model's generated package (" + pair[1] + "'s: migrations/sqlite/" + pair[1] + ".sql, migrations/postgresql/" + pair[1] + ".sql, migrations/mysql/" + pair[1] + ".sql and migrations/spec/" + pair[1] + ".yaml; or " + pair[0] + "'s: migrations/sqlite/" + pair[0] + ".sql, migrations/postgresql/" + pair[0] + ".sql, migrations/mysql/" + pair[0] + ".sql and migrations/spec/" + pair[0] + ".yaml), run go generate and build again"},
			{"deleted, new database", nil, withoutIf(deleted),
				"this program's migrations of model analysis are broken: they lack migration " + deleted + ", from whose spec " + GeneratedFrom(all, deleted) + " was generated, so none is applied: restore its files from version control (a migration is never deleted once others follow it), run go generate and build again"},
			{"deleted, applied by the database", all, without(framework),
				"the database has applied migration " + framework + " of model analysis, which this program does not have although its migrations of analysis go on to " + last + "; nothing is applied: restore its files from version control (a migration is never deleted once others follow it), run go generate and build again"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if tt.migrations == nil {
					t.Skipf("no %s migration of analysis is generated from the spec of an earlier one", m.Engine)
				}
				db := m.Open(t, tt.applied)
				if err := db.Migrate(ctx, tt.migrations); err == nil || err.Error() != tt.want {
					t.Fatalf("Migrate = %v\nwant %s", err, tt.want)
				}
				if sums, err := db.Applied(ctx); err != nil || len(sums) != len(tt.applied) {
					t.Fatalf("applied: %d, %v; want %d", len(sums), err, len(tt.applied))
				}
			})
		}
	})
}
