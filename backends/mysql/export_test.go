package mysql

import (
	"context"
	"database/sql"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/sqltable"
)

// SetAfterStatement makes migrations call f after each statement they
// apply, until the test ends.
func SetAfterStatement(t interface{ Cleanup(func()) }, f func(migration string, statements int)) {
	old := afterStatement
	afterStatement = f
	t.Cleanup(func() { afterStatement = old })
}

// SetHealTries sets how many times a failed statement runs again in the
// same start after the data statements before it, until the test ends.
func SetHealTries(t interface{ Cleanup(func()) }, n int) {
	old := healTries
	healTries = n
	t.Cleanup(func() { healTries = old })
}

// DataStatement reports whether a failed statement's start runs the
// statement again when it comes right before the failed one.
func DataStatement(stmt string) bool { return dataStatement(stmt) }

// FlushTransitions writes calls as one batch of the driver's group
// commit would.
func FlushTransitions[T any](d *Driver[T], calls []sqltable.Call[T]) []error {
	return d.flushTransitions(context.Background(), calls)
}

// MinTableBatch is the smallest batch of transitions written through the
// batch's table.
const MinTableBatch = minTableBatch

// OldestFirst sorts claims as the driver sorts what Locked reads back.
func OldestFirst[T any](d *Driver[T], cs []backends.Claim[T]) { d.oldestFirst(cs) }

// Excerpt is the excerpt of a statement messages show.
func Excerpt(stmt string) string { return excerpt(stmt) }

// SessionStatement reports whether Migrate resumes before a statement
// rather than after it.
func SessionStatement(stmt string) bool { return sessionStatement(stmt) }

// TableOf returns the model description d was made with.
func TableOf[T any](d *Driver[T]) *sqltable.Table[T] { return d.t.Table }

// UsesBatchTable reports whether d still writes large batches through the
// batch's table.
func UsesBatchTable[T any](d *Driver[T]) bool { return !d.noBatchTable.Load() }

// ServerLogsBatchTable is serverLogsBatchTable.
func ServerLogsBatchTable(db *sql.DB) (bool, error) {
	return serverLogsBatchTable(context.Background(), db)
}

// BatchTableLogged is batchTableLogged.
func BatchTableLogged(logBin bool, format string, mariaDB bool) bool {
	return batchTableLogged(logBin, format, mariaDB)
}
