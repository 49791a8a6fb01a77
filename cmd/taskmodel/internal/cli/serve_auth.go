package cli

import (
	"context"

	"github.com/taskmodel/taskmodel/server"
)

// authenticator returns the token check of taskmodel serve.
func (d *serveDB) authenticator(ctx context.Context) (func(context.Context, string) (server.User, error), error) {
	return nil, nil // replaced when package auth lands
}

// openAPIDoc is served at /openapi.json.
var openAPIDoc []byte
