package storage

import (
	"context"
	"database/sql"

	"github.com/google/uuid"
)

// DB is the part of Storage that is the same on the database/sql engines
// (SQLite, MySQL): the statements whose parameters they take alike, run on
// the engine's database. An engine's Store embeds it.
type DB struct {
	db   *sql.DB
	stmt *SQL
}

// NewDB returns a DB running the statements of stmt on db.
func NewDB(db *sql.DB, stmt *SQL) DB { return DB{db: db, stmt: stmt} }

// RegisterTx runs a registration's statements in tx: register_stage for
// each stage, then ensure_stage and register_task for each task (see
// Storage.Register). The caller commits.
func (d DB) RegisterTx(ctx context.Context, tx *sql.Tx, stages []Stage, tasks []Task) error {
	for _, st := range stages {
		if _, err := tx.ExecContext(ctx, d.stmt.Statement("register_stage"), st.Name, st.Order, st.Description); err != nil {
			return err
		}
	}
	for _, t := range tasks {
		if _, err := tx.ExecContext(ctx, d.stmt.Statement("ensure_stage"), t.Stage); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.stmt.Statement("register_task"), t.Stage, t.Name, t.Order, t.Type,
			t.ScriptPath, t.ScriptFilename, t.LogPath, t.LogFilename); err != nil {
			return err
		}
	}
	return nil
}

// Stages implements Storage.
func (d DB) Stages(ctx context.Context) ([]Stage, error) {
	return Values(ScanAll[Stage](d.db.QueryContext(ctx, d.stmt.Statement("stages"))))
}

// Task implements Storage.
func (d DB) Task(ctx context.Context, stage, name string) (*Task, error) {
	return One(ScanAll[Task](d.db.QueryContext(ctx, d.stmt.Statement("task"), stage, name)))
}

// LatestRuns implements Storage.
func (d DB) LatestRuns(ctx context.Context) ([]*Run, error) {
	return ScanAll[Run](d.db.QueryContext(ctx, d.stmt.Statement("latest_runs")))
}

// SubtasksOf implements Storage.
func (d DB) SubtasksOf(ctx context.Context, run uuid.UUID) ([]*Subtask, error) {
	return ScanAll[Subtask](d.db.QueryContext(ctx, d.stmt.Statement("subtasks"), run))
}

// Subtask implements Storage.
func (d DB) Subtask(ctx context.Context, run uuid.UUID, n int64) (*Subtask, error) {
	return One(ScanAll[Subtask](d.db.QueryContext(ctx, d.stmt.Statement("subtask"), run, n)))
}
