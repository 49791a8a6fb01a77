package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagError rewrites pflag's refusal of a flag's value ("invalid argument
// … strconv.ParseInt: …") into what the flag allows.
func flagError(_ *cobra.Command, err error) error {
	var iv *pflag.InvalidValueError
	if !errors.As(err, &iv) {
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
