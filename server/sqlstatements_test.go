package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	driver "github.com/go-sql-driver/mysql"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/tasktype"
)

// TestMySQLStatements: a statement written for PostgreSQL is rewritten for
// MySQL — names in backquotes, each $n a ? with its argument, in the order
// the parameters appear — and literals are left alone.
func TestMySQLStatements(t *testing.T) {
	tests := []struct {
		name     string
		q        string
		args     []any
		want     string
		wantArgs []any
		err      string
	}{
		{"names and parameters", `SELECT "a" FROM "t" WHERE x = $1 AND y = $2`, []any{1, 2}, "SELECT `a` FROM `t` WHERE x = ? AND y = ?", []any{1, 2}, ""},
		{"parameters out of order", `WHERE "c" = $2 AND status = $1`, []any{"s", "o"}, "WHERE `c` = ? AND status = ?", []any{"o", "s"}, ""},
		{"a parameter used twice", `$1 < $10 OR $1 > $2`, []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, "? < ? OR ? > ?", []any{1, 10, 1, 2}, ""},
		{"a literal is left alone", `WHERE status = 'a"b$1' AND "x" = $1`, []any{7}, "WHERE status = 'a\"b$1' AND `x` = ?", []any{7}, ""},
		{"no parameters", `SELECT count(*) FROM "t"`, nil, "SELECT count(*) FROM `t`", nil, ""},
		{"a dollar without a number", `SELECT '$' || $`, nil, "SELECT '$' || $", nil, ""},
		{"a parameter past the arguments", `x = $2`, []any{1}, "", nil, "server: statement parameter $2 of 1 arguments"},
		{"parameter 0", `x = $0`, []any{1}, "", nil, "server: statement parameter $0 of 1 arguments"},
		{"an unterminated literal", `x = 'a`, nil, "", nil, "server: statement with an unterminated literal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, args, err := mysqlSQL(tt.q, tt.args)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || !reflect.DeepEqual(args, tt.wantArgs) {
				t.Errorf("got %q %v, want %q %v", got, args, tt.want, tt.wantArgs)
			}
		})
	}
}

// TestMySQLErrorProblems: a deadlock or a lock wait timeout the driver's
// retries did not absorb is a 503 asking to retry, never a 500.
func TestMySQLErrorProblems(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		kind   string
	}{
		{"deadlock", fmt.Errorf("claim: %w", &driver.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock; try restarting transaction"}), http.StatusServiceUnavailable, "busy"},
		{"lock wait timeout", &driver.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded; try restarting transaction"}, http.StatusServiceUnavailable, "busy"},
		{"another server error", &driver.MySQLError{Number: 1146, Message: "Table 'x' doesn't exist"}, http.StatusInternalServerError, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := toProblem(tt.err)
			if p.Status != tt.status || p.Type != ProblemTypeBase+tt.kind {
				t.Errorf("%d %s, want %d %s", p.Status, p.Type, tt.status, tt.kind)
			}
		})
	}
}

// TestCatalogWithoutMySQLListing: a catalog package generated before the
// MySQL listing existed (no Listers.MySQL) refuses the listing with a 501
// saying to regenerate it, instead of failing on a nil function.
func TestCatalogWithoutMySQLListing(t *testing.T) {
	cfg, err := mysql.ParseDSN("mysql://u@127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn) // never connects: the listing is refused first
	defer db.Close()
	models := []backends.CatalogModel{{Name: "training", Owner: true,
		Statuses:         func() []string { return []string{"QUEUED"} },
		StatusesWithCode: func(tasktype.Code) []string { return []string{"QUEUED"} }}}
	ms := NewModels(MySQL(db), models, Listers{})
	_, err = ms.Catalog().List(context.Background(), backends.ListFilter{Limit: 10, WithinHours: 24})
	var p *Problem
	if !errors.As(err, &p) || p.Status != http.StatusNotImplemented ||
		p.Detail != "listing tasks across models is not available on MySQL with this build: its catalog package has no MySQL listing; regenerate it with taskgen" {
		t.Fatalf("error %v, want the 501 problem", err)
	}
}

// FuzzMySQLSQL: rewriting any statement for MySQL never panics; when it
// succeeds, it keeps the text's length, leaves no $n outside literals, and
// passes one argument per ? outside literals.
func FuzzMySQLSQL(f *testing.F) {
	f.Add(`SELECT "status", count(*) FROM "t" WHERE x = $1 AND y = '$2' AND z = $1`, 2)
	f.Add(`SELECT '`, 0)
	f.Add(`$0 $99999999999999999999`, 1)
	f.Fuzz(func(t *testing.T, q string, n int) {
		if n < 0 || n > 100 {
			return
		}
		args := make([]any, n)
		for i := range args {
			args[i] = i
		}
		got, out, err := mysqlSQL(q, args)
		if err != nil {
			return
		}
		marks, inLiteral := 0, false
		for i := 0; i < len(got); i++ {
			switch c := got[i]; {
			case c == '\'':
				inLiteral = !inLiteral
			case !inLiteral && c == '?':
				marks++
			case !inLiteral && c == '$' && i+1 < len(got) && got[i+1] >= '0' && got[i+1] <= '9':
				t.Fatalf("%q kept a $n: %q", q, got)
			}
		}
		if want := marks - strings.Count(stripLiterals(q), "?"); want != len(out) {
			t.Fatalf("%q: %d parameters written, %d arguments", q, want, len(out))
		}
	})
}

// stripLiterals drops the quoted literals of q.
func stripLiterals(q string) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(q); i++ {
		if q[i] == '\'' {
			in = !in
			continue
		}
		if !in {
			b.WriteByte(q[i])
		}
	}
	return b.String()
}

// TestStoredValueProblem: a task whose stored value type holds an enum
// value the spec does not declare is a 503 undeclared-value naming the
// type, the field, the value and what is allowed, never a 500.
func TestStoredValueProblem(t *testing.T) {
	err := fmt.Errorf("history: %w", &backends.StoredValueError{Type: "Entry", Item: 0, Field: "begin_status", Value: "PAUSED", Allowed: []string{"NEW", "DONE"}})
	p := toProblem(err)
	if p.Status != http.StatusServiceUnavailable || p.Type != ProblemTypeBase+"undeclared-value" {
		t.Fatalf("%d %s, want 503 undeclared-value", p.Status, p.Type)
	}
	want := `a task holds a value this server cannot read: item 0: field begin_status of type Entry holds "PAUSED", which this program's spec does not declare (it allows NEW, DONE); ` +
		`the value was likely stored before the spec removed it (a migration checks the values of the model's own columns, not those inside a value type's JSON), ` +
		`unless a program built from a newer spec stored it: declare the value again, or rewrite the stored values that hold it`
	if p.Detail != want {
		t.Errorf("detail %q\nwant %q", p.Detail, want)
	}
}
