package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

func newRunCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "run", Short: "Start, update and finish runs of registered tasks"}
	cmd.AddCommand(newRunStartCmd(app), newRunUpdateCmd(app), newRunShowCmd(app), newSampleCmd(app),
		newRunCompleteCmd(app),
		runFinishCmd(app, "skip RUN_ID [MESSAGE]", "Mark a started run as skipped (it found nothing to do)", cobra.RangeArgs(1, 2),
			func(c *cobra.Command, tr *pipeline.Tracker, id uuid.UUID, args []string) (*pipeline.Run, error) {
				return tr.Skip(c.Context(), id, optionalArg(args, 1))
			}),
		runFinishCmd(app, "cancel RUN_ID [MESSAGE]", "Cancel a run and its unfinished subtasks", cobra.RangeArgs(1, 2),
			func(c *cobra.Command, tr *pipeline.Tracker, id uuid.UUID, args []string) (*pipeline.Run, error) {
				return tr.Cancel(c.Context(), id, optionalArg(args, 1))
			}),
		newRunFailCmd(app),
	)
	return cmd
}

func newRunStartCmd(app *App) *cobra.Command {
	var (
		o    pipeline.StartOptions
		pid  int
		env  []string
		skip bool
	)
	c := &cobra.Command{
		Use:   "start STAGE TASK",
		Short: "Start a run of a registered task and print its run id",
		Long: `Start a run of a registered task and print its run id, and nothing else, so that
  RUN=$(taskmodel run start STATIC "Build Database" --subtasks 3)
works. The run records this host, the user, the calling script's PID (the
parent of taskmodel; --pid to name another) and its parent's, the git commit of
the working directory's work tree, and the task's registered paths.
With --skip the task is recorded as skipped without being started.`,
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			if pid == 0 {
				pid = os.Getppid()
			}
			p := pipeline.ProcessOf(pid)
			o.Process = &p
			if len(env) > 0 {
				o.Environment = map[string]string{}
				for _, kv := range env {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return usagef(fmt.Errorf("--env %q: want KEY=VALUE", kv))
					}
					o.Environment[k] = v
				}
			}
			tr, err := app.Tracker(c.Context())
			if err != nil {
				return err
			}
			start := tr.Start
			if skip {
				start = tr.SkipTask
			}
			r, err := start(c.Context(), args[0], args[1], o)
			if err != nil {
				return err
			}
			return app.Print(r, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, r.ID)
				return err
			})
		},
	}
	f := c.Flags()
	f.Int64Var(&o.Subtasks, "subtasks", 0, "number of subtasks the run will have")
	f.StringVar(&o.CodeVersion, "code-version", "", "version of the code being run")
	f.StringVar(&o.GitCommit, "git-commit", "", "git commit (default: the working directory's work tree)")
	f.StringArrayVar(&env, "env", nil, "environment metadata KEY=VALUE (repeatable), e.g. --env env=production")
	f.StringVar(&o.ScriptPath, "script-path", "", "script directory (default: the registration's)")
	f.StringVar(&o.ScriptFilename, "script", "", "script file name (default: the registration's)")
	f.StringVar(&o.LogPath, "log-path", "", "log directory (default: the registration's)")
	f.StringVar(&o.LogFilename, "log", "", "log file name (default: the registration's)")
	f.StringVar(&o.Message, "message", "", "first status message")
	f.IntVar(&pid, "pid", 0, "PID of the process running the task (default: the caller of taskmodel)")
	f.BoolVar(&skip, "skip", false, "record the task as skipped, not started")
	return c
}

// runStatuses are the statuses run update takes: RUNNING reports progress,
// the others finish the run as run complete, fail, skip and cancel do.
var runStatuses = []string{"RUNNING", "COMPLETED", "FAILED", "SKIPPED", "CANCELLED"}

func newRunUpdateCmd(app *App) *cobra.Command {
	var (
		percent float64
		message string
		status  string
	)
	c := runFinishCmd(app, "update RUN_ID [STATUS] [--percent P] [--message M]",
		"Report a run's progress (the first update makes it RUNNING), or finish it with a status", cobra.RangeArgs(1, 2),
		func(c *cobra.Command, tr *pipeline.Tracker, id uuid.UUID, args []string) (*pipeline.Run, error) {
			st, err := statusArg(c, args, 1, status, runStatuses, " (run start starts a run)")
			if err != nil {
				return nil, err
			}
			if st != "" && st != "RUNNING" {
				if err := onlyWith(c, st, "", "percent"); err != nil {
					return nil, err
				}
			}
			ctx := c.Context()
			switch st {
			case "COMPLETED":
				r, err := tr.Complete(ctx, id, message)
				return r, completeHint(err)
			case "FAILED":
				if message == "" {
					return nil, usagef(fmt.Errorf("status FAILED needs --message, the error message"))
				}
				return tr.Fail(ctx, id, message, "")
			case "SKIPPED":
				return tr.Skip(ctx, id, message)
			case "CANCELLED":
				return tr.Cancel(ctx, id, message)
			}
			return tr.Update(ctx, id, pipeline.RunUpdate{
				Percent: changedFloat(c, "percent", percent), Message: changedString(c, "message", message)})
		})
	c.Long = `Report a run's progress: the first update makes it RUNNING. A status, as the
second argument or with --status, may also finish the run, as in tasker's
task_update(run_id, "COMPLETED"):
  RUNNING     report progress (the default)
  COMPLETED   as run complete (--message is the message)
  FAILED      as run fail (--message, required, is the error message)
  SKIPPED     as run skip
  CANCELLED   as run cancel
--percent goes with RUNNING only.`
	c.Flags().Float64Var(&percent, "percent", 0, "overall percent complete, 0 to 100")
	c.Flags().StringVar(&message, "message", "", "status message")
	c.Flags().StringVar(&status, "status", "", "RUNNING, COMPLETED, FAILED, SKIPPED or CANCELLED (or as the second argument)")
	return c
}

