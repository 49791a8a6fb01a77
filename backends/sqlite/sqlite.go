// Package sqlite opens the embedded default backend: a SQLite database
// through modernc.org/sqlite (pure Go, no cgo), with WAL, a busy timeout and
// foreign keys on, and applies the models' migrations.
//
// Each generated model has a Driver over the returned *sql.DB in
// gen/<model>/sqlitedb:
//
//	db, err := sqlite.Open(ctx, "tasks.db", analysis.Migrations(sqlite.Engine))
//	store := backends.NewStore[analysis.Task, analysis.Event](sqlitedb.NewDriver(db))
//
// SQLite lets one connection write at a time. The drivers of a database
// write through its Writer, which group-commits the process's concurrent
// writes — creates, claims, progress, completions of any model — into
// shared transactions on one connection.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/taskmodel/taskmodel/tasktype"
)

// Engine is the engine name generated Migrations functions take.
const Engine = "sqlite"

var memoryDBs atomic.Int64

// busyTimeout is how long a statement waits for a lock another connection
// holds before it fails with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// busyTimeoutPragma sets a connection's busy timeout back to busyTimeout.
var busyTimeoutPragma = fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeout.Milliseconds())

// MaxConns is how many connections Open keeps to a database file.
const MaxConns = 16

// Open opens (creating if needed, with its directory) the SQLite database at
// path — ":memory:" for a private in-memory one — and applies migrations. Writes use
// BEGIN IMMEDIATE, so concurrent writers queue on the busy timeout instead of
// failing on a lock upgrade.
func Open(ctx context.Context, path string, migrations ...[]tasktype.Migration) (*sql.DB, error) {
	start := time.Now()
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	var dsn string
	if path == ":memory:" {
		// One shared-cache database per Open, so every pooled connection sees it.
		dsn = fmt.Sprintf("file:taskmodel-mem-%d?mode=memory&cache=shared&%s", memoryDBs.Add(1), q.Encode())
	} else {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		q.Add("_pragma", "journal_mode(WAL)")
		// Reads through a memory map and a 32 MiB page cache: without them each
		// page outside SQLite's 2 MiB default cache is a pread syscall (a
		// quarter of the listing's time over 1,000,000 tasks).
		q.Add("_pragma", "mmap_size(268435456)")
		q.Add("_pragma", "cache_size(-32768)")
		dsn = "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1) // shared-cache memory databases lock per table; one connection avoids SQLITE_LOCKED
	} else {
		// Keep the connections open: a new one parses the whole schema (every
		// model's tables and indexes), which under load cost more than the
		// queries (database/sql keeps only 2 idle by default). Readers run in
		// parallel under WAL; writers queue on the busy timeout either way.
		db.SetMaxOpenConns(MaxConns)
		db.SetMaxIdleConns(MaxConns)
	}
	// A connection's setup switches a new file to WAL, which takes an
	// exclusive lock SQLite's busy handler does not wait for: processes that
	// open one new file at once retry.
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err = db.PingContext(ctx)
		if err == nil {
			break
		}
		if !isBusy(err) || ctx.Err() != nil || wait >= 200*time.Millisecond && time.Since(start) > 10*time.Second {
			db.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		time.Sleep(wait)
	}
	if path != ":memory:" {
		// A file this process may not write opens, and every write fails
		// later (or lands in a WAL file that is writable and never
		// checkpoints): refuse it now.
		if err := checkWritable(path); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	var all []tasktype.Migration
	for _, m := range migrations {
		all = append(all, m...)
	}
	if err := Migrate(ctx, db, all); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS taskmodel_migrations (
    name TEXT PRIMARY KEY,
    checksum TEXT NOT NULL,
    applied_at DATETIME NOT NULL
)`

// Migrate applies the migrations not applied yet, each in its own
// immediate transaction (so two processes starting at once take turns), and
// fails if an applied migration's SQL has changed since, or if the database
// has applied a migration of one of the models that migrations does not
// know (a newer spec migrated it). A migration's data checks run first in
// its transaction, and one that finds rows breaking its rule refuses it
// (*tasktype.MigrationRefusedError), changing nothing itself. Migrations
// whose numbering is broken (tasktype.CheckNumbering) are refused before
// any is applied.
//
// A migration runs with foreign keys off, as SQLite's way to change a table
// (create the new one, copy, drop the old, rename) needs: dropping a task
// table must not delete its history rows. The foreign keys are checked
// before the migration commits.
func Migrate(ctx context.Context, db *sql.DB, migrations []tasktype.Migration) error {
	return MigrateReport(ctx, db, migrations, nil)
}

// MigrateReport is Migrate calling report, when not nil, after each
// migration it applied itself (not those applied before, by it or another
// process), with the time the migration took.
func MigrateReport(ctx context.Context, db *sql.DB, migrations []tasktype.Migration, report func(m tasktype.Migration, took time.Duration)) error {
	for _, table := range []string{migrationsTable, leasesTable} {
		if _, err := db.ExecContext(ctx, table); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	applied, err := Applied(ctx, db)
	if err != nil {
		return err
	}
	if err := tasktype.CheckApplied(migrations, applied); err != nil {
		return err
	}
	var now []string // applied by this run: a refusal after them says so
	for _, m := range migrations {
		if _, ok := applied[m.Name]; ok {
			continue // CheckApplied compared its checksum
		}
		start := time.Now()
		done, err := apply(ctx, db, m)
		if err != nil {
			return tasktype.RefusedAfter(err, now)
		}
		if done {
			now = append(now, m.Name)
		}
		if done && report != nil {
			report(m, time.Since(start))
		}
	}
	return nil
}

// Applied returns the migrations the database has applied, by name, with
// their checksums.
func Applied(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, checksum FROM taskmodel_migrations`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, sum string
		if err := rows.Scan(&name, &sum); err != nil {
			return nil, err
		}
		out[name] = sum
	}
	return out, rows.Err()
}

