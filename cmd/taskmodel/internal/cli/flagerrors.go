package cli

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/taskmodel/taskmodel/tasktype"
)

// flagError rewrites pflag's refusal of a flag's value ("invalid argument
// … strconv.ParseInt: …") into what the flag allows. args are the command
// line's arguments (after the program's name), for the command a negative
// number needs instead.
func flagError(c *cobra.Command, err error, args []string) error {
	var iv *pflag.InvalidValueError
	if !errors.As(err, &iv) {
		// A negative number as an argument reads as flags (-5).
		if m := negativeArg.FindStringSubmatch(err.Error()); m != nil {
			return usagef(fmt.Errorf("%s is taken for a flag; to give a negative number as an argument, put -- before it: %s", m[1], withDashes(c, args, m[1])))
		}
		return usagef(err)
	}
	f, v := iv.GetFlag(), iv.GetValue()
	var allowed string
	switch typ := f.Value.Type(); {
	case strings.HasPrefix(typ, "int"), strings.HasPrefix(typ, "uint"):
		allowed = "must be a whole number"
		if strings.Contains(err.Error(), "out of range") {
			allowed = "must be a whole number of a sensible size"
		}
	case strings.HasPrefix(typ, "float"):
		allowed = "must be a number"
	case typ == "duration":
		allowed = "must be a duration with a unit, such as 30s or 5m"
	case typ == "bool":
		allowed = "must be true or false"
	default:
		allowed = "is not a valid value"
	}
	return usagef(fmt.Errorf("--%s: %s, not %q", f.Name, allowed, v))
}

// negativeArg finds a negative number that pflag took for shorthand flags.
var negativeArg = regexp.MustCompile(`^unknown shorthand flag: '.' in (-[0-9][0-9.]*)$`)

// isNegative matches a negative number as an argument.
var isNegative = regexp.MustCompile(`^-[0-9][0-9.]*$`)

// withDashes is the command line args of c with -- before the negative
// number neg, where flags stop and every argument after is taken as one:
// "taskmodel subtask increment RUN 2 -- -3". The flags written after neg
// (with their values) move before the --. Without args (or neg among
// them) it is c's path, --, and neg.
func withDashes(c *cobra.Command, args []string, neg string) string {
	at := slices.Index(args, neg)
	if at < 0 || slices.Contains(args[:at], "--") {
		return c.CommandPath() + " -- " + neg
	}
	words := append([]string{c.Root().Name()}, args[:at]...)
	var rest []string
	for i := at; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case isNegative.MatchString(a) || a == "-" || !strings.HasPrefix(a, "-"):
			rest = append(rest, a)
		default: // a flag, and its value when it takes one and has no =
			words = append(words, a)
			if i+1 < len(args) && !strings.Contains(a, "=") && takesValue(c, a) {
				i++
				words = append(words, args[i])
			}
		}
	}
	words = append(words, "--")
	words = append(words, rest...)
	for i, w := range words {
		words[i] = shellQuote(w)
	}
	return strings.Join(words, " ")
}

// takesValue reports whether the flag a (--name or -x) of c takes a value
// as the next argument.
func takesValue(c *cobra.Command, a string) bool {
	var f *pflag.Flag
	if name, ok := strings.CutPrefix(a, "--"); ok {
		f = c.Flags().Lookup(name)
	} else if len(a) == 2 {
		f = c.Flags().ShorthandLookup(a[1:])
	}
	return f != nil && f.NoOptDefVal == ""
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/@%+=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// argNotes say what a positional argument is, by its name in a command's
// Use line.
var argNotes = map[string]string{
	"PERCENT": "a number from 0 to 100",
	"RUN_ID":  "the id run start printed",
	"N":       "the subtask's number",
	"NAME":    "the subtask's name",
	"STAGE":   "the stage's name",
	"TASK":    "the task's name",
	"MESSAGE": "the error message",
	"ID":      "the token's id, as token list shows it",
}

// explainArgs makes the argument-count errors of c and its subcommands name
// the arguments that are missing or too many, from the Use lines.
func explainArgs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		explainArgs(sub)
	}
	check := c.Args
	if check == nil {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		err := check(cmd, args)
		if err == nil || !isArgCount(err) {
			return err
		}
		return usagef(argCountError(cmd, args))
	}
}

