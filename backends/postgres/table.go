package postgres

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/taskmodel/taskmodel/backends"
)

// Table describes one model's PostgreSQL table to Driver: the columns its
// fields fill, how a row becomes a task, and the statements, as sqlc
// compiled them. taskgen generates it in each model's pgdb package; the
// statements' SQL is sqlc's, so a statement the schema cannot run fails
// `make gen`, not a user.
type Table[T any] struct {
	// Model is the model's name: the wake trigger's channel is named after it.
	Model string
	// Columns are the columns the model's fields fill, in the table's
	// order: "name kind" or "name kind null", comma-separated; the kinds
	// are text, int, float, bool, time, uuid and json. A column that takes
	// NULL but JSON gets a tm_null_<name> array in batch statements.
	Columns string
	// Values sets v[i] to the value of the i-th column of x as a
	// statement's parameter: the Go type its kind names (string, int64,
	// float64, bool, time.Time in UTC, uuid.UUID, []byte), or nil for NULL.
	// Only a JSON column's encoding can fail.
	Values func(x *T, v []any) error
	// Scan reads a task row as the statements that return tasks select it
	// (every column of the table, in its order): the task and its lease.
	Scan func(row pgx.Row) (*T, backends.Lease, error)
	// ID reads a task's id.
	ID func(x *T) uuid.UUID
	// Running is the running status of a model with a worker section; empty
	// without one.
	Running string
	// Deadlines are the parameters of Due: a timed status's deadline is now
	// less its timeout.
	Deadlines []Deadline

	// The statements. A zero Stmt is one the model does not have: Due
	// without timeouts, DeleteFinished without terminal statuses, the
	// worker statements without a worker section.
	Create, CreateMany, Transition, TransitionMany, Update Stmt
	Get, Keys, Delete, History, ListByStatus, DeleteFinished, Due    Stmt
	Reserve, Claim, Heartbeat, Lost                                  Stmt
}

// Stmt is a statement of a Table: its SQL, as sqlc compiled it, and the
// names of its parameters, one per use in the order of the text. sqlc
// replaced each use by a number ($1, $2, ...) in an order of its own;
// NewDriver pairs the uses with the numbers.
type Stmt struct {
	SQL  string
	Args []string
}

var paramRE = regexp.MustCompile(`\$(\d+)`)

// params returns the statement's parameter names in the order of their
// numbers.
func (s Stmt) params() ([]string, error) {
	uses := paramRE.FindAllStringSubmatch(s.SQL, -1)
	if len(uses) != len(s.Args) {
		return nil, fmt.Errorf("%d parameters in its SQL, %d names", len(uses), len(s.Args))
	}
	var names []string
	for i, u := range uses {
		n, err := strconv.Atoi(u[1])
		if err != nil || n < 1 || n > len(uses) {
			return nil, fmt.Errorf("parameter $%s out of range", u[1])
		}
		for len(names) < n {
			names = append(names, "")
		}
		if names[n-1] != "" && names[n-1] != s.Args[i] {
			return nil, fmt.Errorf("$%d is both %s and %s", n, names[n-1], s.Args[i])
		}
		names[n-1] = s.Args[i]
	}
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("$%d is not used", i+1)
		}
	}
	return names, nil
}

// column is a column of a Table.
type column struct {
	name string
	kind Kind
	null bool
}

// Kind is the Go type of a column's parameter, which batch statements
// collect into an array of that type.
type Kind uint8

// The kinds of columns.
const (
	KindText  Kind = iota // string
	KindInt               // int64
	KindFloat             // float64
	KindBool              // bool
	KindTime              // time.Time, in UTC
	KindUUID              // uuid.UUID
	KindJSON              // []byte, JSON
)

var kinds = map[string]Kind{"text": KindText, "int": KindInt, "float": KindFloat, "bool": KindBool, "time": KindTime, "uuid": KindUUID, "json": KindJSON}

