// Command lifecycle runs an upload → process analysis task end to end on the embedded
// SQLite backend: it creates the task, goes through upload (a failed
// verification and a retry), queues it, and lets a worker pool run its agents
// with progress until it completes, printing every change as a watcher sees
// it, then the task's history. It also shows what an illegal event and
// invalid input look like. `make run` runs it until the server exists.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/analysis/sqlitedb"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

type Task = analysis.Task

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "lifecycle:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "taskmodel-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tasks.db")
	db, err := sqlite.Open(ctx, path, analysis.Migrations(sqlite.Engine))
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Printf("SQLite database %s\n\n", path)
	eng := engine.New[Task, analysis.Event](sqlitedb.NewDriver(db), engine.WithWorker(analysis.Worker))

	// Invalid input: the error names the field and the limit.
	bad := analysis.NewTask()
	bad.UserID, bad.ToolID = "user-42", "profile-my-data"
	if _, err := eng.Create(ctx, bad, engine.Meta{Actor: "api"}); err != nil {
		fmt.Printf("invalid input:  %v\n", err)
	}

	x := analysis.NewTask()
	x.UserID, x.ToolID = "user-42", "profile-my-data"
	x.Agents = []string{"unified-profiler", "schema-check", "score-risk"}
	x, err = eng.Create(ctx, x, engine.Meta{Actor: "api", Message: "POST /tasks"})
	if err != nil {
		return err
	}
	watch, err := eng.Watch(ctx, x.ID)
	if err != nil {
		return err
	}
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for ch := range watch.C {
			t := ch.Task
			line := fmt.Sprintf("%-13s v%-2d progress %3d%%", t.Status, t.Version, t.Progress)
			if d := t.ProgressDetail; d != nil && t.Status == analysis.StatusProcessing {
				line += fmt.Sprintf("  agents %d/%d", d.AgentsCompleted, d.AgentsTotal)
			}
			fmt.Println("watch:", line)
		}
	}()

	step := func(ev analysis.Event, mutate func(*Task), msg string) error {
		var err error
		x, err = eng.FireFrom(ctx, x, ev, mutate, engine.Meta{Actor: "api", Message: msg})
		return err
	}
	if err := step(analysis.EventRequestUploadURLs, nil, "POST /tasks/{id}/upload-urls"); err != nil {
		return err
	}
	// The frontend called /process before its upload finished.
	missing := func(t *Task) { m := "Required files not found in storage"; t.ErrorMessage = &m }
	if err := step(analysis.EventUploadFailed, missing, "POST /tasks/{id}/process"); err != nil {
		return err
	}
	if err := step(analysis.EventRequestUploadURLs, func(t *Task) { t.ErrorMessage = nil }, "retry"); err != nil {
		return err
	}
	if err := step(analysis.EventVerifyUploads, nil, "POST /tasks/{id}/process"); err != nil {
		return err
	}

	// A worker pool takes the QUEUED task and runs its agents.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pool, err := worker.New(eng, func(ctx context.Context, t *Task, p *worker.Progress[Task]) error {
		for i, agent := range t.Agents {
			time.Sleep(150 * time.Millisecond) // the agent's work
			done := int64(i + 1)
			if err := p.Report(ctx, float64(done)/float64(len(t.Agents)), func(t *Task) {
				t.ProgressDetail = &analysis.ProgressDetail{CurrentStage: "agent_execution", CurrentAgent: &agent, AgentsTotal: int64(len(t.Agents)), AgentsCompleted: done}
			}); err != nil {
				return err
			}
		}
		return nil
	}, worker.Config{Owner: "worker-1", PollInterval: 50 * time.Millisecond, Logger: quiet})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = pool.Run(runCtx) }()
	<-printed // the watch ends at a terminal status
	stop()
	<-stopped

	x, err = eng.Get(ctx, x.ID)
	if err != nil {
		return err
	}
	fmt.Printf("\ntask %s is %s (%s), progress %d%%\n", x.ID, x.Status, x.Status.Display().Label, x.Progress)
	h, err := eng.History(ctx, x.ID)
	if err != nil {
		return err
	}
	fmt.Println("\nhistory:")
	for _, r := range h {
		from := r.From
		if from == "" {
			from = "·"
		}
		fmt.Printf("  %d  %-13s → %-13s %-20s by %-9s %s\n", r.Seq, from, r.To, r.Event, r.Actor, r.Message)
	}
	// An illegal event: the error lists what the status allows.
	if _, err := eng.Cancel(ctx, x.ID, engine.Meta{Actor: "api"}); err != nil {
		fmt.Printf("\nillegal event:  %v\n", err)
	}
	return nil
}
