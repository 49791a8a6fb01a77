package cli

import (
	"context"
	"fmt"
	"strconv"

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
