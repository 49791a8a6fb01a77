package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
)

// TestClusterRestarts: each way of stopping a private cluster ends the
// server (its sessions are gone, a new postmaster answers on the same URL)
// and loses no committed write.
func TestClusterRestarts(t *testing.T) {
	ctx := context.Background()
	c := pgtest.StartCluster(t)
	connect := func() *pgx.Conn {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		return conn
	}
	conn := connect()
	if _, err := conn.Exec(ctx, `CREATE TABLE kept (n int)`); err != nil {
		t.Fatal(err)
	}
	var started time.Time
	if err := conn.QueryRow(ctx, `SELECT pg_postmaster_start_time()`).Scan(&started); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		name    string
		restart func(testing.TB)
	}{
		{"Restart (immediate)", c.Restart},
		{"Stop fast, Start", func(t testing.TB) { c.Stop(t, pgtest.Fast); c.Start(t) }},
		{"Stop immediate, Start", func(t testing.TB) { c.Stop(t, pgtest.Immediate); c.Start(t) }},
	} {
		if _, err := conn.Exec(ctx, `INSERT INTO kept VALUES ($1)`, i); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		tc.restart(t)
		if err := conn.Ping(ctx); err == nil {
			t.Errorf("%s: a session of the old server still answers", tc.name)
		}
		conn = connect()
		var now time.Time
		var rows int
		if err := conn.QueryRow(ctx, `SELECT pg_postmaster_start_time(), (SELECT count(*) FROM kept)`).Scan(&now, &rows); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !now.After(started) {
			t.Errorf("%s: the postmaster started at %s, before or at the previous one's %s: no restart", tc.name, now, started)
		}
		if rows != i+1 {
			t.Errorf("%s: %d committed rows survived, want %d", tc.name, rows, i+1)
		}
		started = now
	}
}

// TestStartSettings: Start refuses a setting that is not name=value, and a
// cluster started without settings runs with PostgreSQL's defaults (fsync
// on, where StartCluster turns it off) until Close stops it.
func TestStartSettings(t *testing.T) {
	for _, tc := range []struct {
		setting, want string
	}{
		{"fsync", `pgtest: setting "fsync": want name=value`},
		{"=off", `pgtest: setting "=off": want name=value`},
	} {
		c, err := pgtest.Start(tc.setting)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Start(%q) = %v, %v; want the error %q", tc.setting, c, err, tc.want)
		}
	}

	ctx := context.Background()
	c := pgtest.StartCluster(t) // skips (or fails under CI) where no server can be had
	show := func(url string) string {
		t.Helper()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var v string
		if err := conn.QueryRow(ctx, `SHOW fsync`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := show(c.URL()); got != "off" {
		t.Errorf("StartCluster: fsync = %s, want off", got)
	}
	d, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	if got := show(d.URL()); got != "on" {
		t.Errorf("Start(): fsync = %s, want on (the default)", got)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if conn, err := pgx.Connect(ctx, d.URL()); err == nil {
		conn.Close(ctx)
		t.Error("the server still answers after Close")
	}
}
