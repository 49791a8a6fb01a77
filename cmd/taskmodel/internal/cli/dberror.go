package cli

import (
	"errors"
	"fmt"
	"strings"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/config"
)

// databaseError is an error of the configured database as the command line
// shows it: each line once (pgx reports every connection attempt, and with
// sslmode=prefer it tries TLS and then plain, which the server refuses the
// same way), and, when PostgreSQL refuses the schema, that --db-schema
// names it; when MySQL or MariaDB has no database of the name, that
// taskmodel does not create it. It unwraps to the error it shows.
type databaseError struct {
	prefix string // "database D: ", or nothing when err names it already
	d      config.Database
	err    error
}

// databaseErr is err of the database d, prefixed "database D: ".
func databaseErr(d config.Database, err error) error {
	return &databaseError{prefix: fmt.Sprintf("database %s: ", d), d: d, err: err}
}

// tidyDatabaseErr is err of the database d, whose message names d already.
func tidyDatabaseErr(d config.Database, err error) error {
	return &databaseError{d: d, err: err}
}

func (e *databaseError) Error() string {
	msg := e.prefix + dedupLines(e.err.Error())
	if hint := schemaHint(e.d.Schema, e.err); hint != "" {
		msg += "\n" + hint
	}
	if hint := mysqlDatabaseHint(e.d, e.err); hint != "" {
		msg += "\n" + hint
	}
	if hint := postgresDatabaseHint(e.d, e.err); hint != "" {
		msg += "\n" + hint
	}
	return msg
}

// mysqlDatabaseHint says that the database MySQL or MariaDB does not know
// (error 1049, ER_BAD_DB_ERROR) is one taskmodel does not create: as a
// missing SQLite file or PostgreSQL schema is explained rather than left
// to the driver's words.
func mysqlDatabaseHint(d config.Database, err error) string {
	var me *mysqldriver.MySQLError
	if !errors.As(err, &me) || me.Number != 1049 {
		return ""
	}
	name := d.Name
	if dsn, derr := d.MySQLURL(); derr == nil {
		if cfg, perr := mysql.ParseDSN(dsn); perr == nil && cfg.DBName != "" {
			name = cfg.DBName
		}
	}
	return missingDatabaseHint(name, "CREATE DATABASE `"+strings.ReplaceAll(name, "`", "``")+"`")
}

// missingDatabaseHint says that the database name (unknown when "") does
// not exist and how to create it (create, a statement).
func missingDatabaseHint(name, create string) string {
	if name == "" {
		return "The database the URL names does not exist on the server; taskmodel creates its tables, not the database: create it, or name an existing one."
	}
	return fmt.Sprintf("The database %s does not exist on the server; taskmodel creates its tables, not the database: create it (%s), or name an existing one.", name, create)
}

// postgresDatabaseHint says, as mysqlDatabaseHint does, that the database
// PostgreSQL does not know (SQLSTATE 3D000, invalid_catalog_name) is one
// taskmodel does not create.
func postgresDatabaseHint(d config.Database, err error) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "3D000" {
		return ""
	}
	name := d.Name
	if url, uerr := d.PostgresURL(); uerr == nil {
		if cfg, perr := pgconn.ParseConfig(url); perr == nil && cfg.Database != "" {
			name = cfg.Database
		}
	}
	return missingDatabaseHint(name, `CREATE DATABASE "`+strings.ReplaceAll(name, `"`, `""`)+`", or createdb`)
}

func (e *databaseError) Unwrap() error { return e.err }

// dedupLines drops the lines of msg that repeat an earlier one; when one
// indented line is left under a line ending in ":", it joins that line, as
// pgx writes a single attempt.
func dedupLines(msg string) string {
	lines := strings.Split(msg, "\n")
	seen := make(map[string]bool, len(lines))
	kept := lines[:0]
	for _, l := range lines {
		if seen[l] {
			continue
		}
		seen[l] = true
		kept = append(kept, l)
	}
	if len(kept) == 2 && strings.HasSuffix(kept[0], ":") && strings.HasPrefix(kept[1], "\t") {
		return kept[0] + " " + strings.TrimPrefix(kept[1], "\t")
	}
	return strings.Join(kept, "\n")
}

// schemaHint says that --db-schema names the schema PostgreSQL refused:
// SQLSTATE 3F000, no usable schema to create in (it is missing, or the role
// may not use it), or 42501 on the schema (or, creating it, on the
// database).
func schemaHint(schema string, err error) string {
	var pe *pgconn.PgError
	if schema == "" || !errors.As(err, &pe) {
		return ""
	}
	switch {
	case pe.Code == "3F000":
		return fmt.Sprintf("The schema %q that --db-schema names does not exist, or the role may not use it (it needs USAGE on the schema): check --db-schema, or grant USAGE.", schema)
	case pe.Code == "42501" && strings.HasPrefix(pe.Message, "permission denied for schema"):
		return fmt.Sprintf("The role lacks a privilege on the schema %q that --db-schema names (it needs USAGE, and CREATE to migrate): grant them, or name another schema with --db-schema.", schema)
	case pe.Code == "42501" && strings.HasPrefix(pe.Message, "permission denied for database") && !isConnectError(err):
		return fmt.Sprintf("The schema %q that --db-schema names does not exist, and the role may not create it (it needs CREATE on the database): create it, or name an existing schema with --db-schema.", schema)
	}
	return ""
}

func isConnectError(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}
