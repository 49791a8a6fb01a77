// Command lifecycle drives a seed-004 analysis task through its generated
// lifecycle in memory — create, upload, a failed verification and a retry,
// processing with agent progress, completion — printing every transition and
// the reported progress. It also shows what an illegal event and invalid
// input look like. `make run` runs it until the server exists.
package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/tasktype"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lifecycle:", err)
		os.Exit(1)
	}
}

func run() error {
	clock := time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)
	tick := func(d time.Duration) time.Time { clock = clock.Add(d); return clock }

	task := analysis.NewTask()
	task.ID = uuid.New()
	task.UserID = "user-42"
	task.ToolID = "profile-my-data"
	task.Agents = []string{"unified-profiler", "schema-check", "score-risk"}
	task.CreatedAt, task.UpdatedAt = clock, clock
	if err := task.Validate(); err != nil {
		return err
	}
	fmt.Printf("created task %s (%s) for %s with %d agents\n", task.ID, task.Status, task.ToolID, len(task.Agents))
	report(task, 0)

	fire := func(ev analysis.Event, after time.Duration) error {
		from := task.Status
		if err := task.Fire(ev, tick(after)); err != nil {
			return err
		}
		fmt.Printf("%-8s %-13s --%s--> %s\n", clock.Format("15:04:05"), from, ev, task.Status)
		return nil
	}

	if err := fire(analysis.EventRequestUploadURLs, 2*time.Second); err != nil {
		return err
	}
	report(task, 0)
	// The frontend called /process before its upload finished.
	msg := "Required files not found in storage"
	task.ErrorMessage = &msg
	if err := fire(analysis.EventUploadFailed, 40*time.Second); err != nil {
		return err
	}
	fmt.Printf("         error: %s — retrying with new upload URLs\n", *task.ErrorMessage)
	task.ErrorMessage = nil
	for _, ev := range []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart} {
		if err := fire(ev, 5*time.Second); err != nil {
			return err
		}
	}
	detail := &analysis.ProgressDetail{CurrentStage: "agent_execution", AgentsTotal: int64(len(task.Agents))}
	task.ProgressDetail = detail
	for i, agent := range task.Agents {
		detail.CurrentAgent = &task.Agents[i]
		report(task, float64(i)/float64(len(task.Agents)))
		fmt.Printf("         running agent %s\n", agent)
		tick(90 * time.Second)
		detail.AgentsCompleted++
	}
	report(task, 1)

	// An illegal event: the lifecycle says what is allowed instead.
	err := task.Fire(analysis.EventExpire, clock)
	var te *analysis.TransitionError
	if errors.As(err, &te) && errors.Is(err, tasktype.ErrTransitionNotAllowed) {
		fmt.Printf("         refused: %v\n", err)
	}

	if err := fire(analysis.EventComplete, 3*time.Second); err != nil {
		return err
	}
	report(task, 1)
	fmt.Printf("done in %s; completed_at %s; version %d\n", task.CompletedAt.Sub(task.CreatedAt), task.CompletedAt.Format(time.RFC3339), task.Version)

	// Invalid input gets an error that names the field and the limit.
	task.Progress = 120
	fmt.Printf("validation: %v\n", task.Validate())
	return nil
}

// report prints the progress the spec maps the task's status to.
func report(task *analysis.Task, done float64) {
	if p, ok := task.Status.Progress(done); ok {
		task.Progress = int64(p)
	}
	d := task.Status.Display()
	poll := "no polling: terminal"
	if d.PollInterval > 0 {
		poll = "poll every " + d.PollInterval.String()
	}
	fmt.Printf("         progress %3d%%  [%s] %s (%s)\n", task.Progress, d.Label, d.Message, poll)
}
