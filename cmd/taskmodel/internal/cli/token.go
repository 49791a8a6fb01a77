package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/auth"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/server"
)

// Tokens opens the configured database's token store on first use.
func (a *App) Tokens(ctx context.Context) (auth.Store, error) {
	if a.tokens != nil {
		return a.tokens, nil
	}
	cfg, err := a.Config()
	if err != nil {
		return nil, err
	}
	st, closer, err := auth.Open(ctx, cfg.Database)
	if err != nil {
		return nil, tidyDatabaseErr(cfg.Database, err)
	}
	a.tokens, a.closeTokens = st, closer
	return st, nil
}

func newTokenCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the bearer tokens of taskmodel serve",
		Long: `Bearer tokens authenticate requests to taskmodel serve. Every task belongs to
the user who created it; admins see all. Tokens are stored hashed: the secret
is printed once, by create, and never again.`,
	}
	var user string
	var admin, isWorker bool
	var models []string
	create := &cobra.Command{
		Use:   "create --user NAME [--admin] | --worker --models MODEL,... [--user NAME]",
		Short: "Create a token and print its secret (only the secret, on standard output)",
		Long: `Create a token for a user and print its secret on standard output, alone, so
that TOKEN=$(taskmodel token create --user ana) works. The secret is shown
only this once. NAME: 1 to 255 letters, digits and . _ @ -.

With --worker it creates a worker token instead: it may only claim and run
the tasks of the models named by --models over the worker protocol
(taskmodel work, POST /worker/claim), and use no other route. Its NAME
(default "worker") names it in token list.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if isWorker {
				if admin {
					return usagef(errors.New("token create: --admin and --worker exclude each other: a worker token sees no tasks but those it claims"))
				}
				if !c.Flags().Changed("user") {
					user = "worker"
				}
				if err := checkWorkerModels(models); err != nil {
					return err
				}
			} else {
				if c.Flags().Changed("models") {
					return usagef(errors.New("token create: --models needs --worker (a worker token's models)"))
				}
				if !c.Flags().Changed("user") {
					return usagef(errors.New("token create: --user NAME is required (or --worker --models MODEL,... for a worker token)"))
				}
			}
			if err := auth.ValidateUser(user); err != nil {
				return err // before opening the database: exit 4 even without one
			}
			st, err := app.Tokens(c.Context())
			if err != nil {
				return err
			}
			var secret string
			var tok auth.Token
			if isWorker {
				secret, tok, err = st.CreateWorker(c.Context(), user, models)
			} else {
				secret, tok, err = st.Create(c.Context(), user, admin)
			}
			if err != nil {
				return err
			}
			if !app.Quiet && !app.JSON {
				who := "user " + tok.User
				switch {
				case admin:
					who = "admin " + tok.User
				case isWorker:
					who = "worker " + tok.User + " (models " + strings.Join(models, ", ") + ")"
				}
				fmt.Fprintf(app.Err, "token %s created for %s; its secret (standard output) is not shown again\n", tok.ID, who)
			}
			out := struct {
				Secret string     `json:"secret"`
				Token  auth.Token `json:"token"`
			}{secret, tok}
			return app.Print(out, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, secret)
				return err
			})
		},
	}
	create.Flags().StringVar(&user, "user", "", "the user the token authenticates (required, but for a --worker token, whose user is \"worker\" by default)")
	create.Flags().BoolVar(&admin, "admin", false, "an admin token: sees every user's tasks")
	create.Flags().BoolVar(&isWorker, "worker", false, "a worker token: only claims and runs the tasks of --models")
	create.Flags().StringSliceVar(&models, "models", nil, "with --worker: the models whose tasks the token may run, comma-separated (models with a worker section)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens, revoked ones included (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			st, err := app.Tokens(c.Context())
			if err != nil {
				return err
			}
			toks, err := st.List(c.Context())
			if err != nil {
				return err
			}
			// --json: each token's fields, and its scope as the table says it.
			type listed struct {
				auth.Token
				Scope string `json:"scope"`
			}
			rows := make([]listed, len(toks))
			for i, t := range toks {
				rows[i] = listed{t, tokenScope(t)}
			}
			return app.Print(rows, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSER\tSCOPE\tCREATED\tLAST_USED\tREVOKED")
				for _, t := range toks {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, tokenScope(t), clock(&t.CreatedAt), clock(t.LastUsedAt), clock(t.RevokedAt))
				}
				return tw.Flush()
			})
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token (its ID from token list); requests with it fail from then on",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			st, err := app.Tokens(c.Context())
			if err != nil {
				return err
			}
			// A token revoked before stays as it was: say so, with when.
			var before *time.Time
			if toks, err := st.List(c.Context()); err == nil {
				for _, t := range toks {
					if t.ID == args[0] {
						before = t.RevokedAt
					}
				}
			}
			if err := st.Revoke(c.Context(), args[0]); err != nil {
				return err
			}
			out := map[string]any{"id": args[0], "revoked": true}
			if before != nil {
				out["revoked_at"], out["already"] = before.UTC(), true
			}
			return app.Print(out, func(w io.Writer) error {
				if before != nil {
					_, err := fmt.Fprintf(w, "token %s was revoked already, at %s; nothing changed\n", args[0], before.UTC().Format(time.RFC3339))
					return err
				}
				_, err := fmt.Fprintf(w, "token %s revoked: requests with it are refused from now on\n", args[0])
				return err
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// tokenScope is what token list shows of a token's reach: user, admin, or
// worker: MODEL,...
func tokenScope(t auth.Token) string {
	switch {
	case len(t.Models) > 0:
		return "worker: " + strings.Join(t.Models, ",")
	case t.Admin:
		return "admin"
	}
	return "user"
}

// workerModelNames lists the built-in models with a worker section, and
// all the built-in models.
func workerModelNames() (workers, all []string, err error) {
	ms, err := catalog.Serve(server.Memory())
	if err != nil {
		return nil, nil, err
	}
	return ms.WorkerModels(), ms.Names(), nil
}

// checkWorkerModels checks a worker token's --models: each a model with a
// worker section, none twice.
func checkWorkerModels(models []string) error {
	known, all, err := workerModelNames()
	if err != nil {
		return err
	}
	if len(models) == 0 {
		return usagef(fmt.Errorf("token create --worker: --models is required: the models the token may run, comma-separated, of %s", strings.Join(known, ", ")))
	}
	for i, m := range models {
		if slices.Contains(all, m) && !slices.Contains(known, m) {
			return usagef(fmt.Errorf("token create --worker: --models: model %q has no worker section (no worker claims its tasks); models with one: %s", m, strings.Join(known, ", ")))
		}
		if !slices.Contains(known, m) {
			return usagef(fmt.Errorf("token create --worker: --models: unknown model %q; models with a worker section: %s", m, strings.Join(known, ", ")))
		}
		if slices.Index(models, m) < i {
			return usagef(fmt.Errorf("token create --worker: --models names %q twice", m))
		}
	}
	return auth.ValidateModels(models)
}
