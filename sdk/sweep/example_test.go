package sweep_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/sweep"
	"github.com/taskmodel/taskmodel/sdk/worker"
)

// A worker pool does not enforce the spec's status timeouts; the sweeper
// does. Here a handler hangs on an analysis task, whose spec fails it after
// 30 minutes in PROCESSING with TIMEOUT_ERROR: once that time has passed, a
// sweep fires the fail event, and the pool, which sees that the task left
// PROCESSING, cancels the handler's context. The clock is a fake one that
// the example moves forward; a service uses the real one (the default) and
// runs the sweeper beside its pools with Run, as the comment below shows.
func Example() {
	ctx := context.Background()
	clock := backendtest.NewClock()
	eng := engine.New[analysis.Task, analysis.Event](memory.New[analysis.Task](),
		engine.WithWorker(analysis.Worker), engine.WithClock(clock.Now))
	started, ended := make(chan struct{}), make(chan error, 1)
	pool, err := worker.New(eng, func(ctx context.Context, x *analysis.Task, _ *worker.Progress[analysis.Task]) error {
		close(started)
		<-ctx.Done() // the work never ends by itself
		ended <- ctx.Err()
		return ctx.Err()
	}, worker.Config{Owner: "worker-1"})
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- pool.Run(runCtx) }()
	defer func() { stop(); <-stopped }()

	x := analysis.NewTask()
	x.UserID, x.ToolID, x.Agents = "user-1", "profile-my-data", []string{"score-risk"}
	x, err = eng.Create(ctx, x, engine.Meta{Actor: "api"})
	for _, ev := range []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads} {
		if err == nil {
			x, err = eng.FireFrom(ctx, x, ev, nil, engine.Meta{Actor: "api"}) // QUEUED: the pool claims it
		}
	}
	if err != nil {
		log.Fatal(err)
	}
	within(started)

	sw := sweep.New(eng.Store(), sweep.Config[analysis.Task]{Owner: "sweeper", Clock: clock.Now})
	// A service runs it until it stops, with the real clock:
	//	go sw.Run(ctx, time.Minute, func(err error) { log.Print(err) })
	res, err := sw.Sweep(ctx) // not yet: the task has run for no time
	fmt.Println("timed out:", res.TimedOut, err)
	clock.Advance(30 * time.Minute)
	res, err = sw.Sweep(ctx)
	fmt.Println("timed out:", res.TimedOut, err)

	fmt.Println("handler:", within(ended))
	if x, err = eng.Get(ctx, x.ID); err != nil {
		log.Fatal(err)
	}
	fmt.Println(x.Status, *x.ErrorCode, *x.ErrorMessage)
	// Output:
	// timed out: 0 <nil>
	// timed out: 1 <nil>
	// handler: context canceled
	// FAILED TIMEOUT_ERROR Processing timeout exceeded
}

// within returns what ch receives, or fails when it receives nothing for
// ten seconds.
func within[V any](ch <-chan V) V {
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		log.Fatal("nothing happened within ten seconds")
		panic("unreachable")
	}
}
