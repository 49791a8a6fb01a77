package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/auth"
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
		return nil, err
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
	var admin bool
	create := &cobra.Command{
		Use:   "create --user NAME [--admin]",
		Short: "Create a token and print its secret (only the secret, on standard output)",
		Long: `Create a token for a user and print its secret on standard output, alone, so
that TOKEN=$(taskmodel token create --user ana) works. The secret is shown
only this once. NAME: 1 to 255 letters, digits and . _ @ -.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if !c.Flags().Changed("user") {
				return usagef(errors.New("token create: --user NAME is required"))
			}
			if err := auth.ValidateUser(user); err != nil {
				return err // before opening the database: exit 4 even without one
			}
			st, err := app.Tokens(c.Context())
			if err != nil {
				return err
			}
			secret, tok, err := st.Create(c.Context(), user, admin)
			if err != nil {
				return err
			}
			if !app.Quiet && !app.JSON {
				kind := "user"
				if admin {
					kind = "admin"
				}
				fmt.Fprintf(app.Err, "token %s created for %s %s; its secret (standard output) is not shown again\n", tok.ID, kind, tok.User)
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
	create.Flags().StringVar(&user, "user", "", "the user the token authenticates (required)")
	create.Flags().BoolVar(&admin, "admin", false, "an admin token: sees every user's tasks")

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
			return app.Print(toks, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSER\tADMIN\tCREATED\tLAST_USED\tREVOKED")
				for _, t := range toks {
					fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\n", t.ID, t.User, t.Admin, clock(&t.CreatedAt), clock(t.LastUsedAt), clock(t.RevokedAt))
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
			if err := st.Revoke(c.Context(), args[0]); err != nil {
				return err
			}
			return app.Print(map[string]any{"id": args[0], "revoked": true}, nil)
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
