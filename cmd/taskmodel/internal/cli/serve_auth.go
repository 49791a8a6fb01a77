package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/taskmodel/taskmodel/auth"
	"github.com/taskmodel/taskmodel/server"
)

// authenticator returns the token check of taskmodel serve: the tokens of
// `taskmodel token create`, in the same database.
func (d *serveDB) authenticator(ctx context.Context) (func(context.Context, string) (server.User, error), error) {
	var st auth.Store
	var err error
	switch {
	case d.sqlite != nil:
		st, err = auth.NewSQLite(ctx, d.sqlite)
	case d.mysql != nil:
		st, err = auth.NewMySQL(ctx, d.mysql)
	default:
		st, err = auth.NewPostgres(ctx, d.pg)
	}
	if err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	return func(ctx context.Context, token string) (server.User, error) {
		u, err := st.Authenticate(ctx, token)
		if errors.Is(err, auth.ErrUnauthorized) {
			return server.User{}, server.ErrUnauthorized
		}
		if err != nil {
			return server.User{}, err
		}
		return server.AuthUser(u), nil
	}, nil
}
