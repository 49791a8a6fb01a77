package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/config"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/tasktype"
)

type timeNow = func() time.Time

func (a *App) clockNow() timeNow {
	if a.now != nil {
		return a.now
	}
	return time.Now
}

func newStatusCmd(app *App) *cobra.Command {
	var stage string
	c := &cobra.Command{
		Use:   "status",
		Short: "Show every registered task's current status (its latest run)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			tr, err := app.Tracker(c.Context())
			if err != nil {
				return err
			}
			if stage != "" {
				if err := tr.CheckStage(c.Context(), stage); err != nil {
					return err
				}
			}
			list, err := tr.Status(c.Context(), stage)
			if err != nil {
				return err
			}
			now := app.clockNow()()
			return app.Print(list, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STAGE\tTASK\tSTATUS\tPROGRESS\tSTARTED\tELAPSED\tMESSAGE\tRUN_ID")
				for _, s := range list {
					if s.Run == nil {
						fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t-\t-\n", s.Stage, s.Task, s.Status)
						continue
					}
					r := s.Run
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Stage, s.Task, s.Status, percent(s.Percent, s.PercentSource),
						clock(r.StartedAt), elapsed(r.StartedAt, r.EndedAt, now), truncate(runMessage(r), 40), r.ID)
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().StringVar(&stage, "stage", "", "only this stage")
	return c
}

// runMessage is the error of a failed run, else its message.
func runMessage(r *pipeline.Run) string {
	if r.ErrorMessage != nil {
		return *r.ErrorMessage
	}
	if r.Message != nil {
		return *r.Message
	}
	return "-"
}

// runRow is a run as history and active print it: its id as run_id, the
// name every command and tasker use, and its percent as shown (from its
// subtasks when it set none of its own; see pipeline.RunPercent).
type runRow struct {
	RunID uuid.UUID `json:"run_id"`
	*pipeline.Run
	// ID hides the run's "id": run_id names it.
	ID *struct{} `json:"id,omitempty"`
	pipeline.Progress
}

// runRows pairs runs with their percents.
func runRows(ctx context.Context, tr *pipeline.Tracker, runs []*pipeline.Run) ([]runRow, error) {
	p, err := tr.Progress(ctx, runs)
	if err != nil {
		return nil, err
	}
	rows := make([]runRow, len(runs))
	for i, r := range runs {
		rows[i] = runRow{RunID: r.ID, Run: r, Progress: p[r.ID]}
	}
	return rows, nil
}

// percent shows a percent in a table; --json says where it comes from
// (percent_source).
func percent(p float64, _ string) string {
	return fmt.Sprintf("%.0f%%", p)
}

func printRuns(w io.Writer, rows []runRow, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN_ID\tSTAGE\tTASK\tSTATUS\tPROGRESS\tSTARTED\tELAPSED\tHOST\tMESSAGE")
	for _, row := range rows {
		r := row.Run
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Stage, r.Task, r.Status, percent(row.Percent, row.Source),
			clock(r.StartedAt), elapsed(r.StartedAt, r.EndedAt, now), str(r.Hostname), truncate(runMessage(r), 40))
	}
	return tw.Flush()
}

func newActiveCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "active",
		Short: "List the runs that are STARTED or RUNNING",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			tr, err := app.Tracker(c.Context())
			if err != nil {
				return err
			}
			runs, err := tr.Active(c.Context())
			if err != nil {
				return err
			}
			rows, err := runRows(c.Context(), tr, runs)
			if err != nil {
				return err
			}
			return app.Print(rows, func(w io.Writer) error { return printRuns(w, rows, app.clockNow()()) })
		},
	}
}

