package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DBTX is what sqlc's generated queries run on: a pool, a connection or a
// transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Replanned wraps db so that PostgreSQL plans each of its statements anew at
// every execution, with the table's size at that moment
// (pgx.QueryExecModeCacheDescribe: an unnamed statement whose description
// pgx caches, still one round trip and binary parameters). A prepared
// statement keeps the plan it made — at its first execution under
// OpenConfig's plan_cache_mode=force_generic_plan, after five otherwise —
// with the statistics of that moment, until an ANALYZE or a VACUUM of its
// tables: a claim planned while the task table was nearly empty read the
// whole table at every claim after (180 ms a claim at 50,000 tasks), until
// autovacuum's first ANALYZE, up to a minute later, and for ever on a server
// without autovacuum. Generated drivers run their claims and periodic
// statements (reservations, lease rescues, cancel checks, listings by
// status, retention, timeouts) through it: planning costs a fraction of
// such a statement. Not the group-committed transitions, the most frequent
// batch: replanning them cost the worker benchmark about 5 %.
//
// It needs pgx's statement description cache (description_cache_capacity,
// on by default), and its statements ignore a default_query_exec_mode the
// DSN sets. db must be pgx's (a pool, a connection, a transaction): it reads
// the leading pgx.QueryExecMode argument.
func Replanned(db DBTX) DBTX { return replanned{db} }

type replanned struct{ db DBTX }

func withMode(args []any) []any {
	return append([]any{pgx.QueryExecModeCacheDescribe}, args...)
}

func (r replanned) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return r.db.Exec(ctx, sql, withMode(args)...)
}

func (r replanned) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return r.db.Query(ctx, sql, withMode(args)...)
}

func (r replanned) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return r.db.QueryRow(ctx, sql, withMode(args)...)
}