// parseColumns reads Table.Columns.
func parseColumns(spec string) ([]column, error) {
	var out []column
	for _, c := range strings.Split(spec, ",") {
		f := strings.Fields(c)
		if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "null") {
			return nil, fmt.Errorf("column %q: want \"name kind\" or \"name kind null\"", strings.TrimSpace(c))
		}
		k, ok := kinds[f[1]]
		if !ok {
			return nil, fmt.Errorf("column %s: unknown kind %q", f[0], f[1])
		}
		out = append(out, column{name: f[0], kind: k, null: len(f) == 3 && k != KindJSON})
	}
	return out, nil
}

// Deadline is one timed status's parameter of Due: Arg is given now less
// After.
type Deadline struct {
	Arg   string
	After time.Duration
}

// Text returns a text column's parameter: s as a string.
func Text[S ~string](s S) any { return string(s) }

// OptText returns a nullable text column's parameter: nil or *p.
func OptText[S ~string](p *S) any {
	if p == nil {
		return nil
	}
	return string(*p)
}

// Opt returns a nullable column's parameter: nil or *p.
func Opt[V any](p *V) any {
	if p == nil {
		return nil
	}
	return *p
}

// OptTime returns a nullable time column's parameter: nil or *p in UTC.
func OptTime(p *time.Time) any {
	if p == nil {
		return nil
	}
	return p.UTC()
}

// OptInt returns a nullable integer column's parameter (a duration's
// nanoseconds): nil or *p as an int64.
func OptInt[I ~int64 | ~int32 | ~int](p *I) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

// arg is where a statement's parameter comes from: a column of the task,
// its NULL marks, or one of the framework's values.
type arg struct {
	col  int // the column, or -1
	null bool
	fw   fwArg
}

// fwArg names the framework's parameters (tm_…) that are not columns.
type fwArg uint8

const (
	fwNone fwArg = iota
	fwID
	fwFromStatus
	fwFromVersion
	fwEvent
	fwAttempt
	fwActor
	fwMessage
	fwNow
	fwOwner
	fwExpires
	fwMaxRows
	fwStatus
	fwBefore
	fwAfterCreatedAt
	fwAfterID
	fwTaskID
	fwIDs
	fwDeadline // + index into Deadlines, in arg.col
)

var fwArgs = map[string]fwArg{
	"tm_from_status":      fwFromStatus,
	"tm_from_version":     fwFromVersion,
	"tm_event":            fwEvent,
	"tm_attempt":          fwAttempt,
	"tm_actor":            fwActor,
	"tm_message":          fwMessage,
	"tm_now":              fwNow,
	"tm_owner":            fwOwner,
	"tm_expires_at":       fwExpires,
	"tm_max_rows":         fwMaxRows,
	"tm_status":           fwStatus,
	"tm_before":           fwBefore,
	"tm_after_created_at": fwAfterCreatedAt,
	"tm_after_id":         fwAfterID,
	"tm_task_id":          fwTaskID,
	"tm_ids":              fwIDs,
}

// plan resolves a statement's parameter names once, at NewDriver.
func (t *Table[T]) plan(cols []column, name string, s Stmt) ([]arg, error) {
	names, err := s.params()
	if err != nil {
		return nil, fmt.Errorf("postgres: model %q, statement %s: %w", t.Model, name, err)
	}
	out := make([]arg, len(names))
	for i, a := range names {
		out[i] = arg{col: -1}
		if fw, ok := fwArgs[a]; ok {
			out[i].fw = fw
			continue
		}
		if c, ok := strings.CutPrefix(a, "tm_null_"); ok {
			if j := columnIndex(cols, c); j >= 0 && cols[j].null {
				out[i] = arg{col: j, null: true}
				continue
			}
		}
		if j := columnIndex(cols, a); j >= 0 {
			out[i].col = j
			if a == "id" {
				out[i].fw = fwID // Get and Delete have the id without a task
			}
			continue
		}
		found := false
		for j, d := range t.Deadlines {
			if d.Arg == a {
				out[i] = arg{col: j, fw: fwDeadline}
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("postgres: model %q, statement %s: parameter %q is neither a column nor one the driver sets", t.Model, name, a)
		}
	}
	return out, nil
}

func columnIndex(cols []column, name string) int {
	for i, c := range cols {
		if c.name == name {
			return i
		}
	}
	return -1
}

// JSON returns a JSON column's parameter from its encoding: nil for NULL.
func JSON(b []byte, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, nil
	}
	return b, nil
}
