package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

// snapshot is one frame of watch: every task's status, and the active runs
// in detail.
type snapshot struct {
	At     time.Time             `json:"at"`
	Status []pipeline.TaskStatus `json:"status"`
	Active []runDetail           `json:"active"`
}

func takeSnapshot(ctx context.Context, tr *pipeline.Tracker, stage string, now time.Time) (*snapshot, error) {
	status, err := tr.Status(ctx, stage)
	if err != nil {
		return nil, err
	}
	active, err := tr.Active(ctx)
	if err != nil {
		return nil, err
	}
	s := &snapshot{At: now, Status: status, Active: []runDetail{}}
	for _, r := range active {
		if stage != "" && r.Stage != stage {
			continue
		}
		subs, err := tr.Subtasks(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		est := pipeline.EstimateRun(r, subs, now)
		s.Active = append(s.Active, runDetail{Run: r, Progress: pipeline.RunPercent(r, subs), Subtasks: subs, Estimate: &est})
	}
	return s, nil
}

// render draws a frame for a terminal width columns wide.
func render(s *snapshot, width int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "taskmodel watch  %s  (Ctrl-C to quit)\n\n", s.At.Local().Format("2006-01-02 15:04:05"))
	barWidth := max(10, min(40, width-70))
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tTASK\tSTATUS\tPROGRESS\t\tELAPSED\tMESSAGE")
	for _, t := range s.Status {
		if t.Run == nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\t-\t-\n", t.Stage, t.Task, t.Status, bar(0, barWidth))
			continue
		}
		r := t.Run
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%4s\t%s\t%s\n", t.Stage, truncate(t.Task, 30), t.Status, bar(t.Percent, barWidth),
			percent(t.Percent, t.PercentSource), elapsed(r.StartedAt, r.EndedAt, s.At), truncate(runMessage(r), 30))
	}
	tw.Flush()
	for _, d := range s.Active {
		r := d.Run
		fmt.Fprintf(&b, "\n%s / %s  %s %s  run %s  elapsed %s", r.Stage, r.Task, r.Status, percentDetail(d.Progress), r.ID, elapsed(r.StartedAt, r.EndedAt, s.At))
		if r.MemoryMB != nil || r.CPUPercent != nil {
			b.WriteString(resources(r.MemoryMB, r.CPUPercent, "  mem %s MB  cpu %s%%"))
		}
		if d.Estimate != nil && d.Estimate.Known {
			fmt.Fprintf(&b, "  ETA %s", eta(d.Estimate.Estimate))
		}
		b.WriteString("\n")
		if len(d.Subtasks) > 0 {
			printSubtasks(&b, d.Subtasks, d.Estimate, barWidth)
		}
	}
	return b.String()
}

func newWatchCmd(app *App) *cobra.Command {
	var (
		interval time.Duration
		once     bool
		stage    string
	)
	c := &cobra.Command{
		Use:   "watch",
		Short: "Live view of the pipeline: progress bars and ETAs, redrawn in place",
		Long: `Live view of the pipeline: every task's status, and the active runs' subtasks
with progress bars, items per second and ETA, redrawn in place every --interval.
With --once, or when standard output is not a terminal, it prints frames one
after another; with --json, one JSON object per frame.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if interval < 100*time.Millisecond {
				return usagef(fmt.Errorf("--interval %s: must be at least 100ms", interval))
			}
			tr, err := app.Tracker(c.Context())
			if err != nil {
				return err
			}
			if stage != "" {
				// As status: an unknown stage is a mistake, not an empty table.
				if err := tr.CheckStage(c.Context(), stage); err != nil {
					return err
				}
			}
			fd, isTTY := terminal(app.Out)
			live := isTTY && !once && !app.JSON
			if live {
				fmt.Fprint(app.Out, "\x1b[?25l\x1b[2J") // hide the cursor, clear the screen
				defer fmt.Fprint(app.Out, "\x1b[?25h\n")
			}
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				s, err := takeSnapshot(c.Context(), tr, stage, app.clockNow()())
				if err != nil {
					return err
				}
				if err := draw(app, s, fd, live); err != nil {
					return err
				}
				if once {
					return nil
				}
				select {
				case <-c.Context().Done():
					return nil
				case <-tick.C:
				}
			}
		},
	}
	c.Flags().DurationVar(&interval, "interval", 2*time.Second, "time between redraws")
	c.Flags().BoolVar(&once, "once", false, "draw one frame and exit")
	c.Flags().StringVar(&stage, "stage", "", "only this stage")
	return c
}

func draw(app *App, s *snapshot, fd int, live bool) error {
	if app.JSON {
		return app.Print(s, nil)
	}
	width := 120
	if fd >= 0 {
		if w, _, err := term.GetSize(fd); err == nil && w > 0 {
			width = w
		}
	}
	frame := render(s, width)
	if !live {
		_, err := fmt.Fprintln(app.Out, frame)
		return err
	}
	// Home the cursor and overwrite line by line, clearing each line's rest
	// and everything below: no flicker from clearing the whole screen.
	out := "\x1b[H" + strings.ReplaceAll(frame, "\n", "\x1b[K\n") + "\x1b[J"
	_, err := io.WriteString(app.Out, out)
	return err
}

// terminal returns w's file descriptor and whether it is a terminal.
func terminal(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return -1, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}
