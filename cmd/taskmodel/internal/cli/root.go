package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/auth"
	"github.com/taskmodel/taskmodel/config"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/tasktype"
)

// IO is where a command reads and writes.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// App is the state the commands share: streams, global flags, and the
// tracker, opened on first use.
type App struct {
	IO
	// JSON is --json: results and errors as JSON.
	JSON bool
	// Quiet is -q: no tracking lines on standard error.
	Quiet bool

	// args are the command line's arguments, for the messages that
	// suggest a corrected command.
	args       []string
	configFile string
	db         config.Database
	flagNames  map[string]string
	// databaseURL is --database-url, the long name of --db-url.
	databaseURL string
	now         func() time.Time
	tracker     *pipeline.Tracker
	noted       bool // the configuration's notes were printed

	tokens      auth.Store
	closeTokens func() error

	// migrations replaces, in tests, the migrations of the migrate
	// commands (serveMigrations).
	migrations func(engine string) []tasktype.Migration
}

// commands lists the command groups; add a group here.
var commands = []func(*App) *cobra.Command{
	newPipelineCmd,
	newRunCmd,
	newSubtaskCmd,
	newStatusCmd,
	newActiveCmd,
	newHistoryCmd,
	newWatchCmd,
	newConfigCmd,
	newServeCmd,
	newTokenCmd,
	newMigrateCmd,
	newWorkCmd,
	newProgressCmd,
	newTasksCmd,
}

// NewRoot returns the root command over app.
func NewRoot(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:   "taskmodel",
		Short: "Task lifecycles and pipeline tracking",
		Long: `taskmodel tracks pipeline runs for scripts in any language: register stages
and tasks, record runs and subtasks with progress, and query or watch them.
It also runs the HTTP API over the task models (serve), manages the API's
bearer tokens (token), lists, shows and cancels the API's tasks through a
running server (tasks), and shows, previews and applies the database schema
changes the API needs (migrate).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(app.In)
	root.SetOut(app.Out)
	root.SetErr(app.Err)
	pf := root.PersistentFlags()
	pf.BoolVar(&app.JSON, "json", false, "print results (and errors) as JSON")
	pf.BoolVarP(&app.Quiet, "quiet", "q", false, "do not print tracking lines or notes on standard error")
	pf.StringVar(&app.configFile, "config", "", "configuration file (default: the nearest "+config.FileName+" up from the working directory; without one, and without TASKMODEL_* variables, a "+config.TaskerFileName+", the file of tasker, the R pipeline tracker)")
	pf.StringVar(&app.db.URL, "db-url", "", "database URL: postgres://…, mysql://… or sqlite:PATH (overrides "+config.EnvURL+")")
	pf.StringVar(&app.databaseURL, "database-url", "", "the same as --db-url")
	pf.StringVar(&app.db.Driver, "db-driver", "", "database driver: postgresql, mysql (MySQL or MariaDB) or sqlite")
	pf.StringVar(&app.db.Host, "db-host", "", "database server host (PostgreSQL, MySQL)")
	pf.IntVar(&app.db.Port, "db-port", 0, "database server port (PostgreSQL, MySQL)")
	pf.StringVar(&app.db.Name, "db-name", "", "database name, or the SQLite file")
	pf.StringVar(&app.db.User, "db-user", "", "database server user (PostgreSQL, MySQL)")
	pf.StringVar(&app.db.Password, "db-password", "", "database server password (prefer "+config.EnvPassword+")")
	pf.StringVar(&app.db.Schema, "db-schema", "", "PostgreSQL schema")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return flagError(c, err, app.args) })
	for _, c := range commands {
		root.AddCommand(c(app))
	}
	refuseUnknownSubcommands(root)
	explainArgs(root)
	return root
}

// refuseUnknownSubcommands makes a command that only groups others (token,
// migrate, …) refuse an unknown subcommand with a usage error; cobra would
// print the help and exit 0.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if c.HasParent() && c.HasSubCommands() && !c.Runnable() {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef(fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath()))
			}
			return nil
		}
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
}

// Config resolves the configuration from the global flags, the environment
// and the configuration file (see package config).
// Its notes (a configuration read from tasker's) go to standard error once,
// unless -q.
func (a *App) Config() (*config.Config, error) {
	if a.databaseURL != "" {
		if a.db.URL != "" && a.db.URL != a.databaseURL {
			return nil, usagef(errors.New("--database-url and --db-url name different databases: give one of them"))
		}
		a.db.URL = a.databaseURL
		a.flagNames = map[string]string{"url": "--database-url"}
	}
	cfg, err := config.Load(config.Options{Flags: a.db, FlagNames: a.flagNames, File: a.configFile})
	if err != nil {
		return nil, err
	}
	if !a.noted && !a.Quiet {
		for _, n := range cfg.Notes {
			fmt.Fprintln(a.Err, "taskmodel: note: "+n)
		}
	}
	a.noted = true
	return cfg, nil
}

// Tracker opens the configured database on first use.
func (a *App) Tracker(ctx context.Context) (*pipeline.Tracker, error) {
	if a.tracker != nil {
		return a.tracker, nil
	}
	cfg, err := a.Config()
	if err != nil {
		return nil, err
	}
	logger := slog.New(lineHandler{w: a.Err, quiet: a.Quiet})
	opts := []pipeline.Option{pipeline.WithLogger(logger), pipeline.WithActor("cli")}
	if a.now != nil {
		opts = append(opts, pipeline.WithClock(a.now))
	}
	tr, err := pipeline.Open(ctx, cfg.Database, opts...)
	if err != nil {
		return nil, tidyDatabaseErr(cfg.Database, err)
	}
	a.tracker = tr
	return tr, nil
}

// Close closes the tracker and the token store if they were opened.
func (a *App) Close() {
	if a.tracker != nil {
		a.tracker.Close()
	}
	if a.closeTokens != nil {
		a.closeTokens()
	}
}

// Print writes a result: JSON with --json, else text from human.
func (a *App) Print(v any, human func(w io.Writer) error) error {
	if a.JSON {
		enc := json.NewEncoder(a.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	if human == nil {
		return nil
	}
	return human(a.Out)
}

// Main runs the command line args and returns the exit code.
func Main(ctx context.Context, args []string, streams IO) int {
	return (&App{IO: streams}).main(ctx, args)
}

// main runs the command line args on app and returns the exit code.
func (app *App) main(ctx context.Context, args []string) int {
	defer app.Close()
	root := NewRoot(app)
	app.args = args
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	err = withArgNames(cmd, err)
	code, kind := classify(err)
	if app.JSON || wantsJSON(args) { // cobra may fail before it parses --json

		b, _ := json.Marshal(map[string]any{"error": err.Error(), "code": kind, "exit": code})
		fmt.Fprintln(app.Err, string(b))
	} else {
		fmt.Fprintln(app.Err, "taskmodel: "+err.Error())
		var u usageError
		if errors.As(err, &u) {
			path := root.CommandPath()
			if cmd != nil {
				path = cmd.CommandPath()
			}
			fmt.Fprintf(app.Err, "Run '%s --help' for usage.\n", path)
		}
	}
	return code
}

// wantsJSON reports whether --json is among the flags of args.
func wantsJSON(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--json", "--json=true":
			return true
		}
	}
	return false
}
