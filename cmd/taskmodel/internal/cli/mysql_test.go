package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestMySQLNotYet: the commands that need the task models on MySQL fail
// with an error that says so, before they connect (the URL's server does
// not exist) — never a panic, never another engine.
func TestMySQLNotYet(t *testing.T) {
	const url = "mysql://u@127.0.0.1:1/none"
	tests := []struct {
		args []string
		what string
	}{
		{[]string{"serve", "--database-url", url}, "serve"},
		{[]string{"migrate", "status", "--database-url", url}, "migrate"},
		{[]string{"migrate", "plan", "--database-url", url}, "migrate"},
		{[]string{"migrate", "up", "--database-url", url}, "migrate"},
		{[]string{"migrate", "plan", "--engine", "mysql"}, "migrate plan"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(context.Background(), tt.args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			want := tt.what + " cannot use MySQL yet: the task models' MySQL drivers are not generated yet; use PostgreSQL or SQLite for it"
			if code != ExitFailure || !strings.Contains(errb.String(), want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errb.String(), ExitFailure, want)
			}
		})
	}
}
