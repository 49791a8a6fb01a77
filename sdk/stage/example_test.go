package stage_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/memory"
	stagemodel "github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/sdk/stage"
)

// importState is what the stages of an import task share.
type importState struct {
	Rows     []string `json:"rows"`
	Imported int      `json:"imported"`
}

// A three-stage import over the memory driver; the same code runs over
// sqlitedb.NewDriver(db) and pgdb.NewDriver(pool) from gen/stage. The load
// stage fails once and is retried under policy STAGE after a backoff.
func Example() {
	ctx := context.Background()
	store := backends.NewStore[stagemodel.StageState, stagemodel.Event](memory.New[stagemodel.StageState]())

	loads := 0
	stages := []stage.Stage[importState]{
		{Name: "extract", Run: func(ctx context.Context, s *importState) (*stage.SimpleRecordsResult, error) {
			s.Rows = []string{"ada", "grace", "", "edsger"}
			return nil, nil
		}},
		{Name: "load", Run: func(ctx context.Context, s *importState) (*stage.SimpleRecordsResult, error) {
			if loads++; loads == 1 {
				return nil, errors.New("connection reset")
			}
			res := &stage.SimpleRecordsResult{TotalCount: int64(len(s.Rows))}
			for _, r := range s.Rows {
				if r == "" {
					res.FailCount++
					continue
				}
				s.Imported++
				res.SuccessCount++
			}
			return res, nil
		}, Rollback: func(ctx context.Context, s *importState) error {
			return nil // would delete the imported rows
		}},
	}
	r, err := stage.NewRunner(store, stages, stage.Config{
		Policy:      stage.RetryPolicyStage,
		MaxAttempts: 3,
		Backoff:     stage.Exponential{Initial: 2 * time.Second, Max: time.Minute},
		// The default sleeps on a timer; this one only shows the wait.
		Sleep: func(ctx context.Context, d time.Duration) error {
			fmt.Println("backoff:", d)
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	res, err := r.Run(ctx, "import-42", importState{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("result: %d of %d imported, %d failed\n", res.SuccessCount, res.TotalCount, res.FailCount)

	st, _ := r.Status(ctx, "import-42")
	fmt.Println("task:", st.Status, "attempts:", st.Attempts)
	for _, row := range st.Stages {
		for _, h := range row.History {
			fmt.Printf("  %s attempt %d: %s → %s (%s)\n", row.StageName, h.Attempt, h.BeginStatus, h.EndStatus, h.Message)
		}
	}
	err = r.Cancel(ctx, "import-42")
	fmt.Println(err)
	// Output:
	// backoff: 2s
	// result: 3 of 4 imported, 1 failed
	// task: COMPLETE attempts: 3
	//   extract attempt 1: CREATED → COMPLETE (completed)
	//   load attempt 1: CREATED → RETRY (connection reset)
	//   load attempt 2: RETRY → COMPLETE (completed)
	// stage: cannot cancel task "import-42", which is COMPLETE: event "cancel" is not allowed from status COMPLETE; it is terminal, no event is allowed
}
