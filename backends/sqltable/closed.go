package sqltable

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/taskmodel/taskmodel/tasktype"
)

// Closed returns err wrapped with tasktype.ErrClosed when it is
// database/sql's refusal of a call on a closed *sql.DB (or of a statement
// prepared on one), else err.
func Closed(err error) error {
	if err != nil && errors.Is(err, errDBClosed) {
		return fmt.Errorf("%w: %w", tasktype.ErrClosed, err)
	}
	return err
}

// errDBClosed is the error database/sql returns for a call on a closed
// *sql.DB. The package does not export it, so it is taken once from a
// closed DB of a driver that never connects.
var errDBClosed = func() error {
	db := sql.OpenDB(neverConnector{})
	db.Close()
	_, err := db.Conn(context.Background())
	if err == nil {
		panic("sqltable: a closed *sql.DB gave a connection")
	}
	return err
}()

type neverConnector struct{}

func (neverConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("sqltable: neverConnector does not connect")
}
func (neverConnector) Driver() driver.Driver { return neverDriver{} }

type neverDriver struct{}

func (neverDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("sqltable: neverDriver does not connect")
}
