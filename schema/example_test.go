package schema_test

import (
	"fmt"
	"time"

	"github.com/taskmodel/taskmodel/gen/analysis"
)

// An upload → process task moves only along its spec's transition matrix: Fire checks
// every event, and the generated tables give progress and display.
func Example_analysisLifecycle() {
	task := analysis.NewTask()
	task.ToolID, task.UserID, task.Agents = "profile-my-data", "u1", []string{"unified-profiler"}
	at := time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)

	for _, ev := range []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventCancel} {
		if err := task.Fire(ev, at); err != nil {
			fmt.Println("refused:", err)
			continue
		}
		p, _ := task.Status.Progress(0)
		fmt.Printf("%s → %s (%d%%, %s)\n", ev, task.Status, p, task.Status.Display().Label)
	}
	fmt.Println(analysis.CanTransition(analysis.StatusQueued, analysis.StatusProcessing), task.UploadStartedAt.Equal(at), task.Version)
	// Output:
	// request_upload_urls → UPLOADING (10%, Uploading)
	// verify_uploads → QUEUED (15%, Ready)
	// refused: event "cancel" is not allowed from status QUEUED; allowed: start
	// true true 2
}
