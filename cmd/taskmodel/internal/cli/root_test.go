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

// TestUsageMessages: a flag's bad value, a missing or extra argument and a
// bad BY are usage errors (exit 2) that say what is allowed, and point at
// the command's own help.
func TestUsageMessages(t *testing.T) {
	db := "sqlite:" + t.TempDir() + "/usage.db"
	run := "0190a6c2-0000-7000-8000-000000000001"
	tests := []struct {
		args []string
		help string // the command whose help the error points at
		want string
	}{
		{[]string{"work", "--concurrency", "abc"}, "work", `--concurrency: must be a whole number, not "abc"`},
		{[]string{"history", "--limit", "x"}, "history", `--limit: must be a whole number, not "x"`},
		{[]string{"run", "start", "S", "T", "--subtasks", "1.5"}, "run start", `--subtasks: must be a whole number, not "1.5"`},
		{[]string{"work", "--wait", "99999999999999999999"}, "work", `--wait: must be a whole number of a sensible size, not "99999999999999999999"`},
		{[]string{"subtask", "start", run, "1", "n", "--items", "many"}, "subtask start", `--items: must be a whole number, not "many"`},
		{[]string{"serve", "--workers", "four"}, "serve", `--workers: must be a whole number, not "four"`},
		{[]string{"status", "--db-port", "pg"}, "status", `--db-port: must be a whole number, not "pg"`},
		{[]string{"run", "update", run, "--percent", "half"}, "run update", `--percent: must be a number, not "half"`},
		{[]string{"serve", "--sweep-every", "5"}, "serve", `--sweep-every: must be a duration with a unit, such as 30s or 5m, not "5"`},
		{[]string{"progress"}, "progress", `progress needs PERCENT, a number from 0 to 100`},
		{[]string{"run", "fail", run}, "run fail", `run fail needs MESSAGE, the error message`},
		{[]string{"run", "start"}, "run start", `run start needs STAGE and TASK: taskmodel run start STAGE TASK`},
		{[]string{"run", "show", run, "extra"}, "run show", `run show takes at most RUN_ID, not also "extra"`},
		{[]string{"token", "revoke"}, "token revoke", `token revoke needs ID, the token's id, as token list shows it`},
		{[]string{"--db-url", db, "subtask", "increment", run, "1", "x"}, "subtask increment", `BY "x" is not a whole number (how many processed items to add)`},
		{[]string{"--db-url", db, "subtask", "increment", run, "1", "99999999999999999999"}, "subtask increment", `BY "99999999999999999999" is out of range: it must be from -9223372036854775808 to 9223372036854775807 (how many processed items to add)`},
		{[]string{"--db-url", db, "subtask", "complete", run, "99999999999999999999"}, "subtask complete", `subtask number "99999999999999999999" is out of range: it must be at most 9223372036854775807`},
		// A negative number is taken for flags: the suggested command keeps
		// the other arguments, with -- before the number and the flags
		// written after it moved before the --.
		{[]string{"progress", "-5"}, "progress", `-5 is taken for a flag; to give a negative number as an argument, put -- before it: taskmodel progress -- -5`},
		{[]string{"subtask", "increment", run, "2", "-3"}, "subtask increment",
			`-3 is taken for a flag; to give a negative number as an argument, put -- before it: taskmodel subtask increment ` + run + ` 2 -- -3`},
		{[]string{"--db-url", db, "subtask", "increment", run, "2", "-3", "-q", "--db-url", db}, "subtask increment",
			`-3 is taken for a flag; to give a negative number as an argument, put -- before it: taskmodel --db-url ` + db + ` subtask increment ` + run + ` 2 -q --db-url ` + db + ` -- -3`},
		{[]string{"run", "update", run, "-1.5", "--message", "half way", "--", "x"}, "run update",
			`-1.5 is taken for a flag; to give a negative number as an argument, put -- before it: taskmodel run update ` + run + ` --message 'half way' -- -1.5 x`},
		{[]string{"subtask", "fail", run, "1", "it's -2", "-2"}, "subtask fail",
			`-2 is taken for a flag; to give a negative number as an argument, put -- before it: taskmodel subtask fail ` + run + ` 1 'it'\''s -2' -- -2`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(context.Background(), tt.args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			want := "taskmodel: " + tt.want + "\nRun 'taskmodel " + tt.help + " --help' for usage.\n"
			if code != 2 || errb.String() != want {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, errb.String(), want)
			}
		})
	}
}
