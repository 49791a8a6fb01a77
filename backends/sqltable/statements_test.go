package sqltable

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseStatements(t *testing.T) {
	tests := []struct {
		name string
		text string
		want map[string]Stmt
		err  string
	}{
		{
			name: "statements with comments, kinds and parameters in order",
			text: "-- Code generated.\n\n-- name: Get\n-- Reads a task.\nSELECT a FROM t WHERE id = sqlc.arg(id);\n\n" +
				"-- name: List :many\nSELECT a FROM t\nWHERE s = sqlc.arg(tm_status) AND (sqlc.narg(tm_tag) IS NULL OR tag = sqlc.narg(tm_tag))\nLIMIT sqlc.arg(tm_max_rows);\n",
			want: map[string]Stmt{
				"Get":  {SQL: "SELECT a FROM t WHERE id = ?", Args: []string{"id"}},
				"List": {SQL: "SELECT a FROM t\nWHERE s = ? AND (? IS NULL OR tag = ?)\nLIMIT ?", Args: []string{"tm_status", "tm_tag", "tm_tag", "tm_max_rows"}},
			},
		},
		{
			name: "no parameters",
			text: "-- name: Count\nSELECT count(*) FROM t;",
			want: map[string]Stmt{"Count": {SQL: "SELECT count(*) FROM t", Args: []string{}}},
		},
		{name: "empty file", text: "", want: map[string]Stmt{}},
		{name: "text before the first name", text: "SELECT 1;\n-- name: A\nSELECT 2;", err: `line 1: a statement before the first "-- name:" line`},
		{name: "empty statement", text: "-- name: A\n-- nothing\n-- name: B\nSELECT 1;", err: "statement A is empty"},
		{name: "a name twice", text: "-- name: A\nSELECT 1;\n-- name: A\nSELECT 2;", err: "statement A is named twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatements(tt.text)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// TestCompileQuestionMarks: without a placeholder pattern, Compile pairs
// each ? with the next name, and counts only the ? outside quotes.
func TestCompileQuestionMarks(t *testing.T) {
	tests := []struct {
		name string
		stmt Stmt
		err  string
	}{
		{"as many ? as names", Stmt{SQL: "SELECT ? FROM t WHERE id = ?", Args: []string{"status", "id"}}, ""},
		{"a ? in a string and a quoted name", Stmt{SQL: "SELECT '?', `a?`, \"b?\" FROM t WHERE id = ?", Args: []string{"id"}}, ""},
		{"more names", Stmt{SQL: "SELECT 1 FROM t WHERE id = ?", Args: []string{"id", "status"}}, `model "task", statement S: 1 parameters in its SQL, 2 names`},
		{"more ?", Stmt{SQL: "SELECT ? FROM t WHERE id = ?", Args: []string{"id"}}, `model "task", statement S: 2 parameters in its SQL, 1 names`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := table(map[string]Stmt{"S": tt.stmt})
			_, err := Compile(tb, nil)
			if got := errString(err); got != tt.err {
				t.Fatalf("error %q, want %q", got, tt.err)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func FuzzParseStatements(f *testing.F) {
	f.Add("-- name: A :many\nSELECT sqlc.arg(x), '?' FROM t WHERE y = sqlc.narg(y);\n-- name: B\nSELECT 1;")
	f.Add("-- name: A\n")
	f.Fuzz(func(t *testing.T, text string) {
		stmts, err := ParseStatements(text)
		if err != nil {
			return
		}
		for name, s := range stmts {
			if s.SQL == "" {
				t.Fatalf("statement %s is empty", name)
			}
			if namedArg.MatchString(s.SQL) && !strings.ContainsAny(s.SQL, "'\"`") {
				t.Fatalf("statement %s kept a parameter: %q", name, s.SQL)
			}
		}
	})
}
