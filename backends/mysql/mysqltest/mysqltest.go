// Package mysqltest gives tests an isolated database on a real MySQL or
// MariaDB server. The server comes from TASKMODEL_TEST_MYSQL_URL, by
// default mysql://root@127.0.0.1:3306/test. When no server answers, tests
// skip with a loud message — except under CI=true, where they fail: CI
// never silently skips MySQL.
package mysqltest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends/mysql"
)

// DefaultURL is the server tests use when TASKMODEL_TEST_MYSQL_URL is unset.
const DefaultURL = "mysql://root@127.0.0.1:3306/test"

// URL returns the test server's URL.
func URL() string {
	if u := os.Getenv("TASKMODEL_TEST_MYSQL_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Database creates a fresh database (tm_<random>) for the test, dropped
// when it ends, and returns the URL of the test server with that database
// in its path.
func Database(t testing.TB) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(URL())
	if err != nil {
		t.Fatalf("TASKMODEL_TEST_MYSQL_URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		unavailable(t, fmt.Sprintf("MySQL at %s does not answer: %v", redact(URL()), err))
	}
	name := "tm_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET "+mysql.Charset+" COLLATE "+mysql.Collation); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := connect(cfg)
		if err == nil {
			defer db.Close()
			_, err = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name)
		}
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(URL())
	if err != nil || !strings.HasPrefix(URL(), "mysql://") {
		// The driver's DSN form: give the database in that form.
		c := cfg.Clone()
		c.DBName = name
		return c.FormatDSN()
	}
	u.Path = "/" + name
	return u.String()
}

func connect(cfg *driver.Config) (*sql.DB, error) {
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// redact hides a password in a URL.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}

// unavailable skips the test, loudly, because MySQL cannot be had here —
// or fails it under CI=true.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: MySQL tests never skip)", msg)
	}
	t.Skipf("\n\n*** SKIPPING MYSQL TEST: %s ***\n*** set TASKMODEL_TEST_MYSQL_URL to a MySQL or MariaDB server to run it ***\n", msg)
}
