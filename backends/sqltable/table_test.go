package sqltable

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
)

type task struct {
	ID     uuid.UUID
	Status string
	Note   *string
	At     time.Time
}

var dollar = regexp.MustCompile(`\$(\d+)`)

func table(stmts map[string]Stmt) *Table[task] {
	return &Table[task]{
		Model:   "task",
		Columns: "id uuid, status text, note text null, created_at time",
		Values: func(x *task, v []any) error {
			v[0], v[1], v[2], v[3] = x.ID, x.Status, Opt(x.Note), x.At.UTC()
			return nil
		},
		Key:       func(x *task) backends.Key { return backends.Key{ID: x.ID, Status: x.Status} },
		CreatedAt: func(x *task) time.Time { return x.At },
		Deadlines: []Deadline{{Arg: "tm_queued_deadline", After: time.Minute}},
		Stmts:     stmts,
	}
}

// TestCompile pairs the uses of names with sqlc's placeholders, whatever
// order sqlc numbered them in, and refuses what does not match.
func TestCompile(t *testing.T) {
	tests := []struct {
		name string
		stmt Stmt
		want string // the error, or "" for none
	}{
		{"in order", Stmt{SQL: "UPDATE t SET status = $1 WHERE id = $2", Args: []string{"status", "id"}}, ""},
		{"numbered out of order", Stmt{SQL: "INSERT INTO h SELECT $3, $1 FROM (SELECT $2) AS t", Args: []string{"tm_actor", "status", "id"}}, ""},
		{"a name used twice", Stmt{SQL: "SELECT $1 WHERE $2 > $1", Args: []string{"tm_now", "tm_max_rows", "tm_now"}}, ""},
		{"a deadline", Stmt{SQL: "SELECT 1 WHERE at <= $1", Args: []string{"tm_queued_deadline"}}, ""},
		{"NULL marks of a nullable column", Stmt{SQL: "SELECT $1, $2", Args: []string{"note", "tm_null_note"}}, ""},
		{"more names than placeholders", Stmt{SQL: "SELECT $1", Args: []string{"id", "status"}},
			`model "task", statement S: 1 parameters in its SQL, 2 names`},
		{"one number, two names", Stmt{SQL: "SELECT $1, $1", Args: []string{"id", "status"}},
			`model "task", statement S: $1 is both id and status`},
		{"a number skipped", Stmt{SQL: "SELECT $1, $3", Args: []string{"id", "status"}},
			`model "task", statement S: placeholder $3 out of range`},
		{"an unknown name", Stmt{SQL: "SELECT $1", Args: []string{"colour"}},
			`model "task", statement S: parameter "colour" is neither a column nor one the driver sets`},
		{"NULL marks of a NOT NULL column", Stmt{SQL: "SELECT $1", Args: []string{"tm_null_status"}},
			`model "task", statement S: parameter "tm_null_status" is neither a column nor one the driver sets`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(table(map[string]Stmt{"S": tt.stmt}), dollar)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Compile: %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseColumns(t *testing.T) {
	tests := []struct {
		spec string
		want []Column
		err  string
	}{
		{"id uuid, note text null, doc json null", []Column{{"id", KindUUID, false}, {"note", KindText, true}, {"doc", KindJSON, false}}, ""},
		{"id", nil, `column "id": want "name kind" or "name kind null"`},
		{"id uuid maybe", nil, `column "id uuid maybe": want "name kind" or "name kind null"`},
		{"id number", nil, `column id: unknown kind "number"`},
	}
	for _, tt := range tests {
		got, err := parseColumns(tt.spec)
		if err != nil {
			if err.Error() != tt.err {
				t.Errorf("%q: %v, want %q", tt.spec, err, tt.err)
			}
			continue
		}
		if tt.err != "" || len(got) != len(tt.want) {
			t.Errorf("%q: %v, want %v (error %q)", tt.spec, got, tt.want, tt.err)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%q: column %d is %+v, want %+v", tt.spec, i, got[i], tt.want[i])
			}
		}
	}
}

// TestBind passes every parameter at its number: columns from the task,
// the id where there is no task, framework values, deadlines.
func TestBind(t *testing.T) {
	c, err := Compile(table(map[string]Stmt{
		"Transition": {SQL: "UPDATE t SET status = $2, note = $3 WHERE id = $1 AND status = $4", Args: []string{"status", "note", "id", "tm_from_status"}},
		"Get":        {SQL: "SELECT * FROM t WHERE id = $1", Args: []string{"id"}},
		"Due":        {SQL: "SELECT * FROM t WHERE at <= $1 LIMIT $2", Args: []string{"tm_queued_deadline", "tm_max_rows"}},
		"History":    {SQL: "INSERT INTO h VALUES ($1, $2, $3)", Args: []string{"tm_task_id", "tm_from_status", "tm_event"}},
	}), dollar)
	if err != nil {
		t.Fatal(err)
	}
	id, now := uuid.New(), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	note := "n"
	tests := []struct {
		stmt string
		call Call[task]
		want []any
	}{
		{"Transition", Call[task]{Task: &task{ID: id, Status: "DONE", Note: &note}, From: backends.Key{Status: "RUNNING"}}, []any{id, "DONE", "n", "RUNNING"}},
		{"Transition", Call[task]{Task: &task{ID: id, Status: "DONE"}, From: backends.Key{Status: "RUNNING"}}, []any{id, "DONE", nil, "RUNNING"}},
		{"Get", Call[task]{ID: id}, []any{id}},
		{"Due", Call[task]{Now: now, Limit: 5}, []any{now.Add(-time.Minute), int32(5)}},
		// A task's first history row has no from status and no event.
		{"History", Call[task]{ID: id}, []any{id, nil, nil}},
	}
	for _, tt := range tests {
		sql, args, err := c.Bind(tt.stmt, &tt.call)
		if err != nil {
			t.Errorf("%s: %v", tt.stmt, err)
			continue
		}
		if sql != c.Stmts[tt.stmt].SQL || len(args) != len(tt.want) {
			t.Errorf("%s: %q %v, want %v", tt.stmt, sql, args, tt.want)
			continue
		}
		for i := range args {
			if args[i] != tt.want[i] {
				t.Errorf("%s: $%d = %#v, want %#v", tt.stmt, i+1, args[i], tt.want[i])
			}
		}
	}
	if _, _, err := c.Bind("Lost", &Call[task]{}); err == nil || !strings.Contains(err.Error(), `model "task" has no statement Lost`) {
		t.Errorf("Bind of a missing statement: %v", err)
	}
}

// TestBindMany collects a batch into one array per parameter, NULLs as
// zero values with their marks.
func TestBindMany(t *testing.T) {
	c, err := Compile(table(map[string]Stmt{
		"Many": {SQL: "SELECT $1, $2, $3, $4", Args: []string{"id", "note", "tm_null_note", "tm_attempt"}},
	}), dollar)
	if err != nil {
		t.Fatal(err)
	}
	a, b, note := uuid.New(), uuid.New(), "n"
	_, args, err := c.BindMany("Many", []Call[task]{
		{Task: &task{ID: a, Note: &note}, History: backends.History{Attempt: 2}},
		{Task: &task{ID: b}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := args[0].([]uuid.UUID)
	notes, _ := args[1].([]string)
	nulls, _ := args[2].([]bool)
	attempts, _ := args[3].([]int32)
	if len(ids) != 2 || ids[0] != a || ids[1] != b || len(notes) != 2 || notes[0] != "n" || notes[1] != "" ||
		len(nulls) != 2 || nulls[0] || !nulls[1] || len(attempts) != 2 || attempts[0] != 2 || attempts[1] != 0 {
		t.Errorf("BindMany: %#v", args)
	}
}

// FuzzCompile: any columns, SQL and names give a table or an error, never
// a panic.
func FuzzCompile(f *testing.F) {
	f.Add("id uuid, status text", "SELECT $2, $1", "status,id")
	f.Add("id uuid", "SELECT $0, $99999999999999999999", "id,id")
	f.Fuzz(func(t *testing.T, cols, sql, args string) {
		tb := table(map[string]Stmt{"S": {SQL: sql, Args: strings.Split(args, ",")}})
		tb.Columns = cols
		_, _ = Compile(tb, dollar)
	})
}
