package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/sdk/pipeline/regfile"
)

// taskFlags are pipeline register's flags for one task: the fields of a
// registration file's task entry, named as run start names them.
type taskFlags struct {
	stage, name, typ, description                    string
	order                                            int64
	scriptPath, scriptFilename, logPath, logFilename string
}

// taskFlagNames are the flags that register one task, without a file.
var taskFlagNames = []string{"stage", "name", "type", "order", "description",
	"script-path", "script", "script-filename", "log-path", "log", "log-filename"}

func (f *taskFlags) add(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.stage, "stage", "", "register one task: its stage (registered with it if new)")
	fl.StringVar(&f.name, "name", "", "register one task: its name")
	fl.StringVar(&f.typ, "type", "", "how the task runs: R, sh or python")
	fl.Int64Var(&f.order, "order", 0, "position of the task in its stage (default: after the last; kept when registered again)")
	fl.StringVar(&f.description, "description", "", "description of the stage")
	fl.StringVar(&f.scriptPath, "script-path", "", "script directory")
	fl.StringVar(&f.scriptFilename, "script", "", "script file name")
	fl.StringVar(&f.logPath, "log-path", "", "log directory")
	fl.StringVar(&f.logFilename, "log", "", "log file name")
	// The registration file's and tasker's names for the same two fields.
	fl.StringVar(&f.scriptFilename, "script-filename", "", "same as --script")
	fl.StringVar(&f.logFilename, "log-filename", "", "same as --log")
}

// given reports whether any of the one-task flags was given.
func (f *taskFlags) given(c *cobra.Command) bool {
	for _, n := range taskFlagNames {
		if c.Flags().Changed(n) {
			return true
		}
	}
	return false
}

// task returns the task the flags describe, and its stage when
// --description describes it.
func (f *taskFlags) task(c *cobra.Command) ([]pipeline.Stage, pipeline.Task, error) {
	for _, req := range []struct{ flag, v string }{{"stage", f.stage}, {"name", f.name}} {
		if strings.TrimSpace(req.v) == "" {
			return nil, pipeline.Task{}, usagef(fmt.Errorf("--%s is required to register a task from flags (or give a FILE)", req.flag))
		}
		// Refused, not trimmed: run start takes the name as typed (see
		// pipeline.ValidateName).
		if fe := pipeline.ValidateName("--"+req.flag, req.v); fe != nil {
			return nil, pipeline.Task{}, fe
		}
	}
	if f.order < 0 {
		return nil, pipeline.Task{}, usagef(fmt.Errorf("--order %d: must be 0 (after the last) or a positive position", f.order))
	}
	t := pipeline.Task{Stage: f.stage, Name: f.name, Order: f.order,
		ScriptPath: changedString(c, "script-path", f.scriptPath), LogPath: changedString(c, "log-path", f.logPath)}
	if c.Flags().Changed("script") || c.Flags().Changed("script-filename") {
		t.ScriptFilename = &f.scriptFilename
	}
	if c.Flags().Changed("log") || c.Flags().Changed("log-filename") {
		t.LogFilename = &f.logFilename
	}
	if c.Flags().Changed("type") {
		k, ok := taskKind(f.typ)
		if !ok {
			return nil, pipeline.Task{}, usagef(fmt.Errorf("--type %q: allowed: R, sh, python", f.typ))
		}
		t.Type = &k
	}
	var stages []pipeline.Stage
	if c.Flags().Changed("description") {
		stages = []pipeline.Stage{{Name: t.Stage, Description: &f.description}}
	}
	return stages, t, nil
}

// taskKind reads a task type, in any case: R, sh or python.
func taskKind(s string) (pipelinerun.TaskKind, bool) {
	for _, k := range []pipelinerun.TaskKind{pipelinerun.TaskKindR, pipelinerun.TaskKindSh, pipelinerun.TaskKindPython} {
		if strings.EqualFold(strings.TrimSpace(s), string(k)) {
			return k, true
		}
	}
	return "", false
}

func newPipelineCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "pipeline", Short: "Register and list a pipeline's stages and tasks"}
	var (
		format string
		one    taskFlags
	)
	register := &cobra.Command{
		Use:   "register [FILE | --stage S --name N [--type T] …]",
		Short: "Register stages and tasks from a YAML or CSV file (- for standard input), or one task from flags",
		Long: `Register the stages and tasks a file lists, in order, in one transaction, or
one task from flags (as tasker's register_task):
  taskmodel pipeline register --stage STATIC --name "Build Database" --type R \
    --script-path /srv/scripts --script build_db.R --log-path /srv/logs --log build_db.log
Registering is idempotent: run it at the top of every pipeline.

YAML:
  stages:
    - name: PREREQ
      tasks:
        - {name: Install R, type: sh}
  tasks:
    - {stage: STATIC, name: Build Database, type: R}

CSV (header row; stage and name required):
  stage,name,type,order,description,script_path,script_filename,log_path,log_filename`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if one.given(c) {
				if len(args) > 0 {
					return usagef(fmt.Errorf("give a FILE or --stage and --name, not both"))
				}
				stages, task, err := one.task(c)
				if err != nil {
					return err
				}
				tr, err := app.Tracker(c.Context())
				if err != nil {
					return err
				}
				if err := tr.Register(c.Context(), stages, []pipeline.Task{task}); err != nil {
					return err
				}
				return app.Print(map[string]int{"stages": len(stages), "tasks": 1}, nil)
			}
			if len(args) == 0 {
				return usagef(fmt.Errorf("give a registration FILE (- for standard input), or --stage and --name for one task"))
			}
			name := args[0]
			f := format
			if f == "" {
				f = regfile.FormatOf(name)
			}
			if f == "" {
				return usagef(fmt.Errorf("cannot tell the format of %q: name it .yml, .yaml or .csv, or give --format", name))
			}
			var r io.Reader = app.In
			if name != "-" {
				file, err := os.Open(name)
				if errors.Is(err, fs.ErrNotExist) {
					return usagef(fmt.Errorf("registration file %s: no such file", name))
				}
				if err != nil {
					return fmt.Errorf("registration file %s: %w", name, errors.Unwrap(err))
				}
				defer file.Close()
				r = file
			}
			parsed, err := regfile.Parse(name, f, r)
			if err != nil {
				return err
			}
			tr, err := app.Tracker(c.Context())
			if err != nil {
				return err
			}
			if err := tr.Register(c.Context(), parsed.Stages, parsed.Tasks); err != nil {
				return err
			}
			return app.Print(map[string]int{"stages": len(parsed.Stages), "tasks": len(parsed.Tasks)}, nil)
		},
	}
	register.Flags().StringVar(&format, "format", "", "yaml or csv (default: from the file name)")
	one.add(register)

	tasks := &cobra.Command{
		Use:   "tasks [STAGE]",
		Short: "List the registered tasks, of one stage or all, in order",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			tr, err := app.Tracker(c.Context())
			if err != nil {
				return err
			}
			stage := optionalArg(args, 0)
			if stage != "" {
				// An unknown stage is not found, as for status and history,
				// not an empty list.
				if err := tr.CheckStage(c.Context(), stage); err != nil {
					return err
				}
			}
			list, err := tr.Tasks(c.Context(), stage)
			if err != nil {
				return err
			}
			return app.Print(list, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STAGE\tORDER\tTASK\tTYPE\tSCRIPT\tLOG")
				for _, t := range list {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", t.Stage, t.Order, t.Name, str(t.Type), joinPath(t.ScriptPath, t.ScriptFilename), joinPath(t.LogPath, t.LogFilename))
				}
				return tw.Flush()
			})
		},
	}
	cmd.AddCommand(register, tasks)
	return cmd
}