func newRunCompleteCmd(app *App) *cobra.Command {
	var force bool
	c := runFinishCmd(app, "complete RUN_ID [MESSAGE] [--force]", "Finish a run successfully", cobra.RangeArgs(1, 2),
		func(c *cobra.Command, tr *pipeline.Tracker, id uuid.UUID, args []string) (*pipeline.Run, error) {
			r, err := tr.CompleteWith(c.Context(), id, optionalArg(args, 1), pipeline.CompleteOptions{Force: force})
			return r, completeHint(err)
		})
	c.Long = `Finish a run successfully (100%). It is refused while a subtask is STARTED or
RUNNING, or when fewer subtasks started than run start --subtasks declared;
the message names them. --force completes the run anyway: its unfinished
subtasks are cancelled, and the tracking line names them and the ones that
never started.`
	c.Flags().BoolVar(&force, "force", false, "complete although subtasks are unfinished or never started (cancels the unfinished ones)")
	return c
}

// completeHint adds to a refused completion how to force it.
func completeHint(err error) error {
	var u *pipeline.UnfinishedError
	if errors.As(err, &u) {
		return fmt.Errorf("%w; or force it: taskmodel run complete %s --force (cancels the unfinished subtasks)", err, u.Run)
	}
	return err
}

func newRunFailCmd(app *App) *cobra.Command {
	var detail string
	c := runFinishCmd(app, "fail RUN_ID MESSAGE [--detail D]", "Finish a run with an error; its unfinished subtasks fail too", cobra.ExactArgs(2),
		func(c *cobra.Command, tr *pipeline.Tracker, id uuid.UUID, args []string) (*pipeline.Run, error) {
			return tr.Fail(c.Context(), id, args[1], detail)
		})
	c.Flags().StringVar(&detail, "detail", "", "error detail (a traceback, say)")
	return c
}

// runFinishCmd is a command on one run (RUN_ID first) that prints the run
// it returns with --json.
func runFinishCmd(app *App, use, short string, args cobra.PositionalArgs,
	do func(*cobra.Command, *pipeline.Tracker, uuid.UUID, []string) (*pipeline.Run, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(c *cobra.Command, args []string) error {
			tr, id, err := app.runTracker(c.Context(), args[0])
			if err != nil {
				return err
			}
			r, err := do(c, tr, id, args)
			if err != nil {
				return err
			}
			return app.Print(r, nil)
		},
	}
}

// runDetail is what run show prints.
type runDetail struct {
	Run *pipeline.Run `json:"run"`
	// Progress is the run's percent as shown (see pipeline.RunPercent).
	pipeline.Progress

	Subtasks []*pipeline.Subtask   `json:"subtasks"`
	Estimate *pipeline.RunEstimate `json:"estimate"`
}

func newRunShowCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "show RUN_ID",
		Short: "Show a run, its subtasks' progress and its completion estimate",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			tr, id, err := app.runTracker(c.Context(), args[0])
			if err != nil {
				return err
			}
			r, err := tr.Run(c.Context(), id)
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
			d := runDetail{Run: r, Progress: pipeline.RunPercent(r, subs), Subtasks: subs, Estimate: est}
			return app.Print(d, func(w io.Writer) error { return printRun(w, d, app.clockNow()) })
		},
	}
}

// percentDetail shows a percent and, when derived, where it comes from.
func percentDetail(p pipeline.Progress) string {
	if p.Source == pipeline.PercentSubtasks {
		return fmt.Sprintf("%.1f%% (from the subtasks)", p.Percent)
	}
	return fmt.Sprintf("%.1f%%", p.Percent)
}

func printRun(w io.Writer, d runDetail, now timeNow) error {
	r := d.Run
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fields := [][2]string{
		{"run_id", r.ID.String()},
		{"task", r.Stage + " / " + r.Task},
		{"status", fmt.Sprintf("%s  %s", r.Status, percentDetail(d.Progress))},
		{"message", str(r.Message)},
		{"error", str(r.ErrorMessage)},
		{"started", clock(r.StartedAt)},
		{"ended", clock(r.EndedAt)},
		{"elapsed", elapsed(r.StartedAt, r.EndedAt, now())},
		{"process", fmt.Sprintf("%s pid %s (parent %s) user %s", str(r.Hostname), str(r.PID), str(r.PPID), str(r.UserName))},
		{"code", fmt.Sprintf("version %s, git %s", str(r.CodeVersion), str(r.GitCommit))},
		{"script", joinPath(r.ScriptPath, r.ScriptFilename)},
		{"log", joinPath(r.LogPath, r.LogFilename)},
		{"resources", resources(r.MemoryMB, r.CPUPercent, "memory %s MB, cpu %s%%")},
	}
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.Subtasks) > 0 {
		fmt.Fprintln(w)
		printSubtasks(w, d.Subtasks, d.Estimate, 30)
	}
	if d.Estimate != nil && d.Estimate.Known && !r.Status.IsTerminal() {
		fmt.Fprintf(w, "\nETA %s\n", eta(d.Estimate.Estimate))
	}
	return nil
}
