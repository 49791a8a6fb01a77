package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/sdk/workerhttp"
	"github.com/taskmodel/taskmodel/tasktype"
)

func newProgressCmd(app *App) *cobra.Command {
	var detail string
	cmd := &cobra.Command{
		Use:   "progress PERCENT [--detail JSON]",
		Short: "Report a task's progress from inside a command that taskmodel work runs",
		Long: `progress reports how much of the current task's work is done (PERCENT, 0 to
100) and, with --detail, the task's progress detail (a JSON object of the
model's progress_detail type). It runs inside a command of taskmodel work,
whose environment names the server, the token, the task and its lease
(TASKMODEL_URL, TASKMODEL_TOKEN, TASKMODEL_TASK_ID, TASKMODEL_LEASE); it
renews the lease too. A model whose running status maps no progress keeps
no percent: the report then only renews the lease, and says so. Exit status
6 when the task was cancelled or its lease lost: the command should stop.`,
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
			st, err := client.Progress(c.Context(), env[EnvTaskID], env[EnvLease], pct, raw)
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
	return cmd
}

// conflictf is an error of exit status 6 (ExitConflict), with only its own
// text.
func conflictf(format string, args ...any) error {
	return conflictError{fmt.Sprintf(format, args...)}
}

type conflictError struct{ msg string }

func (e conflictError) Error() string { return e.msg }
func (e conflictError) Unwrap() error { return tasktype.ErrConflict }
