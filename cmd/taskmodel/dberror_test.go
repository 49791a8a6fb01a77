package main_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
)

// TestDatabaseErrorsSayItOnce: a role the server does not know is refused
// once in the message, though pgx tries twice under sslmode=prefer (TLS,
// then plain); a role that may not use or create the --db-schema schema is
// told that --db-schema names it.
func TestDatabaseErrorsSayItOnce(t *testing.T) {
	pgtest.Schema(t) // skips, or fails under CI, without a server
	base, err := url.Parse(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	suffix := strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	// urlOf is the test server's URL with user and sslmode, and how
	// taskmodel shows it.
	urlOf := func(user, sslmode string) string {
		u := *base
		u.User = url.User(user)
		q := u.Query()
		q.Del("sslmode")
		if sslmode != "" {
			q.Set("sslmode", sslmode)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}

	t.Run("unknown role", func(t *testing.T) {
		role := "taskmodel_no_such_role_" + suffix
		s := newSandbox(t)
		r := s.run("migrate", "status", "--db-url", urlOf(role, ""), "--db-schema", "nosuch")
		dbname := strings.TrimPrefix(base.Path, "/")
		refused := `server error: FATAL: role "` + role + `" does not exist (SQLSTATE 28000)`
		want := "taskmodel: database postgresql " + urlOf(role, "") + " schema nosuch: failed to connect to `user=" + role + " database=" + dbname + "`: "
		if net.ParseIP(base.Hostname()) != nil { // one address: one attempt line
			want += base.Host + " (" + base.Hostname() + "): " + refused + "\n"
			if r.code != 1 || r.stderr != want {
				t.Errorf("exit %d, stderr\n%s\nwant exit 1 and\n%s", r.code, r.stderr, want)
			}
			return
		}
		// A host name may resolve to more than one address, each tried.
		if r.code != 1 || !strings.HasPrefix(r.stderr, want) || !strings.Contains(r.stderr, refused) {
			t.Errorf("exit %d, stderr\n%s\nwant exit 1 and it to start\n%s", r.code, r.stderr, want)
		}
		for _, l := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
			if strings.Count(r.stderr, l) != 1 {
				t.Errorf("the line %q is printed more than once:\n%s", l, r.stderr)
			}
		}
	})

	t.Run("schema the role may not use or create", func(t *testing.T) {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, pgtest.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(ctx)
		role := "taskmodel_t_role_" + suffix
		schema := "T_NoUsage_" + suffix
		for _, stmt := range []string{
			"CREATE ROLE " + role + " LOGIN",
			"CREATE SCHEMA " + pgx.Identifier{schema}.Sanitize(),
		} {
			if _, err := admin.Exec(ctx, stmt); err != nil {
				t.Skipf("%s: %v (needs a role that may create roles)", stmt, err)
			}
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := pgx.Connect(ctx, pgtest.URL())
			if err != nil {
				t.Errorf("drop role %s and schema %s: %v", role, schema, err)
				return
			}
			defer c.Close(ctx)
			for _, stmt := range []string{
				"DROP SCHEMA IF EXISTS " + pgx.Identifier{schema}.Sanitize() + " CASCADE",
				"DROP ROLE IF EXISTS " + role,
			} {
				if _, err := c.Exec(ctx, stmt); err != nil {
					t.Errorf("%s: %v", stmt, err)
				}
			}
		})
		var mayCreate bool
		if err := admin.QueryRow(ctx, `SELECT has_database_privilege($1, current_database(), 'CREATE')`, role).Scan(&mayCreate); err != nil {
			t.Fatal(err)
		}
		if mayCreate {
			t.Skipf("every role may create schemas in this database")
		}
		dsn := urlOf(role, "disable")
		s := newSandbox(t)
		for _, tt := range []struct {
			name, schema, want string
		}{
			{"exists, no USAGE", schema,
				"taskmodel: database postgresql " + dsn + " schema " + schema + ": postgres: ERROR: no schema has been selected to create in (SQLSTATE 3F000)\n" +
					`The schema "` + schema + `" that --db-schema names does not exist, or the role may not use it (it needs USAGE on the schema): check --db-schema, or grant USAGE.` + "\n"},
			{"missing, no CREATE on the database", schema + "_missing",
				"taskmodel: database postgresql " + dsn + " schema " + schema + "_missing: create schema " + schema + "_missing: ERROR: permission denied for database " + strings.TrimPrefix(base.Path, "/") + " (SQLSTATE 42501)\n" +
					`The schema "` + schema + `_missing" that --db-schema names does not exist, and the role may not create it (it needs CREATE on the database): create it, or name an existing schema with --db-schema.` + "\n"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := s.run("migrate", "up", "--db-url", dsn, "--db-schema", tt.schema)
				if r.code != 1 || r.stderr != tt.want {
					t.Errorf("exit %d, stderr\n%s\nwant exit 1 and\n%s", r.code, r.stderr, tt.want)
				}
			})
		}
	})
}