func isArgCount(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "accepts ") || strings.HasPrefix(msg, "requires at least") || strings.HasPrefix(msg, "requires at most")
}

// argCountError says which arguments of cmd are missing, or which one is
// too many.
func argCountError(cmd *cobra.Command, args []string) error {
	var required, optional []string
	for _, w := range strings.Fields(cmd.Use)[1:] {
		if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "[-") || w == "|" {
			break
		}
		if strings.HasPrefix(w, "[") {
			optional = append(optional, strings.Trim(w, "[]"))
		} else {
			required = append(required, w)
		}
	}
	name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
	if len(args) < len(required) {
		missing := required[len(args):]
		if len(missing) == 1 {
			what := missing[0]
			if note := argNotes[what]; note != "" {
				what += ", " + note
			}
			return fmt.Errorf("%s needs %s", name, what)
		}
		usage := strings.Join(append([]string{cmd.CommandPath()}, required...), " ")
		return fmt.Errorf("%s needs %s and %s: %s", name, strings.Join(missing[:len(missing)-1], ", "), missing[len(missing)-1], usage)
	}
	all := append(required, optional...)
	if len(all) == 0 {
		return fmt.Errorf("%s takes no arguments, not %q", name, args[0])
	}
	return fmt.Errorf("%s takes at most %s, not also %q", name, strings.Join(all, " "), args[min(len(all), len(args)-1)])
}

// fieldArgs name, per command, the flag or argument a user typed for each
// field the tracker names in a refusal (its stored names, which the HTTP
// API keeps as its JSON names): "--percent: must be ≤ 100 (got 120)", not
// "overall_percent: …".
var fieldArgs = map[string]map[string]string{
	"run start": {"stage": "STAGE", "task": "TASK", "total_subtasks": "--subtasks", "code_version": "--code-version",
		"git_commit": "--git-commit", "script_path": "--script-path", "script_filename": "--script",
		"log_path": "--log-path", "log_filename": "--log", "message": "--message"},
	"run update":        {"overall_percent": "--percent", "message": "--message", "error_message": "--message"},
	"run complete":      {"message": "MESSAGE"},
	"run skip":          {"message": "MESSAGE"},
	"run cancel":        {"message": "MESSAGE"},
	"run fail":          {"error_message": "MESSAGE", "message": "MESSAGE", "error_detail": "--detail"},
	"subtask start":     {"name": "NAME", "subtask_number": "N", "items_total": "--items", "message": "--message"},
	"subtask update":    {"subtask_number": "N", "percent": "--percent", "items_complete": "--items-complete", "items_total": "--items-total", "message": "--message", "error_message": "--message"},
	"subtask increment": {"by": "BY"},
	"subtask complete":  {"message": "MESSAGE"},
	"subtask fail":      {"error_message": "MESSAGE", "message": "MESSAGE"},
}

// withArgNames renames the fields err refuses after what the user typed
// for cmd (see fieldArgs): each "field: message" in err's text becomes
// "--flag: message". The error's kind (errors.Is, errors.As) is kept.
func withArgNames(cmd *cobra.Command, err error) error {
	if cmd == nil || err == nil {
		return err
	}
	names := fieldArgs[strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")]
	if names == nil {
		return err
	}
	msg := err.Error()
	fields := fieldErrors(err)
	for _, f := range fields {
		if n, ok := names[f.Field]; ok {
			msg = strings.Replace(msg, f.Error(), n+": "+f.Message, 1)
		}
	}
	if msg == err.Error() {
		return err
	}
	return &renamedError{msg: msg, err: err}
}

// renamedError is err with the fields its text names renamed.
type renamedError struct {
	msg string
	err error
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }

// fieldErrors lists the field errors in err's tree (errors.Join's too).
func fieldErrors(err error) []*tasktype.FieldError {
	switch e := err.(type) {
	case nil:
		return nil
	case *tasktype.FieldError:
		return []*tasktype.FieldError{e}
	case *tasktype.ValidationError:
		return e.Fields
	case interface{ Unwrap() []error }:
		var out []*tasktype.FieldError
		for _, x := range e.Unwrap() {
			out = append(out, fieldErrors(x)...)
		}
		return out
	}
	return fieldErrors(errors.Unwrap(err))
}
