// Command taskmodel is taskmodel's command-line tool: pipeline tracking for
// scripts in any language (pipeline, run, subtask, status, history, active,
// watch; see docs/pipeline.md), the HTTP API (serve), its bearer tokens
// (token create, list, revoke) and its database migrations (migrate status,
// plan, up; see docs/server.md).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/taskmodel/taskmodel/cmd/taskmodel/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
