package postgres

import (
	"context"
	"strconv"
	"time"

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

// Replanned wraps db so that PostgreSQL plans each of its statements anew
// at most once per ReplanEvery per connection, with the table's size at that
// moment. A prepared statement keeps the plan it made — at its first
// execution under OpenConfig's plan_cache_mode=force_generic_plan, after
// five otherwise — with the statistics of that moment, until an ANALYZE or a
// VACUUM of its tables: a claim planned while the task table was nearly
// empty read the whole table at every claim after (180 ms a claim at 50,000
// tasks), until autovacuum's first ANALYZE, up to a minute later, and for
// ever on a server without autovacuum. Generated drivers run their claims
// and periodic statements (reservations, lease rescues, cancel checks,
// listings by status, retention, timeouts) through it. Not the
// group-committed transitions, whose plans do not depend on the table's
// size.
//
// Each statement's text gets a comment naming the current period
// (pgx.QueryExecModeCacheStatement: pgx prepares each text once per
// connection and evicts the old ones from its statement cache), so a plan
// lives at most ReplanEvery. Planning at every execution instead
// (pgx.QueryExecModeCacheDescribe) parsed and planned every claim: 0.3 ms
// of the server's time for each, about an eighth of its time per task in
// the PostgreSQL burn-down at concurrency 100.
//
// Its statements ignore a default_query_exec_mode the DSN sets. db must be
// pgx's (a pool, a connection, a transaction): it reads the leading
// pgx.QueryExecMode argument.
func Replanned(db DBTX) DBTX { return replanned{db} }

// ReplanEvery is how long a connection keeps a plan of a Replanned
// statement.
const ReplanEvery = time.Second

// planPeriod numbers the current ReplanEvery period (a variable: tests move
// it on).
var planPeriod = func() int64 { return time.Now().UnixNano() / int64(ReplanEvery) }

type replanned struct{ db DBTX }

// text is sql with the current period's comment.
func (replanned) text(sql string) string {
	return sql + "\n-- plan " + strconv.FormatInt(planPeriod(), 10)
}

func withMode(args []any) []any {
	return append([]any{pgx.QueryExecModeCacheStatement}, args...)
}

func (r replanned) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return r.db.Exec(ctx, r.text(sql), withMode(args)...)
}

func (r replanned) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return r.db.Query(ctx, r.text(sql), withMode(args)...)
}

func (r replanned) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return r.db.QueryRow(ctx, r.text(sql), withMode(args)...)
}
