package cli

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
)

// TestMySQLUnreachable: serve, the migrate commands and pipeline tracking
// on MySQL connect, and a server that does not answer is an error naming
// the database, not a refusal of the engine.
func TestMySQLUnreachable(t *testing.T) {
	const url = "mysql://u@127.0.0.1:1/none"
	for _, args := range [][]string{
		{"serve", "--database-url", url},
		{"migrate", "status", "--database-url", url},
		{"migrate", "plan", "--database-url", url},
		{"migrate", "up", "--database-url", url},
		{"status", "--db-url", url},
		{"history", "--db-driver", "mariadb", "--db-name", "none", "--db-port", "1", "--db-user", "u"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != ExitFailure || !strings.HasPrefix(errb.String(), "taskmodel: database mysql mysql://u@") || !strings.Contains(errb.String(), ":1/none: mysql: ") || strings.Contains(errb.String(), "cannot use MySQL") {
				t.Fatalf("exit %d, stderr %q; want exit %d naming the database", code, errb.String(), ExitFailure)
			}
		})
	}
}

// TestMySQLNoSuchDatabase: a database the server does not have is
// explained (taskmodel does not create it), by the commands that read and
// by those that migrate, as a missing SQLite file or PostgreSQL schema is.
func TestMySQLNoSuchDatabase(t *testing.T) {
	u, err := url.Parse(mysqltest.Database(t)) // skips without a server
	if err != nil || u.Scheme != "mysql" {
		t.Skipf("TASKMODEL_TEST_MYSQL_URL is not a mysql:// URL: %v", err)
	}
	name := strings.TrimPrefix(u.Path, "/") + "_missing"
	u.Path = "/" + name
	want := "\nThe database " + name + " does not exist on the server; taskmodel creates its tables, not the database: create it (CREATE DATABASE `" + name + "`), or name an existing one.\n"
	for _, args := range [][]string{
		{"migrate", "status", "--database-url", u.String()},
		{"migrate", "up", "--database-url", u.String()},
		{"status", "--db-url", u.String()},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != ExitFailure || !strings.HasSuffix(errb.String(), want) || !strings.Contains(errb.String(), "Unknown database") {
				t.Fatalf("exit %d, stderr %q; want exit %d ending %q", code, errb.String(), ExitFailure, want)
			}
		})
	}
}
