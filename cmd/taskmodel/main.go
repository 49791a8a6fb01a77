// Command taskmodel is taskmodel's command-line tool: pipeline tracking for
// scripts in any language (pipeline, run, subtask, status, history, active,
// watch; see docs/pipeline.md), and the bearer tokens of taskmodel serve
// (token create, list, revoke).
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
