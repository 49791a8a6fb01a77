package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestUnknownSubcommand: a command that groups others refuses a subcommand
// it does not have, as a usage error (exit 2), and shows its help without one.
func TestUnknownSubcommand(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"migrate", "bogus"}, 2, `taskmodel: unknown command "bogus" for "taskmodel migrate"`},
		{[]string{"token", "bogus"}, 2, `taskmodel: unknown command "bogus" for "taskmodel token"`},
		{[]string{"migrate"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(context.Background(), tt.args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != tt.code || !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errb.String(), tt.code, tt.want)
			}
			if tt.code == 0 && !strings.Contains(out.String(), "Available Commands:") {
				t.Errorf("no help:\n%s", out.String())
			}
		})
	}
}
