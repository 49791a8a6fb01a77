package cli

import (
	"errors"
	"fmt"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/taskmodel/taskmodel/config"
)

func TestDatabaseErr(t *testing.T) {
	withSchema := config.Database{Driver: config.PostgreSQL, URL: "postgres://app@db:5432/tasks", Schema: "Tasks"}
	noSchema := config.Database{Driver: config.PostgreSQL, URL: "postgres://app@db:5432/tasks"}
	pgErr := func(code, msg string) error {
		return &pgconn.PgError{Severity: "ERROR", Code: code, Message: msg}
	}
	const (
		prefix = "database postgresql postgres://app@db:5432/tasks schema Tasks: "
		role   = "10.0.0.5:5432 (db): server error: FATAL: role \"app\" does not exist (SQLSTATE 28000)"
	)
	for _, tt := range []struct {
		name string
		d    config.Database
		err  error
		want string
	}{
		{"one attempt", withSchema,
			errors.New("failed to connect to `user=app database=tasks`: " + role),
			prefix + "failed to connect to `user=app database=tasks`: " + role},
		{"TLS then plain, refused alike: once", withSchema,
			errors.New("failed to connect to `user=app database=tasks`:\n\t" + role + "\n\t" + role),
			prefix + "failed to connect to `user=app database=tasks`: " + role},
		{"two addresses: both", withSchema,
			errors.New("failed to connect to `user=app database=tasks`:\n\t" + role + "\n\t" + role + "\n\t[::1]:5432 (db): dial error: connection refused"),
			prefix + "failed to connect to `user=app database=tasks`:\n\t" + role + "\n\t[::1]:5432 (db): dial error: connection refused"},
		{"no schema to create in", withSchema,
			fmt.Errorf("postgres: %w", pgErr("3F000", "no schema has been selected to create in")),
			prefix + "postgres: ERROR: no schema has been selected to create in (SQLSTATE 3F000)\n" +
				`The schema "Tasks" that --db-schema names does not exist, or the role may not use it (it needs USAGE on the schema): check --db-schema, or grant USAGE.`},
		{"no schema to create in, without --db-schema", noSchema,
			fmt.Errorf("postgres: %w", pgErr("3F000", "no schema has been selected to create in")),
			"database postgresql postgres://app@db:5432/tasks: postgres: ERROR: no schema has been selected to create in (SQLSTATE 3F000)"},
		{"no privilege on the schema", withSchema,
			pgErr("42501", "permission denied for schema Tasks"),
			prefix + "ERROR: permission denied for schema Tasks (SQLSTATE 42501)\n" +
				`The role lacks a privilege on the schema "Tasks" that --db-schema names (it needs USAGE, and CREATE to migrate): grant them, or name another schema with --db-schema.`},
		{"may not create the schema", withSchema,
			fmt.Errorf("create schema Tasks: %w", pgErr("42501", "permission denied for database tasks")),
			prefix + "create schema Tasks: ERROR: permission denied for database tasks (SQLSTATE 42501)\n" +
				`The schema "Tasks" that --db-schema names does not exist, and the role may not create it (it needs CREATE on the database): create it, or name an existing schema with --db-schema.`},
		{"no privilege on a table: not the schema", withSchema,
			pgErr("42501", "permission denied for table job"),
			prefix + "ERROR: permission denied for table job (SQLSTATE 42501)"},
		{"no such MySQL database", config.Database{Driver: config.MySQL, URL: "mysql://app@db:3306/tasks"},
			fmt.Errorf("mysql: %w", &mysqldriver.MySQLError{Number: 1049, SQLState: [5]byte{'4', '2', '0', '0', '0'}, Message: "Unknown database 'tasks'"}),
			"database mysql mysql://app@db:3306/tasks: mysql: Error 1049 (42000): Unknown database 'tasks'\n" +
				"The database tasks does not exist on the server; taskmodel creates its tables, not the database: create it (CREATE DATABASE `tasks`), or name an existing one."},
		{"no such MariaDB database, named by its parts", config.Database{Driver: config.MySQL, Host: "db", User: "app", Name: "my`tasks"},
			&mysqldriver.MySQLError{Number: 1049, Message: "Unknown database 'my`tasks'"},
			"database mysql mysql://app@db/my%60tasks: Error 1049: Unknown database 'my`tasks'\n" +
				"The database my`tasks does not exist on the server; taskmodel creates its tables, not the database: create it (CREATE DATABASE `my``tasks`), or name an existing one."},
		{"no such PostgreSQL database", noSchema,
			fmt.Errorf("failed to connect to `user=app database=tasks`: %w", pgErr("3D000", `database "tasks" does not exist`)),
			"database postgresql postgres://app@db:5432/tasks: failed to connect to `user=app database=tasks`: ERROR: database \"tasks\" does not exist (SQLSTATE 3D000)\n" +
				`The database tasks does not exist on the server; taskmodel creates its tables, not the database: create it (CREATE DATABASE "tasks", or createdb), or name an existing one.`},
		{"another MySQL error", config.Database{Driver: config.MySQL, URL: "mysql://app@db:3306/tasks"},
			&mysqldriver.MySQLError{Number: 1045, Message: "Access denied for user 'app'"},
			"database mysql mysql://app@db:3306/tasks: Error 1045: Access denied for user 'app'"},
		{"not PostgreSQL's", config.Database{Driver: config.SQLite, Name: "/srv/tasks.db"},
			errors.New("unable to open database file\nunable to open database file"),
			"database sqlite /srv/tasks.db: unable to open database file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := databaseErr(tt.d, tt.err)
			if got := err.Error(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("does not wrap %v", tt.err)
			}
		})
	}
	if got, want := tidyDatabaseErr(withSchema, errors.New("database x: failed:\n\ta\n\ta")).Error(), "database x: failed: a"; got != want {
		t.Errorf("tidyDatabaseErr: %q, want %q", got, want)
	}
}
