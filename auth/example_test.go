package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/taskmodel/taskmodel/auth"
)

func Example() {
	ctx := context.Background()
	tokens := auth.NewMemory() // or auth.NewSQLite(ctx, db), auth.NewPostgres(ctx, pool), auth.NewMySQL(ctx, db), auth.Open(ctx, cfg.Database)

	secret, tok, err := tokens.Create(ctx, "ana", false)
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(secret, "tm_"+tok.ID+"_"))

	// A server reads the secret from "Authorization: Bearer …".
	user, err := tokens.Authenticate(ctx, secret)
	fmt.Println(user.Name, user.Admin, err)

	_, err = tokens.Authenticate(ctx, "tm_not-a-token")
	fmt.Println(errors.Is(err, auth.ErrUnauthorized))

	_ = tokens.Revoke(ctx, tok.ID)
	_, err = tokens.Authenticate(ctx, secret)
	fmt.Println(errors.Is(err, auth.ErrUnauthorized))

	_, _, err = tokens.Create(ctx, "ana smith", false)
	fmt.Println(err)
	// Output:
	// true
	// ana false <nil>
	// true
	// true
	// user: must contain only letters, digits, ".", "_", "@" and "-" (got ' ' at character 4)
}
