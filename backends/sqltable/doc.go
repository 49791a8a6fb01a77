// Package sqltable describes a model's SQL table to the generic drivers of
// the SQL engines (backends/postgres, backends/sqlite): its columns, how a
// task sets their values and how a row becomes a task, and its statements,
// as sqlc compiled them. taskgen generates one Table per model and engine;
// the driver does everything else — group commit, guarded transitions with
// their history rows, claims, leases — once for every model.
//
// A statement's parameters are named: a column's name, the marks of a
// nullable column's NULLs in batch statements (tm_null_<column>), or one
// of the framework's values (tm_from_status, tm_now, tm_max_rows, ...).
// Compile pairs each use of a name with the placeholder sqlc put in its
// place, so the driver passes every parameter at its number.
package sqltable
