package backends

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrUndeclaredValue matches, with errors.Is, an *UndeclaredValueError: a
// row read from the database holds a status, error code or enumeration
// value this program's spec does not declare.
var ErrUndeclaredValue = errors.New("the database holds a value this program's spec does not declare")

// UndeclaredValueError reports a task row whose status, error code or
// enumeration column holds a value this program's spec does not declare.
// It happens while programs built from different specs share a database
// (a rolling deploy): a newer spec's program added the value, its
// migration applied, and an older program read the row.
//
// Every engine's generated driver returns it, for the whole read (a
// listing included). A read that passed such a row on, or skipped it,
// would be worse: the program would hold a task its lifecycle cannot move
// (no event fires from an undeclared status), and a listing would silently
// leave tasks out. The error names the column, the value and what this
// program allows, never a Go type.
type UndeclaredValueError struct {
	// Table and Column name the column read.
	Table, Column string
	// Value is the value it holds.
	Value string
	// Allowed lists the values this program's spec declares, in spec order.
	Allowed []string
}

func (e *UndeclaredValueError) Error() string {
	return fmt.Sprintf("column %s of table %s holds %q, which this program's spec does not declare (it allows %s); "+
		"the database likely holds a value a newer spec declares: run a build of the newer spec",
		e.Column, e.Table, e.Value, strings.Join(e.Allowed, ", "))
}

// Is reports whether target is ErrUndeclaredValue.
func (e *UndeclaredValueError) Is(target error) bool {
	return target == ErrUndeclaredValue
}

// Declared is an enumeration a generated driver reads from a column: a
// status, an error code or a spec's enumeration.
type Declared interface {
	~string
	Valid() bool
}

// CheckDeclared returns nil when v, read from column of table, is a declared
// value, and otherwise an *UndeclaredValueError listing values(), the
// declared ones. It does not allocate when v is declared. Generated
// drivers call it on every enumerated column of a row they read.
func CheckDeclared[T Declared](table, column string, v T, values func() []T) error {
	if v.Valid() {
		return nil
	}
	vs := values()
	allowed := make([]string, len(vs))
	for i, x := range vs {
		allowed[i] = string(x)
	}
	return &UndeclaredValueError{Table: table, Column: column, Value: string(v), Allowed: allowed}
}

// CheckDeclaredOpt is CheckDeclared for an optional column: nil (NULL) is
// declared.
func CheckDeclaredOpt[T Declared](table, column string, v *T, values func() []T) error {
	if v == nil {
		return nil
	}
	return CheckDeclared(table, column, *v, values)
}

// Models returns the models q reads (those with statuses to keep), sorted.
func (q ListQuery) Models() []string {
	var out []string
	for m, s := range q.Statuses {
		if len(s) > 0 {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// UndeclaredRows are the rows of a Lister's search for a task whose status
// its model's spec does not declare: a task type and a status each.
type UndeclaredRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// UndeclaredStatus returns an *UndeclaredValueError for the first of rows,
// naming the status column of the row's model and allowed[model], its
// declared statuses; nil when there is no row. A Lister runs such a search
// before the listing, whose branches read declared statuses only: a task
// in another one would otherwise be left out without a word.
func UndeclaredStatus(rows UndeclaredRows, allowed map[string][]string) error {
	for rows.Next() {
		var model, status string
		if err := rows.Scan(&model, &status); err != nil {
			return err
		}
		return &UndeclaredValueError{Table: model, Column: "status", Value: status, Allowed: allowed[model]}
	}
	return rows.Err()
}

// UndeclaredInterval is how long a Lister trusts a search over every model
// (no owner, no tag) that found no task in an undeclared status: until it
// passes, listings run no search (see UndeclaredSearches).
const UndeclaredInterval = time.Second

// UndeclaredSearches spares a Lister its search for tasks in undeclared
// statuses on every listing. Such tasks exist only while a program built
// from a newer spec writes statuses this one does not know (a rolling
// deploy), and the search costs a listing about half of its own time. So
// a search over every model finds whether there is any such task at all;
// when there is none, listings run no search for UndeclaredInterval; when
// there is one, each listing runs its own search (its models, owner and
// tag) and fails only if it may hold the task. A task a newer program
// writes in a status this one does not know is thus left out of listings
// for at most UndeclaredInterval before they fail. The zero value is ready
// to use; a Lister keeps one.
type UndeclaredSearches struct {
	mu        sync.Mutex
	noneUntil time.Time
	now       func() time.Time // time.Now; tests set it
}

// Check returns the error of search for q, or nil without searching while
// a search for all (every model the Lister reads, with their statuses; no
// owner, no tag) found no task within the last UndeclaredInterval.
func (u *UndeclaredSearches) Check(ctx context.Context, q, all ListQuery, search func(context.Context, ListQuery) error) error {
	now := time.Now
	if u.now != nil {
		now = u.now
	}
	t := now()
	u.mu.Lock()
	skip := t.Before(u.noneUntil)
	u.mu.Unlock()
	if skip {
		return nil
	}
	err := search(ctx, all)
	var undeclared *UndeclaredValueError
	switch {
	case err == nil:
		u.mu.Lock()
		if t.Add(UndeclaredInterval).After(u.noneUntil) {
			u.noneUntil = t.Add(UndeclaredInterval)
		}
		u.mu.Unlock()
		return nil
	case !errors.As(err, &undeclared):
		return err
	}
	return search(ctx, q)
}
