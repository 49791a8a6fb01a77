// Command service is a team's own report service built on taskmodel: its
// spec (tasks/report.yaml), the code taskgen and sqlc generate from it
// (gen/, by go generate), its handler running in a worker pool, and
// taskmodel's HTTP API mounted next to its own routes, on SQLite or
// PostgreSQL. README.md walks through it.
//
//	go run ./examples/service                       # SQLite file reports.db, http://127.0.0.1:8081
//	DATABASE_URL=postgres://postgres@127.0.0.1:5432/test go run ./examples/service
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/taskmodel/taskmodel/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "address to listen on")
	db := fs.String("database-url", os.Getenv("DATABASE_URL"), "postgres://…, mysql://… or a SQLite file (default $DATABASE_URL, else reports.db)")
	blobDir := fs.String("blob-dir", "report-files", "directory of the report files")
	anonymous := fs.Bool("allow-anonymous", false, "let requests without a token from this machine act as the user \"anonymous\" (loopback -addr only)")
	workers := fs.Int("workers", 4, "reports built at once (0: no worker pool)")
	stepTime := fs.Duration("step-time", 200*time.Millisecond, "how long building one day of a report takes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" {
		*db = "reports.db"
	}
	if *anonymous && !server.IsLoopbackAddr(*addr) {
		return fmt.Errorf("-allow-anonymous needs a loopback -addr, not %q", *addr)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	svc, err := Open(ctx, Config{
		Database:  *db,
		BlobDir:   *blobDir,
		PublicURL: "http://" + ln.Addr().String(),
		Anonymous: *anonymous,
		Workers:   *workers,
		StepTime:  *stepTime,
		Logger:    log,
	})
	if err != nil {
		return err
	}
	defer svc.Close()
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(runCtx) }()
	fmt.Printf("service: listening on http://%s\n", ln.Addr())
	err = svc.Serve(ctx, ln, 10*time.Second)
	stopRun()
	<-done
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
