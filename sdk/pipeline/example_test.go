package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"

	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage/memstore"
)

// A run of a registered task with two subtasks, as docs/pipeline.md › From
// Go shows it: a run completes once every subtask it declared (Subtasks)
// has started and finished.
func Example() {
	ctx := context.Background()
	tr := pipeline.New(memstore.New(), pipeline.WithLogger(slog.New(slog.DiscardHandler))) // or pipeline.Open(ctx, cfg.Database)
	defer tr.Close()
	check := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}

	check(tr.Register(ctx, nil, []pipeline.Task{{Stage: "STATIC", Name: "Build Database"}}))
	run, err := tr.Start(ctx, "STATIC", "Build Database", pipeline.StartOptions{Subtasks: 2})
	check(err)
	n := int64(56)
	_, err = tr.StartSubtask(ctx, run.ID, 1, pipeline.SubtaskStart{Name: "Loading data", ItemsTotal: &n})
	check(err)
	_, err = tr.IncrementSubtask(ctx, run.ID, 1, 1) // safe from any number of goroutines and processes
	check(err)
	_, err = tr.CompleteSubtask(ctx, run.ID, 1, "All states loaded")
	check(err)

	// Subtask 2 never started: the run cannot complete yet.
	_, err = tr.Complete(ctx, run.ID, "Finished successfully")
	var unfinished *pipeline.UnfinishedError
	if errors.As(err, &unfinished) { // the error names the run: "run 0190…: complete: cannot …"
		fmt.Println(unfinished)
	}

	_, err = tr.StartSubtask(ctx, run.ID, 2, pipeline.SubtaskStart{Name: "Indexing"})
	check(err)
	_, err = tr.CompleteSubtask(ctx, run.ID, 2, "Indexed")
	check(err)
	run, err = tr.Complete(ctx, run.ID, "Finished successfully")
	check(err)

	subs, err := tr.Subtasks(ctx, run.ID)
	check(err)
	p := pipeline.RunPercent(run, subs)
	fmt.Printf("%s %.0f%%: %s\n", run.Status, p.Percent, *run.Message)
	// Output:
	// cannot complete the run: subtask 2 of 2 never started; complete or fail them first
	// COMPLETED 100%: Finished successfully
}
