package mysql

import (
	"database/sql"
	"errors"
	"fmt"
	"regexp"

	driver "github.com/go-sql-driver/mysql"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/sqltable"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Server error numbers the functions below read (MySQL's and MariaDB's are
// the same, except for the CHECK violation).
const (
	errDupKey          = 1022 // ER_DUP_KEY
	errBadNull         = 1048 // ER_BAD_NULL_ERROR: Column 'x' cannot be null
	errNoDefault       = 1364 // ER_NO_DEFAULT_FOR_FIELD: Field 'x' doesn't have a default value
	errDupEntry        = 1062 // ER_DUP_ENTRY: Duplicate entry 'v' for key 'k'
	errLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT
	errDeadlock        = 1213 // ER_LOCK_DEADLOCK
	errOutOfRange      = 1264 // ER_WARN_DATA_OUT_OF_RANGE
	errTruncatedValue  = 1366 // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: Incorrect … value
	errDataTooLong     = 1406 // ER_DATA_TOO_LONG
	errDupEntryKeyName = 1586 // ER_DUP_ENTRY_WITH_KEY_NAME
	errInvalidJSON     = 3140 // ER_INVALID_JSON_TEXT (MySQL; MariaDB checks JSON with a CHECK)
	errCheckMySQL      = 3819 // ER_CHECK_CONSTRAINT_VIOLATED
	errCheckMariaDB    = 4025 // ER_CONSTRAINT_FAILED
	errRowIsReferenced = 1451 // ER_ROW_IS_REFERENCED_2
	errNoReferencedRow = 1452 // ER_NO_REFERENCED_ROW_2
)

// Number returns the server's error number of err, or 0 when err is no
// server error.
func Number(err error) uint16 {
	var me *driver.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// IsDuplicate reports whether err is the server refusing a duplicate key
// (a PRIMARY KEY or UNIQUE index).
func IsDuplicate(err error) bool {
	switch Number(err) {
	case errDupEntry, errDupEntryKeyName, errDupKey:
		return true
	}
	return false
}

// IsRetryable reports whether err is a deadlock or a lock wait that timed
// out: the transaction (or, for a lock wait, the statement) was rolled
// back, and running the transaction again may succeed.
func IsRetryable(err error) bool {
	switch Number(err) {
	case errDeadlock, errLockWaitTimeout:
		return true
	}
	return false
}

// IsForeignKey reports whether err is a foreign key refusing a write: a
// row referring to one that does not exist, or the removal of a row
// others refer to.
func IsForeignKey(err error) bool {
	switch Number(err) {
	case errRowIsReferenced, errNoReferencedRow:
		return true
	}
	return false
}

var (
	checkMariaDB = regexp.MustCompile("^CONSTRAINT `([^`]+)` failed")
	checkMySQL   = regexp.MustCompile(`^Check constraint '([^']+)' is violated`)
	// MariaDB names the table after the constraint: "failed for `db`.`job`".
	checkTableMariaDB = regexp.MustCompile("failed for `[^`]*`\\.`([^`]+)`")
	// The column an error names: 'x' (MySQL, older MariaDB) or `db`.`t`.`x`.
	columnRE = regexp.MustCompile("(?:column|Column) (?:'([^']+)'|(?:`[^`]*`\\.)*`([^`]+)`)")
	// The column ER_NO_DEFAULT_FOR_FIELD names.
	fieldRE = regexp.MustCompile(`^Field '([^']+)'`)
)

// CheckConstraint returns the name of the CHECK constraint err says a
// write broke (MariaDB's error 4025, MySQL's 3819).
func CheckConstraint(err error) (string, bool) {
	var me *driver.MySQLError
	if !errors.As(err, &me) {
		return "", false
	}
	var re *regexp.Regexp
	switch me.Number {
	case errCheckMariaDB:
		re = checkMariaDB
	case errCheckMySQL:
		re = checkMySQL
	default:
		return "", false
	}
	if m := re.FindStringSubmatch(me.Message); m != nil {
		return m[1], true
	}
	return "", true
}

// column returns the column a server error message names, or "".
func column(msg string) string {
	m := columnRE.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	return m[1] + m[2]
}

// Classify maps a server error to the errors a storage backend returns:
// sql.ErrNoRows is tasktype.ErrNotFound; a duplicate key wraps
// tasktype.ErrDuplicate; a broken CHECK constraint, a NULL in a NOT NULL
// column (or an insert leaving out a required column without a default), a
// value too long, out of range or of the wrong form for its column is a
// *tasktype.ValidationError naming the constraint or column.
// Other errors are returned as they are.
func Classify(err error) error {
	var me *driver.MySQLError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return tasktype.ErrNotFound
	case !errors.As(err, &me):
		return sqltable.Closed(err)
	}
	field := func(col, rule, msg string) error {
		return &tasktype.ValidationError{Fields: []*tasktype.FieldError{{Field: col, Rule: rule, Message: msg}}}
	}
	switch me.Number {
	case errDupEntry, errDupEntryKeyName, errDupKey:
		return fmt.Errorf("%w: %s", tasktype.ErrDuplicate, me.Message)
	case errCheckMariaDB, errCheckMySQL:
		name, _ := CheckConstraint(err)
		table := ""
		if m := checkTableMariaDB.FindStringSubmatch(me.Message); m != nil {
			table = m[1]
		}
		return backends.CheckViolation(table, name, "")
	case errBadNull:
		return field(column(me.Message), "required", "must not be null")
	case errNoDefault:
		// An insert that leaves out a required column without a default:
		// a program built from a spec without the column, still running
		// after a newer spec's migration added it.
		col := ""
		if m := fieldRE.FindStringSubmatch(me.Message); m != nil {
			col = m[1]
		}
		return field(col, "required", "must not be null")
	case errDataTooLong:
		return field(column(me.Message), "max_len", "is longer than the column allows")
	case errOutOfRange:
		return field(column(me.Message), "range", "is out of the column's range")
	case errTruncatedValue:
		return field(column(me.Message), "type", "is not a value of the column's type")
	case errInvalidJSON:
		return field(column(me.Message), "json", "is not valid JSON")
	}
	return err
}
