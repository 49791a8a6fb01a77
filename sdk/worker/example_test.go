package worker_test

import (
	"cmp"
	"context"
	"fmt"
	"log"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

// A pool runs a handler on the tasks of the training model: the handler
// reports its progress, sets a result field and returns nil, and the pool
// fires the complete event. The memory backend keeps the example
// self-contained; a service opens SQLite or PostgreSQL instead (the
// model's sqlitedb or pgdb driver) and runs the sweeper (package sdk/sweep)
// beside the pool, for the spec's status timeouts.
func Example() {
	ctx := context.Background()
	eng := engine.New[training.Training, training.Event](memory.New[training.Training](),
		engine.WithWorker(training.Worker)) // the spec's worker section
	pool, err := worker.New(eng, func(ctx context.Context, x *training.Training, p *worker.Progress[training.Training]) error {
		for epoch := int64(1); epoch <= *x.Epochs; epoch++ {
			// … train one epoch …
			if err := p.Report(ctx, float64(epoch)/float64(*x.Epochs), nil); err != nil {
				return err // the task was cancelled, or the pool lost its lease
			}
		}
		// A field set on the task is written with the complete event.
		model := *x.BaseModel + "-tuned"
		x.Tag = &model
		return nil
	}, worker.Config{Owner: "worker-1"})
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- pool.Run(runCtx) }()

	x := training.NewTraining()
	base, epochs := "llama-3-8b", int64(3)
	x.BaseModel, x.Epochs = &base, &epochs
	x, err = eng.Create(ctx, x, engine.Meta{Actor: "api"}) // QUEUED: the pool claims it
	if err != nil {
		log.Fatal(err)
	}

	x = waitEnd(ctx, eng, x.ID)
	fmt.Println(x.Status, x.Progress, *x.Tag)
	history, err := eng.History(ctx, x.ID)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range history {
		event := cmp.Or(h.Event, "(created)") // the first row has no event
		fmt.Printf("%s → %s by %s: %q\n", event, h.To, h.Actor, h.Message)
	}

	stop() // Run stops claiming, lets running handlers finish, and returns
	if err := <-stopped; err != nil {
		log.Fatal(err)
	}
	// Output:
	// DONE 100 llama-3-8b-tuned
	// (created) → QUEUED by api: ""
	// start → RUNNING by worker-1: "claimed by worker-1 (attempt 1)"
	// complete → DONE by worker-1: "completed"
}

// waitEnd follows a task until it ends (a terminal status), for at most ten
// seconds, and returns it.
func waitEnd(ctx context.Context, eng *engine.Engine[training.Training, training.Event, *training.Training], id uuid.UUID) *training.Training {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	watch, err := eng.Watch(ctx, id) // ends after a terminal status
	if err != nil {
		log.Fatal(err)
	}
	var last *training.Training
	for c := range watch.C {
		last = c.Task
	}
	if last == nil || !last.Status.IsTerminal() {
		log.Fatalf("task %s did not end within ten seconds", id)
	}
	return last
}

// A handler that fails with an error code of the spec: the pool fires the
// fail event, which stores the code and the message in the task (the
// analysis model's error_code and error_message), and the history row says
// both. Any other error fails the task with the worker section's error code
// (analysis: INTERNAL_ERROR); so does a panic.
func ExampleFail() {
	ctx := context.Background()
	eng := engine.New[analysis.Task, analysis.Event](memory.New[analysis.Task](),
		engine.WithWorker(analysis.Worker))
	pool, err := worker.New(eng, func(ctx context.Context, x *analysis.Task, _ *worker.Progress[analysis.Task]) error {
		return worker.Fail(string(analysis.ErrorCodeAgentError), "agent %s exited with status %d", x.Agents[0], 2)
	}, worker.Config{Owner: "worker-1"})
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- pool.Run(runCtx) }()
	defer func() { stop(); <-stopped }()

	// An analysis task is created, its files uploaded, then queued.
	x := analysis.NewTask()
	x.UserID, x.ToolID, x.Agents = "user-1", "profile-my-data", []string{"score-risk"}
	x, err = eng.Create(ctx, x, engine.Meta{Actor: "api"})
	for _, ev := range []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads} {
		if err == nil {
			x, err = eng.FireFrom(ctx, x, ev, nil, engine.Meta{Actor: "api"})
		}
	}
	if err != nil {
		log.Fatal(err)
	}

	watchCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	watch, err := eng.Watch(watchCtx, x.ID) // ends after a terminal status
	if err != nil {
		log.Fatal(err)
	}
	for c := range watch.C {
		x = c.Task
	}
	fmt.Println(x.Status, *x.ErrorCode, *x.ErrorMessage)
	history, err := eng.History(ctx, x.ID)
	if err != nil {
		log.Fatal(err)
	}
	last := history[len(history)-1]
	fmt.Printf("%s → %s by %s: %q\n", last.Event, last.To, last.Actor, last.Message)
	// Output:
	// FAILED AGENT_ERROR agent score-risk exited with status 2
	// fail → FAILED by worker-1: "AGENT_ERROR: agent score-risk exited with status 2"
}
