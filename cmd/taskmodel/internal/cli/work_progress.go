package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/sdk/workerhttp"
	"github.com/taskmodel/taskmodel/tasktype"
)

func newProgressCmd(app *App) *cobra.Command {
	var detail string
	var retryFor time.Duration
	cmd := &cobra.Command{
		Use:   "progress PERCENT [--detail JSON] [--retry-for DURATION]",
		Short: "Report a task's progress from inside a command that taskmodel work runs",
		Long: `progress reports how much of the current task's work is done (PERCENT, 0 to
100) and, with --detail, the task's progress detail (a JSON object of the
model's progress_detail type). It runs inside a command of taskmodel work,
whose environment names the server, the token, the task and its lease
(TASKMODEL_URL, TASKMODEL_TOKEN, TASKMODEL_TASK_ID, TASKMODEL_LEASE); it
renews the lease too. A model whose running status maps no progress keeps
no percent: the report then only renews the lease, and says so. Exit status
6 when the task was cancelled or its lease lost: the command should stop.

A report the server cannot take now (no answer, as while it restarts, or a
5xx) is sent again for up to --retry-for, then dropped with a warning and
exit status 0: progress is advisory, the work goes on, the next report
carries the newer percent, and taskmodel work renews the lease meanwhile.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pct, err := strconv.ParseFloat(strings.TrimSuffix(args[0], "%"), 64)
			if err != nil || math.IsNaN(pct) || pct < 0 || pct > 100 {
				return usagef(fmt.Errorf("progress: PERCENT must be a number from 0 to 100, not %q", args[0]))
			}
			var raw json.RawMessage
			if c.Flags().Changed("detail") {
				if !json.Valid([]byte(detail)) || !strings.HasPrefix(strings.TrimSpace(detail), "{") {
					return usagef(errors.New("progress: --detail must be a JSON object, such as '{\"current_stage\": \"load\"}'"))
				}
				raw = json.RawMessage(detail)
			}
			if retryFor < 0 {
				return usagef(fmt.Errorf("progress: --retry-for must be 0 or more, not %s", retryFor))
			}
			env := map[string]string{}
			for _, k := range []string{EnvURL, EnvToken, EnvTaskID, EnvLease} {
				if env[k] = os.Getenv(k); env[k] == "" {
					return usagef(fmt.Errorf("progress runs inside a command of taskmodel work: %s is not set", k))
				}
			}
			client, err := workerhttp.New(env[EnvURL], env[EnvToken])
			if err != nil {
				return usagef(fmt.Errorf("progress: %w", err))
			}
			st, err := progressReport(c.Context(), retryFor, func(ctx context.Context) (workerhttp.LeaseState, error) {
				return client.Progress(ctx, env[EnvTaskID], env[EnvLease], pct, raw)
			})
			var dropped droppedError
			if errors.As(err, &dropped) {
				if !app.Quiet {
					fmt.Fprintf(app.Err, "taskmodel progress: warning: the report was dropped: %v; the work goes on\n", dropped.err)
				}
				return nil
			}
			if workerhttp.IsLeaseLost(err) {
				return conflictf("progress: the lease no longer holds task %s (it expired, another worker took it over, or the task ended); stop", env[EnvTaskID])
			}
			if err != nil {
				return fmt.Errorf("progress: %w", err)
			}
			if st.Cancelled {
				return conflictf("progress: task %s was cancelled; stop", env[EnvTaskID])
			}
			if st.Recorded != nil && !*st.Recorded && !app.Quiet {
				fmt.Fprintf(app.Err, "taskmodel progress: the task's status maps no progress in its model: the lease was renewed, no percent was kept\n")
			}
			return app.Print(st, nil)
		},
	}
	cmd.Flags().StringVar(&detail, "detail", "", "the task's progress detail, a JSON object")
	cmd.Flags().DurationVar(&retryFor, "retry-for", 5*time.Second, "how long a report the server cannot take now (no answer, or a 5xx) is sent again before it is dropped (0: dropped at once)")
	return cmd
}

// progressTry bounds one try of a progress report.
const progressTry = 10 * time.Second

// droppedError is a progress report given up after retrying: err is the
// last try's.
type droppedError struct{ err error }

func (e droppedError) Error() string { return "dropped: " + e.err.Error() }

// progressReport sends a progress report (send), again with backoff
// (250 ms, doubling up to 5 s) while retryable says it may succeed, for
// up to retryFor; then it returns a droppedError.
func progressReport(ctx context.Context, retryFor time.Duration, send func(context.Context) (workerhttp.LeaseState, error)) (workerhttp.LeaseState, error) {
	until := time.Now().Add(retryFor)
	wait := 250 * time.Millisecond
	for {
		tctx, cancel := context.WithTimeout(ctx, progressTry)
		st, err := send(tctx)
		cancel()
		if !retryable(err) || ctx.Err() != nil {
			return st, err
		}
		left := time.Until(until)
		if left <= 0 {
			return st, droppedError{err}
		}
		select {
		case <-time.After(min(wait, left)):
		case <-ctx.Done():
			return st, err
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// conflictf is an error of exit status 6 (ExitConflict), with only its own
// text.
func conflictf(format string, args ...any) error {
	return conflictError{fmt.Sprintf(format, args...)}
}

type conflictError struct{ msg string }

func (e conflictError) Error() string { return e.msg }
func (e conflictError) Unwrap() error { return tasktype.ErrConflict }
