// Package pgstore keeps the pipeline tracker's data in PostgreSQL: the
// generated run and subtask drivers for status changes, and this package's
// own statements (embedded sql/*.sql) and migrations (sql/migrations) for
// registrations, queries and the atomic increment.
package pgstore

import (
	"context"
	"embed"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	runpg "github.com/taskmodel/taskmodel/gen/pipelinerun/pgdb"
	subpg "github.com/taskmodel/taskmodel/gen/pipelinesubtask/pgdb"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/tasktype"
)

//go:embed sql
var files embed.FS

var stmts = storage.MustLoadSQL(files, "sql")

// Migrations returns every migration the store needs, in order: the
// generated run and subtask models', then this package's.
func Migrations() []tasktype.Migration {
	return stmts.Migrations(postgres.Engine)
}

// RegistryMigrations returns this package's own migrations only (the
// registry of stages and tasks), for a database that applies the run and
// subtask models' migrations with the other models' (taskmodel serve's);
// New then works over it.
func RegistryMigrations() []tasktype.Migration {
	return stmts.Registry()
}

// Store implements storage.Storage over a PostgreSQL pool.
type Store struct {
	pool *pgxpool.Pool
	runs *runpg.Driver
	subs *subpg.Driver
	own  bool
}

var _ storage.Storage = (*Store)(nil)

// Open connects to the database of cfg and applies Migrations.
func Open(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	pool, err := postgres.OpenConfig(ctx, cfg, Migrations())
	if err != nil {
		return nil, err
	}
	s := New(pool)
	s.own = true
	return s, nil
}

// New returns a Store over a pool already opened by backends/postgres with
// Migrations applied. Close does not close pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, runs: runpg.NewDriver(pool), subs: subpg.NewDriver(pool)}
}

// Close closes the pool if Open opened it.
func (s *Store) Close() error {
	if s.own {
		s.pool.Close()
	}
	return nil
}

// Runs implements storage.Storage.
func (s *Store) Runs() backends.Driver[storage.Run] { return s.runs }

// Subtasks implements storage.Storage.
func (s *Store) Subtasks() backends.Driver[storage.Subtask] { return s.subs }

// Register implements storage.Storage.
func (s *Store) Register(ctx context.Context, stages []storage.Stage, tasks []storage.Task) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, st := range stages {
			if _, err := tx.Exec(ctx, stmts.Statement("register_stage"), st.Name, st.Order, st.Description); err != nil {
				return err
			}
		}
		for _, t := range tasks {
			if _, err := tx.Exec(ctx, stmts.Statement("ensure_stage"), t.Stage); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, stmts.Statement("register_task"), t.Stage, t.Name, t.Order, t.Type,
				t.ScriptPath, t.ScriptFilename, t.LogPath, t.LogFilename); err != nil {
				return err
			}
		}
		return nil
	})
}

// Stages implements storage.Storage.
func (s *Store) Stages(ctx context.Context) ([]storage.Stage, error) {
	return storage.Values(scanAll[storage.Stage](s.pool.Query(ctx, stmts.Statement("stages"))))
}

// Tasks implements storage.Storage.
func (s *Store) Tasks(ctx context.Context, stage string) ([]storage.Task, error) {
	return storage.Values(scanAll[storage.Task](s.pool.Query(ctx, stmts.Statement("tasks"), stage)))
}

// Task implements storage.Storage.
func (s *Store) Task(ctx context.Context, stage, name string) (*storage.Task, error) {
	return storage.One(scanAll[storage.Task](s.pool.Query(ctx, stmts.Statement("task"), stage, name)))
}

// LatestRuns implements storage.Storage.
func (s *Store) LatestRuns(ctx context.Context) ([]*storage.Run, error) {
	return scanAll[storage.Run](s.pool.Query(ctx, stmts.Statement("latest_runs")))
}

// ActiveRuns implements storage.Storage.
func (s *Store) ActiveRuns(ctx context.Context) ([]*storage.Run, error) {
	return scanAll[storage.Run](s.pool.Query(ctx, stmts.Statement("active_runs"), storage.Statuses(pipelinerun.ActiveStatuses())))
}

// History implements storage.Storage.
func (s *Store) History(ctx context.Context, f storage.HistoryFilter) ([]*storage.Run, error) {
	return scanAll[storage.Run](s.pool.Query(ctx, stmts.Statement("history"), f.Stage, f.Task, f.Limit))
}

// SubtasksOf implements storage.Storage.
func (s *Store) SubtasksOf(ctx context.Context, run uuid.UUID) ([]*storage.Subtask, error) {
	return scanAll[storage.Subtask](s.pool.Query(ctx, stmts.Statement("subtasks"), run))
}

// Subtask implements storage.Storage.
func (s *Store) Subtask(ctx context.Context, run uuid.UUID, n int64) (*storage.Subtask, error) {
	return storage.One(scanAll[storage.Subtask](s.pool.Query(ctx, stmts.Statement("subtask"), run, n)))
}

// Increment implements storage.Storage.
func (s *Store) Increment(ctx context.Context, run uuid.UUID, n, by int64, statuses []string, at time.Time) (*storage.Subtask, bool, error) {
	got, err := scanAll[storage.Subtask](s.pool.Query(ctx, stmts.Statement("increment"), run, n, by, at.UTC(), statuses))
	if err != nil || len(got) == 0 {
		return nil, false, err
	}
	return got[0], true, nil
}

// scanAll reads every row of a pgx result into new T values, by column name.
func scanAll[T any](rows pgx.Rows, err error) ([]*T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	cols := make([]string, len(fds))
	for i, fd := range fds {
		cols[i] = fd.Name
	}
	var out []*T
	for rows.Next() {
		x := new(T)
		dst, err := storage.Targets(x, cols)
		if err != nil {
			return nil, err
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		storage.InUTC(x)
		out = append(out, x)
	}
	return out, rows.Err()
}

// OpenURL connects to the database at a postgres:// URL and applies
// Migrations.
func OpenURL(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	return Open(ctx, cfg)
}
