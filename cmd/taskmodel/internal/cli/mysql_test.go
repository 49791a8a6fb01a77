package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestMySQLUnreachable: serve, the migrate commands and pipeline tracking
// on MySQL connect, and a server that does not answer is an error naming
// the database, not a refusal of the engine.
func TestMySQLUnreachable(t *testing.T) {
	const url = "mysql://u@127.0.0.1:1/none"
	for _, args := range [][]string{
		{"serve", "--database-url", url},
		{"migrate", "status", "--database-url", url},
		{"migrate", "plan", "--database-url", url},
		{"migrate", "up", "--database-url", url},
		{"status", "--db-url", url},
		{"history", "--db-driver", "mariadb", "--db-name", "none", "--db-port", "1", "--db-user", "u"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != ExitFailure || !strings.HasPrefix(errb.String(), "taskmodel: database mysql mysql://u@") || !strings.Contains(errb.String(), ":1/none: mysql: ") || strings.Contains(errb.String(), "cannot use MySQL") {
				t.Fatalf("exit %d, stderr %q; want exit %d naming the database", code, errb.String(), ExitFailure)
			}
		})
	}
}
