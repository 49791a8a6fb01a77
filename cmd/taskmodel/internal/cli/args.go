package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

func runID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, usagef(fmt.Errorf("run id %q is not a UUID (use the id run start printed)", s))
	}
	return id, nil
}

// runTracker parses a run id argument and opens the tracker.
func (a *App) runTracker(ctx context.Context, arg string) (*pipeline.Tracker, uuid.UUID, error) {
	id, err := runID(arg)
	if err != nil {
		return nil, uuid.Nil, err
	}
	tr, err := a.Tracker(ctx)
	return tr, id, err
}

func subtaskNumber(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, usagef(fmt.Errorf("subtask number %q is out of range: it must be at most %d", s, int64(math.MaxInt64)))
	}
	if err != nil {
		return 0, usagef(fmt.Errorf("subtask number %q is not a whole number", s))
	}
	return n, nil
}

// runAndNumber parses RUN_ID N, the first two arguments of subtask commands.
func runAndNumber(args []string) (uuid.UUID, int64, error) {
	id, err := runID(args[0])
	if err != nil {
		return uuid.Nil, 0, err
	}
	n, err := subtaskNumber(args[1])
	return id, n, err
}

// optionalArg returns args[i], or "" when there are fewer arguments.
func optionalArg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

// changed returns a pointer to the flag's value when it was given.
func changedFloat(c *cobra.Command, name string, v float64) *float64 {
	if c.Flags().Changed(name) {
		return &v
	}
	return nil
}

func changedInt(c *cobra.Command, name string, v int64) *int64 {
	if c.Flags().Changed(name) {
		return &v
	}
	return nil
}

func changedString(c *cobra.Command, name string, v string) *string {
	if c.Flags().Changed(name) {
		return &v
	}
	return nil
}

// statusArg returns the status an update command was given, as its
// positional argument args[i] or with --status, in upper case; "" when
// neither. A status outside allowed is a usage error listing them, with
// hint saying what to use instead.
func statusArg(c *cobra.Command, args []string, i int, flagValue string, allowed []string, hint string) (string, error) {
	pos := strings.ToUpper(strings.TrimSpace(optionalArg(args, i)))
	flag := strings.ToUpper(strings.TrimSpace(flagValue))
	if !c.Flags().Changed("status") {
		flag = ""
	}
	status := pos
	switch {
	case pos != "" && flag != "" && pos != flag:
		return "", usagef(fmt.Errorf("status %q and --status %q disagree; give one", args[i], flagValue))
	case pos == "":
		status = flag
	}
	if status == "" {
		if c.Flags().Changed("status") {
			return "", usagef(fmt.Errorf("--status is empty; allowed: %s", strings.Join(allowed, ", ")))
		}
		return "", nil
	}
	if !slices.Contains(allowed, status) {
		given := flagValue
		name := "--status"
		if pos != "" {
			given, name = args[i], "status"
		}
		return "", usagef(fmt.Errorf("%s %q: allowed: %s%s", name, given, strings.Join(allowed, ", "), hint))
	}
	return status, nil
}

// onlyWith refuses the flags in names that were given, saying they apply
// with status RUNNING only (what a finishing status sets instead is in why).
func onlyWith(c *cobra.Command, status, why string, names ...string) error {
	for _, n := range names {
		if c.Flags().Changed(n) {
			return usagef(fmt.Errorf("--%s applies to status RUNNING only, not %s%s", n, status, why))
		}
	}
	return nil
}
