package backends_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/tasktype"
)

// A Store over the memory driver: the same calls work over
// sqlitedb.NewDriver(db) and pgdb.NewDriver(pool).
func Example() {
	ctx := context.Background()
	clock := func() time.Time { return time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC) }
	store := backends.NewStore[analysis.Task, analysis.Event](memory.New[analysis.Task](), backends.WithClock(clock))

	task := analysis.NewTask()
	task.UserID, task.ToolID, task.Agents = "u1", "profile-my-data", []string{"unified-profiler"}
	task, err := store.Create(ctx, task, backends.Meta{Actor: "api"})
	if err != nil {
		panic(err)
	}
	task, _ = store.FireFrom(ctx, task, analysis.EventRequestUploadURLs, nil, backends.Meta{Actor: "api"})
	fmt.Println(task.Status, task.Version, task.UploadStartedAt.Format(time.Kitchen))

	// An illegal event is refused with the events allowed instead; nothing is written.
	_, err = store.FireFrom(ctx, task, analysis.EventStart, nil, backends.Meta{})
	fmt.Println(errors.Is(err, tasktype.ErrTransitionNotAllowed), err)

	history, _ := store.History(ctx, task.ID)
	for _, h := range history {
		fmt.Printf("%d %s -> %s (%s by %s)\n", h.Seq, h.From, h.To, h.Event, h.Actor)
	}
	// Output:
	// UPLOADING 2 10:30AM
	// true event "start" is not allowed from status UPLOADING; allowed: verify_uploads, upload_failed, expire
	// 1  -> CREATED ( by api)
	// 2 CREATED -> UPLOADING (request_upload_urls by api)
}

// A bulk create: every task is validated before any is written, and the
// batch is written all or none (one statement on PostgreSQL).
func ExampleStore_CreateMany() {
	ctx := context.Background()
	store := backends.NewStore[analysis.Task, analysis.Event](memory.New[analysis.Task]())
	batch := func(tools ...string) []*analysis.Task {
		var out []*analysis.Task
		for _, tool := range tools {
			x := analysis.NewTask()
			x.UserID, x.ToolID, x.Agents = "u1", tool, []string{"unified-profiler"}
			out = append(out, x)
		}
		return out
	}
	tasks, err := store.CreateMany(ctx, batch("profile-my-data", "score-risk"), backends.Meta{Actor: "import"})
	fmt.Println(len(tasks), tasks[0].Status, tasks[1].ToolID, err)

	// One invalid task (no tool_id) and nothing is written.
	_, err = store.CreateMany(ctx, batch("profile-my-data", ""), backends.Meta{Actor: "import"})
	fmt.Println(errors.Is(err, tasktype.ErrValidation))
	fmt.Println(err)
	// Output:
	// 2 CREATED score-risk <nil>
	// true
	// tasks[1]: tool_id: must be at least 1 character (got 0)
}
