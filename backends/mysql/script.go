package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	mysqldriver "github.com/go-sql-driver/mysql"
)

// script is one transaction sent as one query of many statements (one
// round trip): the statements set before it (without parameters), SET
// TRANSACTION ISOLATION LEVEL READ COMMITTED, START TRANSACTION, the
// statements added, COMMIT. The connections interpolate
// parameters on the client (Open sets interpolateParams and
// multiStatements).
//
// READ COMMITTED: under MySQL's default, REPEATABLE READ, a claim's SELECT
// … FOR UPDATE SKIP LOCKED also locks the gaps of the status index it
// reads, and concurrent claims and transitions deadlock on them. The
// driver's writes are guarded by status and version, and need no
// repeatable reads.
//
// The server runs the statements in order and stops at the first that
// fails: the transaction is then still open on the connection, and the
// script rolls it back before the connection goes back to the pool. A
// connection lost mid-script leaves nothing written (the server rolls back
// what was not committed).
type script struct {
	// setup runs on the script's connection when a statement finds a table
	// missing (query).
	setup func(ctx context.Context, conn *sql.Conn) error
	// pre are the statements before the transaction (before), each
	// followed by ";\n"; npre counts them.
	pre  string
	npre int
	text strings.Builder
	args []any
	n    int // statements added
}

// scriptHead and scriptTail surround a script's statements.
const (
	scriptHead = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\nSTART TRANSACTION"
	scriptTail = ";\nCOMMIT"
)

// add appends a statement and its parameters.
func (s *script) add(query string, args []any) {
	if s.n == 0 {
		s.text.WriteString(scriptHead)
	}
	s.text.WriteString(";\n")
	s.text.WriteString(query)
	s.args = append(s.args, args...)
	s.n++
}

// before sets a statement without parameters to run before the
// transaction, after those set before.
func (s *script) before(query string) {
	s.pre += query + ";\n"
	s.npre++
}

// String is the script's text.
func (s *script) String() string { return s.pre + s.text.String() + scriptTail }

// exec runs the script and returns the rows each statement added matched.
func (s *script) exec(ctx context.Context, db *sql.DB) ([]int64, error) {
	args := make([]driver.NamedValue, len(s.args))
	for i, v := range s.args {
		v, err := driver.DefaultParameterConverter.ConvertValue(v)
		if err != nil {
			return nil, err
		}
		args[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var counts []int64
	err = conn.Raw(func(dc any) error {
		ex := dc.(driver.ExecerContext)
		res, err := ex.ExecContext(ctx, s.String(), args)
		if err != nil {
			_, _ = ex.ExecContext(context.Background(), "ROLLBACK", nil)
			return err
		}
		counts = res.(mysqldriver.Result).AllRowsAffected()
		return nil
	})
	if err != nil {
		return nil, err
	}
	// SET and START TRANSACTION come before the statements, COMMIT after.
	if want := s.npre + s.n + 3; len(counts) != want {
		return nil, fmt.Errorf("mysql: a script of %d statements reported %d results", want, len(counts))
	}
	return counts[s.npre+2 : s.npre+2+s.n], nil
}

// query runs the script and calls each for every row its statements
// return. An error of each stops the reading, but not the script: the
// server has run it, COMMIT included. When a statement finds a table
// missing (the connection's temporary table of a batch, on a new
// connection), or is refused, before any row was read, query runs the
// script's setup on the same connection and the script again, once; an
// error of the setup is a *setupError.
func (s *script) query(ctx context.Context, db *sql.DB, each func(*sql.Rows) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	read, err := s.queryOn(ctx, conn, each)
	// A TRUNCATE of a temporary table that does not exist names the table
	// of the same name in the database: without the DROP privilege on it,
	// the server says access denied.
	if err == nil || read || s.setup == nil || !isMissingTable(err) && !isAccessDenied(err) {
		return err
	}
	if serr := s.setup(ctx, conn); serr != nil {
		return &setupError{err: serr, after: err}
	}
	_, err = s.queryOn(ctx, conn, each)
	return err
}

// queryOn runs the script on conn, rolled back when it fails, and reports
// whether it read a row.
func (s *script) queryOn(ctx context.Context, conn *sql.Conn, each func(*sql.Rows) error) (read bool, err error) {
	rows, err := conn.QueryContext(ctx, s.String(), s.args...)
	if err != nil {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		return false, err
	}
	for more := true; more; more = rows.NextResultSet() {
		for rows.Next() {
			read = true
			if err := each(rows); err != nil {
				rows.Close()
				return read, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		return read, err
	}
	return read, rows.Close()
}

// setupError is the error of a script's setup, run after the script
// failed with after.
type setupError struct{ err, after error }

func (e *setupError) Error() string {
	return fmt.Sprintf("%v (setting up the connection after: %v)", e.err, e.after)
}
func (e *setupError) Unwrap() error { return e.err }

// isMissingTable reports whether err is the server's "table doesn't
// exist" (ER_NO_SUCH_TABLE).
func isMissingTable(err error) bool {
	var me *mysqldriver.MySQLError
	return errors.As(err, &me) && me.Number == 1146
}

// isAccessDenied reports whether err is the server's refusal of a
// statement the user has no privilege for: on a database (1044), a table
// (1142) or the server (1227).
func isAccessDenied(err error) bool {
	var me *mysqldriver.MySQLError
	return errors.As(err, &me) && (me.Number == 1044 || me.Number == 1142 || me.Number == 1227)
}
