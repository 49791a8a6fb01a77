package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// Stmts runs queries on a database through prepared statements, one per
// query text, kept for the life of the database: SQLite parses and plans a
// statement on every unprepared execution, which is a large part of a
// point read's time. database/sql prepares each statement once per
// connection and reuses it. Stmts has the methods of sqlc's DBTX, so the
// generated drivers read and write through it.
type Stmts struct {
	db    *sql.DB
	stmts sync.Map // query text → *sql.Stmt
}

// NewStmts returns a Stmts over db.
func NewStmts(db *sql.DB) *Stmts { return &Stmts{db: db} }

func (s *Stmts) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// ExecContext executes query through its prepared statement.
func (s *Stmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// PrepareContext prepares query on the database (the caller owns the
// statement).
func (s *Stmts) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return s.db.PrepareContext(ctx, query)
}

// QueryContext runs query through its prepared statement.
func (s *Stmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs query through its prepared statement. A failed
// prepare shows as the row's error, as database/sql does.
func (s *Stmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return s.db.QueryRowContext(ctx, query, args...) // reports the same error through the row
	}
	return st.QueryRowContext(ctx, args...)
}
