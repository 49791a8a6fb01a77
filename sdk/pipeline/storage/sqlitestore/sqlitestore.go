// Package sqlitestore keeps the pipeline tracker's data in SQLite: the
// generated run and subtask drivers for status changes, and this package's
// own statements (embedded sql/*.sql) and migrations (sql/migrations) for
// registrations, queries and the atomic increment.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	runsqlite "github.com/taskmodel/taskmodel/gen/pipelinerun/sqlitedb"
	subsqlite "github.com/taskmodel/taskmodel/gen/pipelinesubtask/sqlitedb"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/tasktype"
)

//go:embed sql
var files embed.FS

var stmts = storage.MustLoadSQL(files, "sql")

// Migrations returns every migration the store needs, in order: the
// generated run and subtask models', then this package's.
func Migrations() []tasktype.Migration {
	return stmts.Migrations(sqlite.Engine)
}

// RegistryMigrations returns this package's own migrations only (the
// registry of stages and tasks), for a database that applies the run and
// subtask models' migrations with the other models' (taskmodel serve's);
// New then works over it.
func RegistryMigrations() []tasktype.Migration {
	return stmts.Registry()
}

// Store implements storage.Storage over a SQLite database.
type Store struct {
	storage.DB
	db   *sql.DB
	runs *runsqlite.Driver
	subs *subsqlite.Driver
	own  bool
}

var _ storage.Storage = (*Store)(nil)

// Open opens (creating if needed) the database file at path, or a private
// in-memory one for ":memory:", and applies Migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := sqlite.Open(ctx, path, Migrations())
	if err != nil {
		return nil, err
	}
	s := New(db)
	s.own = true
	return s, nil
}

// New returns a Store over a database already opened by backends/sqlite with
// Migrations applied. Close does not close db.
func New(db *sql.DB) *Store {
	return &Store{DB: storage.NewDB(db, stmts), db: db, runs: runsqlite.NewDriver(db), subs: subsqlite.NewDriver(db)}
}

// Close closes the database if Open opened it.
func (s *Store) Close() error {
	if s.own {
		return s.db.Close()
	}
	return nil
}

// Runs implements storage.Storage.
func (s *Store) Runs() backends.Driver[storage.Run] { return s.runs }

// Subtasks implements storage.Storage.
func (s *Store) Subtasks() backends.Driver[storage.Subtask] { return s.subs }

// Register implements storage.Storage.
func (s *Store) Register(ctx context.Context, stages []storage.Stage, tasks []storage.Task) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.RegisterTx(ctx, tx, stages, tasks); err != nil {
		return err
	}
	return tx.Commit()
}

// Tasks implements storage.Storage.
func (s *Store) Tasks(ctx context.Context, stage string) ([]storage.Task, error) {
	return storage.Values(storage.ScanAll[storage.Task](s.db.QueryContext(ctx, stmts.Statement("tasks"), stage)))
}

// ActiveRuns implements storage.Storage.
func (s *Store) ActiveRuns(ctx context.Context) ([]*storage.Run, error) {
	active, err := json.Marshal(storage.Statuses(pipelinerun.ActiveStatuses()))
	if err != nil {
		return nil, err
	}
	return storage.ScanAll[storage.Run](s.db.QueryContext(ctx, stmts.Statement("active_runs"), string(active)))
}

// History implements storage.Storage.
func (s *Store) History(ctx context.Context, f storage.HistoryFilter) ([]*storage.Run, error) {
	return storage.ScanAll[storage.Run](s.db.QueryContext(ctx, stmts.Statement("history"), f.Stage, f.Task, f.Limit))
}

// Increment implements storage.Storage.
func (s *Store) Increment(ctx context.Context, run uuid.UUID, n, by int64, statuses []string, at time.Time) (*storage.Subtask, bool, error) {
	st, err := json.Marshal(statuses)
	if err != nil {
		return nil, false, err
	}
	got, err := storage.ScanAll[storage.Subtask](s.db.QueryContext(ctx, stmts.Statement("increment"), run, n, by, at.UTC(), string(st)))
	if err != nil || len(got) == 0 {
		return nil, false, err
	}
	return got[0], true, nil
}
