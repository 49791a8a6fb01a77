package cli

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/sdk/pipeline/regfile"
)

func newPipelineCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "pipeline", Short: "Register and list a pipeline's stages and tasks"}
	var format string
	register := &cobra.Command{
		Use:   "register FILE",
		Short: "Register stages and tasks from a YAML or CSV file (- for standard input)",
		Long: `Register the stages and tasks a file lists, in order, in one transaction.
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
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
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
				if err != nil {
					return err
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

	tasks := &cobra.Command{
		Use:   "tasks [STAGE]",
		Short: "List the registered tasks, of one stage or all, in order",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			tr, err := app.Tracker(c.Context())
			if err != nil {
				return err
			}
			list, err := tr.Tasks(c.Context(), optionalArg(args, 0))
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
