package sqlite

import (
	"errors"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/tasktype"
)

// IsUniqueViolation reports whether err is SQLite refusing a duplicate key.
func IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}

// isBusy reports whether err is SQLite's "database is locked": a lock its
// busy handler did not wait for (switching a new file to WAL, for one).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// constraintError returns the *tasktype.ValidationError of SQLite refusing
// a write for a broken CHECK constraint (naming its expression: the
// generated tables' CHECKs have no names) or a NULL in a NOT NULL column,
// and nil for any other error. The generated code validates a task before
// writing it, so the database refuses a write only when its schema is newer
// than the program: a program built from an older spec, still running
// while a newer one's migration narrowed a limit or added a required
// column (a rolling deploy; see docs/spec-language.md).
func constraintError(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	field := func(col, rule, msg string) error {
		return &tasktype.ValidationError{Fields: []*tasktype.FieldError{{Field: col, Rule: rule, Message: msg}}}
	}
	// The message ends "CHECK constraint failed: <expression or name>" or
	// "NOT NULL constraint failed: <table>.<column>", before the code in
	// parentheses modernc.org/sqlite appends.
	after := func(marker string) string {
		msg := se.Error()
		i := strings.LastIndex(msg, marker)
		if i < 0 {
			return ""
		}
		msg = msg[i+len(marker):]
		if j := strings.LastIndex(msg, " ("); j >= 0 {
			msg = msg[:j]
		}
		return msg
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		return backends.CheckViolation("", "", after("CHECK constraint failed: "))
	case sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		col := after("NOT NULL constraint failed: ")
		if i := strings.LastIndexByte(col, '.'); i >= 0 {
			col = col[i+1:]
		}
		return field(col, "required", "must not be null")
	}
	return nil
}
