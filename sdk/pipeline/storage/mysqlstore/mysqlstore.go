// Package mysqlstore keeps the pipeline tracker's data in MySQL or MariaDB
// (the versions backends/mysql accepts): the generated run and subtask
// drivers for status changes, and this package's own statements (embedded
// sql/*.sql) and migrations (sql/migrations) for registrations, queries and
// the atomic increment.
package mysqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	runmysql "github.com/taskmodel/taskmodel/gen/pipelinerun/mysqldb"
	submysql "github.com/taskmodel/taskmodel/gen/pipelinesubtask/mysqldb"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/tasktype"
)

//go:embed sql
var files embed.FS

var stmts = storage.MustLoadSQL(files, "sql")

// Migrations returns every migration the store needs, in order: the
// generated run and subtask models', then this package's.
func Migrations() []tasktype.Migration {
	return stmts.Migrations(mysql.Engine)
}

// RegistryMigrations returns this package's own migrations only (the
// registry of stages and tasks), for a database that applies the run and
// subtask models' migrations with the other models' (taskmodel serve's);
// New then works over it.
func RegistryMigrations() []tasktype.Migration {
	return stmts.Registry()
}

// Store implements storage.Storage over a MySQL or MariaDB database.
type Store struct {
	storage.DB
	db   *sql.DB
	runs *runmysql.Driver
	subs *submysql.Driver
	own  bool
}

var _ storage.Storage = (*Store)(nil)

// Open connects to the database of cfg (from mysql.ParseDSN) and applies
// Migrations.
func Open(ctx context.Context, cfg *driver.Config) (*Store, error) {
	db, err := mysql.OpenConfig(ctx, cfg, Migrations())
	if err != nil {
		return nil, err
	}
	s := New(db)
	s.own = true
	return s, nil
}

// OpenURL connects to the database at a mysql:// URL, or the driver's DSN
// (see mysql.Open), and applies Migrations.
func OpenURL(ctx context.Context, url string) (*Store, error) {
	cfg, err := mysql.ParseDSN(url)
	if err != nil {
		return nil, err
	}
	return Open(ctx, cfg)
}

// New returns a Store over a database already opened by backends/mysql with
// Migrations applied. Close does not close db.
func New(db *sql.DB) *Store {
	return &Store{DB: storage.NewDB(db, stmts), db: db, runs: runmysql.NewDriver(db), subs: submysql.NewDriver(db)}
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

// maxAttempts bounds how many times a registration runs when the server
// rolls it back for a deadlock or a lock wait timeout (registrations wait
// for each other on pipeline_registry_lock, which should leave neither).
const maxAttempts = 5

// Register implements storage.Storage.
func (s *Store) Register(ctx context.Context, stages []storage.Stage, tasks []storage.Task) error {
	for attempt := 1; ; attempt++ {
		err := s.register(ctx, stages, tasks)
		if !mysql.IsRetryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return mysql.Classify(err)
		}
	}
}

func (s *Store) register(ctx context.Context, stages []storage.Stage, tasks []storage.Task) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, stmts.Statement("lock_registry")).Scan(&one); err != nil {
		return err
	}
	if err := s.RegisterTx(ctx, tx, stages, tasks); err != nil {
		return err
	}
	return tx.Commit()
}

// Tasks implements storage.Storage.
func (s *Store) Tasks(ctx context.Context, stage string) ([]storage.Task, error) {
	return storage.Values(storage.ScanAll[storage.Task](s.db.QueryContext(ctx, stmts.Statement("tasks"), stage, stage)))
}

// ActiveRuns implements storage.Storage.
func (s *Store) ActiveRuns(ctx context.Context) ([]*storage.Run, error) {
	q, args := in(stmts.Statement("active_runs"), storage.Statuses(pipelinerun.ActiveStatuses()))
	return storage.ScanAll[storage.Run](s.db.QueryContext(ctx, q, args...))
}

// History implements storage.Storage.
func (s *Store) History(ctx context.Context, f storage.HistoryFilter) ([]*storage.Run, error) {
	return storage.ScanAll[storage.Run](s.db.QueryContext(ctx, stmts.Statement("history"), f.Stage, f.Stage, f.Task, f.Task, f.Limit))
}

// Increment implements storage.Storage. MySQL has no UPDATE … RETURNING:
// the update runs on its own, holding the row's lock for that one statement
// only (so that other writers of the subtask, waiting for it, are not held
// up), and the subtask is read right after it. That read holds this
// increment and may hold later writes too.
func (s *Store) Increment(ctx context.Context, run uuid.UUID, n, by int64, statuses []string, at time.Time) (*storage.Subtask, bool, error) {
	q, sts := in(stmts.Statement("increment"), statuses)
	args := append([]any{by, by, at.UTC(), run, n}, sts...)
	res, err := s.db.ExecContext(ctx, q, append(args, by, by)...)
	if err != nil {
		return nil, false, mysql.Classify(err)
	}
	// The connections count the rows an update matched (mysql.Open).
	if k, err := res.RowsAffected(); err != nil || k == 0 {
		return nil, false, err
	}
	got, err := s.Subtask(ctx, run, n)
	if errors.Is(err, tasktype.ErrNotFound) {
		return nil, false, nil // deleted since
	}
	return got, err == nil, err
}

// in expands the "IN (?)" of query to one parameter per value, returned as
// arguments; with no values, it matches nothing (no status is empty).
func in(query string, values []string) (string, []any) {
	if len(values) == 0 {
		values = []string{""}
	}
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	marks := "IN (?" + strings.Repeat(", ?", len(values)-1) + ")"
	return strings.Replace(query, "IN (?)", marks, 1), args
}