func newHistoryCmd(app *App) *cobra.Command {
	var q pipeline.HistoryQuery
	c := &cobra.Command{
		Use:   "history",
		Short: "List runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if q.Limit < 1 || q.Limit > pipeline.MaxHistoryLimit { // 0 would mean the default to the SDK
				return &tasktype.FieldError{Field: "--limit", Rule: "between", Value: fmt.Sprint(q.Limit),
					Message: fmt.Sprintf("must be between 1 and %d, not %d", pipeline.MaxHistoryLimit, q.Limit)}
			}
			tr, err := app.Tracker(c.Context())
			if err != nil {
				return err
			}
			if q.Stage != "" {
				if err := tr.CheckStage(c.Context(), q.Stage); err != nil {
					return err
				}
			}
			if q.Task != "" {
				if err := tr.CheckTask(c.Context(), q.Stage, q.Task); err != nil {
					return err
				}
			}
			runs, err := tr.History(c.Context(), q)
			if err != nil {
				return err
			}
			rows, err := runRows(c.Context(), tr, runs)
			if err != nil {
				return err
			}
			return app.Print(rows, func(w io.Writer) error { return printRuns(w, rows, app.clockNow()()) })
		},
	}
	c.Flags().StringVar(&q.Stage, "stage", "", "only this stage")
	c.Flags().StringVar(&q.Task, "task", "", "only this task")
	c.Flags().IntVar(&q.Limit, "limit", pipeline.DefaultHistoryLimit, fmt.Sprintf("at most this many runs (1 to %d)", pipeline.MaxHistoryLimit))
	return c
}

func printSubtasks(w io.Writer, subs []*pipeline.Subtask, est *pipeline.RunEstimate, width int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "N\tSUBTASK\tSTATUS\tPROGRESS\t\tITEMS\tRATE\tETA\tMESSAGE")
	for i, s := range subs {
		e := pipeline.EstimateSubtask(s, time.Now())
		if est != nil && i < len(est.Subtasks) {
			e = est.Subtasks[i].Estimate
		}
		items := fmt.Sprint(s.ItemsComplete)
		if s.ItemsTotal != nil {
			items += fmt.Sprintf("/%d", *s.ItemsTotal)
		}
		rate, when := "-", "-"
		if e.Rate > 0 {
			rate = fmt.Sprintf("%.1f/s", e.Rate)
		}
		if e.Known && !s.Status.IsTerminal() {
			when = eta(e)
		}
		msg := str(s.Message)
		if s.ErrorMessage != nil {
			msg = *s.ErrorMessage
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%5.1f%%\t%s\t%s\t%s\t%s\n", s.SubtaskNumber, truncate(s.Name, 30), s.Status,
			bar(s.Percent, width), s.Percent, items, rate, when, truncate(msg, 40))
	}
	return tw.Flush()
}

// eta shows an estimate: "2m30s (1m50s–4m10s)", the upper bound "?" when
// unbounded.
func eta(e pipeline.Estimate) string {
	low, high, bounded := e.Range()
	hi := "?"
	if bounded {
		hi = duration(high)
	}
	return fmt.Sprintf("%s (%s–%s)", duration(e.Remaining()), duration(low), hi)
}

func newConfigCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Show the database taskmodel would use and where each setting came from",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			out := struct {
				Database config.Database   `json:"database"`
				File     string            `json:"file"`
				Sources  map[string]string `json:"sources"`
				Tasker   bool              `json:"tasker"`
			}{cfg.Database, cfg.File, cfg.Sources, cfg.Tasker}
			return app.Print(out, func(w io.Writer) error {
				fmt.Fprintf(w, "database: %s\n", cfg.Database)
				if cfg.File != "" {
					fmt.Fprintf(w, "file:     %s\n", cfg.File)
				}
				if cfg.Tasker {
					fmt.Fprintln(w, "(tasker's configuration: no "+config.FileName+" and no TASKMODEL_* variables)")
				}
				for _, k := range []string{"url", "driver", "host", "port", "name", "user", "password", "schema"} {
					if s, ok := cfg.Sources[k]; ok {
						fmt.Fprintf(w, "  %-9s from %s\n", k, s)
					}
				}
				return nil
			})
		},
	}
}