// AppliedMigrations returns the migrations the database has applied, in
// name order, with when each was applied. Unlike Migrate it writes
// nothing, so it also reads a database opened read-only: one never
// migrated (without the bookkeeping table) has applied none.
func AppliedMigrations(ctx context.Context, db *sql.DB) ([]tasktype.AppliedMigration, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'taskmodel_migrations'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT name, checksum, applied_at FROM taskmodel_migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	var out []tasktype.AppliedMigration
	for rows.Next() {
		var a tasktype.AppliedMigration
		var at any
		if err := rows.Scan(&a.Name, &a.Checksum, &at); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		a.AppliedAt = parseTime(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// parseTime reads a DATETIME column as the driver returns it: a time.Time
// for values it wrote, else text in one of SQLite's formats; zero when
// neither.
func parseTime(v any) time.Time {
	switch v := v.(type) {
	case time.Time:
		return v
	case string:
		t, _ := parseTimeText(v)
		return t
	}
	return time.Time{}
}

// parseTimeText reads a time as text: as the driver writes a time.Time
// (time.Time.String, its monotonic clock reading dropped), in SQLite's
// formats with a zone offset or RFC 3339, or without a zone (UTC).
func parseTimeText(v string) (time.Time, bool) {
	if i := strings.Index(v, " m="); i > 0 {
		v = v[:i]
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// apply applies m unless the database has applied it already, and says
// whether it did.
func apply(ctx context.Context, db *sql.DB, m tasktype.Migration) (done bool, err error) {
	parts, err := m.Parts()
	if err != nil {
		return false, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	// SQLite ignores foreign_keys inside a transaction: it is set before.
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return false, err
	}
	defer func() {
		if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON"); ferr != nil {
			// Never hand the pool a connection without foreign keys.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			if err == nil {
				err = ferr
			}
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	sum := m.Checksum()
	var applied string
	switch err := tx.QueryRowContext(ctx, `SELECT checksum FROM taskmodel_migrations WHERE name = ?`, m.Name).Scan(&applied); {
	case err == nil:
		if applied != sum {
			return false, &tasktype.ChangedMigrationError{Migration: m.Name, Applied: applied, Program: sum}
		}
		return false, nil
	case err != sql.ErrNoRows:
		return false, err
	}
	var broken []tasktype.BrokenCheck
	for _, c := range parts.Checks {
		var n int64
		var example sql.NullString
		if err := tx.QueryRowContext(ctx, c.Query).Scan(&n, &example); err != nil {
			return false, fmt.Errorf("sqlite: migration %s: check of %s: %w", m.Name, c.Subject, err)
		}
		if n > 0 {
			broken = append(broken, tasktype.BrokenCheck{Check: c, Count: n, Example: example.String})
		}
	}
	if err := tasktype.RefuseMigration(m.Name, broken); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, parts.Body); err != nil {
		return false, fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
	}
	if err := foreignKeyCheck(ctx, tx); err != nil {
		return false, fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO taskmodel_migrations (name, checksum, applied_at) VALUES (?, ?, ?)`, m.Name, sum, time.Now().UTC()); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	return true, nil
}

// foreignKeyCheck fails when a row refers to a row that does not exist.
func foreignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	n, table, parent := 0, "", ""
	for rows.Next() {
		var rowid sql.NullInt64
		var fkid int64
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("it would leave %d rows of %s (and maybe other tables) that refer to missing rows of %s", n, table, parent)
	}
	return nil
}
