// Package sqlite opens the embedded default backend: a SQLite database
// through modernc.org/sqlite (pure Go, no cgo), with WAL, a busy timeout and
// foreign keys on, and applies the models' migrations.
//
// Each generated model has a Driver over the returned *sql.DB in
// gen/<model>/sqlitedb:
//
//	db, err := sqlite.Open(ctx, "tasks.db", analysis.Migrations(sqlite.Engine))
//	store := backends.NewStore[analysis.Task, analysis.Event](sqlitedb.NewDriver(db))
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/taskmodel/taskmodel/tasktype"
)

// Engine is the engine name generated Migrations functions take.
const Engine = "sqlite"

var memoryDBs atomic.Int64

// MaxConns is how many connections Open keeps to a database file.
const MaxConns = 16

// Open opens (creating if needed, with its directory) the SQLite database at
// path — ":memory:" for a private in-memory one — and applies migrations. Writes use
// BEGIN IMMEDIATE, so concurrent writers queue on the busy timeout instead of
// failing on a lock upgrade.
func Open(ctx context.Context, path string, migrations ...[]tasktype.Migration) (*sql.DB, error) {
	start := time.Now()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
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
// fails if an applied migration's SQL has changed since.
func Migrate(ctx context.Context, db *sql.DB, migrations []tasktype.Migration) error {
	for _, table := range []string{migrationsTable, leasesTable} {
		if _, err := db.ExecContext(ctx, table); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	for _, m := range migrations {
		if err := apply(ctx, db, m); err != nil {
			return err
		}
	}
	return nil
}

func apply(ctx context.Context, db *sql.DB, m tasktype.Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	sum := m.Checksum()
	var applied string
	switch err := tx.QueryRowContext(ctx, `SELECT checksum FROM taskmodel_migrations WHERE name = ?`, m.Name).Scan(&applied); {
	case err == nil:
		if applied != sum {
			return fmt.Errorf("sqlite: migration %s was applied with different SQL (checksum %.12s, now %.12s); applied migrations are never rewritten: add a new one", m.Name, applied, sum)
		}
		return nil
	case err != sql.ErrNoRows:
		return err
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO taskmodel_migrations (name, checksum, applied_at) VALUES (?, ?, ?)`, m.Name, sum, time.Now().UTC()); err != nil {
		return err
	}
	return tx.Commit()
}
