package cli

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

func newSubtaskCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "subtask", Short: "Start, update, increment and finish the subtasks of a run"}

	var items int64
	var startMsg string
	start := subtaskCmd(app, "start RUN_ID N NAME [--items N]", "Start subtask N of a run", cobra.ExactArgs(3),
		func(c *cobra.Command, tr *pipeline.Tracker, id uuid.UUID, n int64, args []string) (*pipeline.Subtask, error) {
			return tr.StartSubtask(c.Context(), id, n, pipeline.SubtaskStart{Name: args[2], ItemsTotal: changedInt(c, "items", items), Message: startMsg})
		})
	start.Flags().Int64Var(&items, "items", 0, "number of items the subtask will process")
	start.Flags().StringVar(&startMsg, "message", "", "first status message")

	var (
		percent     float64
		done, total int64
		message     string
		status      string
	)
	update := subtaskCmd(app, "update RUN_ID N [STATUS] [--percent P] [--items-complete N] [--items-total N] [--message M]",
		"Report a subtask's progress (the first update makes it RUNNING), or finish it with a status", cobra.RangeArgs(2, 3),
		func(c *cobra.Command, tr *pipeline.Tracker, id uuid.UUID, n int64, args []string) (*pipeline.Subtask, error) {
			st, err := statusArg(c, args, 2, status, subtaskStatuses, " (subtask start starts a subtask)")
			if err != nil {
				return nil, err
			}
			if st != "" && st != "RUNNING" {
				if err := onlyWith(c, st, "", "percent", "items-complete", "items-total"); err != nil {
					return nil, err
				}
			}
			switch st {
			case "COMPLETED":
				return tr.CompleteSubtask(c.Context(), id, n, message)
			case "FAILED":
				if message == "" {
					return nil, usagef(fmt.Errorf("status FAILED needs --message, the error message"))
				}
				return tr.FailSubtask(c.Context(), id, n, message)
			}
			return tr.UpdateSubtask(c.Context(), id, n, pipeline.SubtaskUpdate{
				Percent: changedFloat(c, "percent", percent), ItemsComplete: changedInt(c, "items-complete", done),
				ItemsTotal: changedInt(c, "items-total", total), Message: changedString(c, "message", message)})
		})
	update.Long = `Report a subtask's progress: the first update makes it RUNNING. A status, as
the third argument or with --status, may also finish it, as in tasker's
subtask_update(run_id, 1, "RUNNING", …):
  RUNNING     report progress (the default)
  COMPLETED   as subtask complete (--message is the message)
  FAILED      as subtask fail (--message, required, is the error message)
--percent, --items-complete and --items-total go with RUNNING only.`
	update.Flags().Float64Var(&percent, "percent", 0, "percent complete, 0 to 100 (default: from the items)")
	update.Flags().Int64Var(&done, "items-complete", 0, "items processed so far")
	update.Flags().Int64Var(&total, "items-total", 0, "items to process")
	update.Flags().StringVar(&message, "message", "", "status message")
	update.Flags().StringVar(&status, "status", "", "RUNNING, COMPLETED or FAILED (or as the third argument)")

	increment := subtaskCmd(app, "increment RUN_ID N [BY]",
		"Add BY (default 1) processed items, atomically: safe from parallel workers", cobra.RangeArgs(2, 3),
		func(c *cobra.Command, tr *pipeline.Tracker, id uuid.UUID, n int64, args []string) (*pipeline.Subtask, error) {
			by := int64(1)
			if len(args) == 3 {
				v, err := strconv.ParseInt(args[2], 10, 64)
				if errors.Is(err, strconv.ErrRange) {
					return nil, usagef(fmt.Errorf("BY %q is out of range: it must be from %d to %d (how many processed items to add)", args[2], math.MinInt64, math.MaxInt64))
				}
				if err != nil {
					return nil, usagef(fmt.Errorf("BY %q is not a whole number (how many processed items to add)", args[2]))
				}
				by = v
			}
			return tr.IncrementSubtask(c.Context(), id, n, by)
		})

	complete := subtaskCmd(app, "complete RUN_ID N [MESSAGE]", "Finish subtask N successfully", cobra.RangeArgs(2, 3),
		func(c *cobra.Command, tr *pipeline.Tracker, id uuid.UUID, n int64, args []string) (*pipeline.Subtask, error) {
			return tr.CompleteSubtask(c.Context(), id, n, optionalArg(args, 2))
		})
	fail := subtaskCmd(app, "fail RUN_ID N MESSAGE", "Finish subtask N with an error (the run goes on)", cobra.ExactArgs(3),
		func(c *cobra.Command, tr *pipeline.Tracker, id uuid.UUID, n int64, args []string) (*pipeline.Subtask, error) {
			return tr.FailSubtask(c.Context(), id, n, args[2])
		})

	list := &cobra.Command{
		Use:   "list RUN_ID",
		Short: "Show the progress of a run's subtasks",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			tr, id, err := app.runTracker(c.Context(), args[0])
			if err != nil {
				return err
			}
			subs, err := tr.Subtasks(c.Context(), id)
			if err != nil {
				return err
			}
			est, err := tr.Estimate(c.Context(), id)
			if err != nil {
				return err
			}
			return app.Print(subs, func(w io.Writer) error { return printSubtasks(w, subs, est, 30) })
		},
	}
	cmd.AddCommand(start, update, increment, complete, fail, list)
	return cmd
}

// subtaskStatuses are the statuses subtask update takes.
var subtaskStatuses = []string{"RUNNING", "COMPLETED", "FAILED"}

func subtaskCmd(app *App, use, short string, args cobra.PositionalArgs,
	do func(*cobra.Command, *pipeline.Tracker, uuid.UUID, int64, []string) (*pipeline.Subtask, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(c *cobra.Command, args []string) error {
			id, n, err := runAndNumber(args)
			if err != nil {
				return err
			}
			tr, err := app.Tracker(c.Context())
			if err != nil {
				return err
			}
			s, err := do(c, tr, id, n, args)
			if err != nil {
				return err
			}
			return app.Print(s, nil)
		},
	}
}
