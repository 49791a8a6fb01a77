package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
)

func newSampleCmd(app *App) *cobra.Command {
	var (
		pid      int
		interval time.Duration
	)
	c := &cobra.Command{
		Use:   "sample RUN_ID [--pid PID] [--interval 10s]",
		Short: "Record a run's memory and CPU use every interval until it finishes",
		Long: `Record the memory (MB) and CPU (%) of a process and its descendants in the run
every --interval, until the run finishes or the process exits (a run still
unfinished then is said in a warning: nothing will finish it). A script starts
it in the background:
  taskmodel run sample "$RUN" --pid $$ --interval 10s &
--pid defaults to the caller of taskmodel.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := runID(args[0])
			if err != nil {
				return err
			}
			if interval < 100*time.Millisecond {
				return usagef(fmt.Errorf("--interval %s: must be at least 100ms", interval))
			}
			if pid == 0 {
				pid = os.Getppid()
			}
			tr, err := app.Tracker(c.Context())
			if err != nil {
				return err
			}
			if _, err := tr.Run(c.Context(), id); err != nil {
				return err
			}
			tick := time.NewTicker(interval)
			defer tick.Stop()
			if err := tr.NewSampler(id, pid, nil).Run(c.Context(), tick.C); err != nil || c.Context().Err() != nil {
				return err
			}
			// The process exited, or the run finished: a run still
			// unfinished has lost the script that tracked it.
			if r, err := tr.Run(c.Context(), id); err == nil && !r.Status.IsTerminal() {
				fmt.Fprintf(app.Err, "taskmodel run sample: warning: process %d exited, and run %s is still %s: nothing will finish it now; end it with taskmodel run fail %s MESSAGE (or run complete, run cancel)\n", pid, id, r.Status, id)
			}
			return nil
		},
	}
	c.Flags().IntVar(&pid, "pid", 0, "process to sample, with its descendants (default: the caller of taskmodel)")
	c.Flags().DurationVar(&interval, "interval", 10*time.Second, "time between samples")
	return c
}
