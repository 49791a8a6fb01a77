package demo

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/sdk/worker"
)

// BackgroundSteps is how many steps the background handler works.
const BackgroundSteps = 4

// Background returns the handler of the background task models (training,
// evaluation, synthesis, model_upload, dataset_upload) that taskmodel serve
// --demo-workers runs, so that their tasks visibly move from QUEUED through
// RUNNING to DONE: it works BackgroundSteps steps of step each (a pause)
// and completes. A task whose tag starts with "fail" fails after its first
// step, to show the failure path. It reports no progress: these models'
// specs map none.
func Background[T any](step time.Duration) worker.Handler[T] {
	return func(ctx context.Context, t *T, _ *worker.Progress[T]) error {
		failing := strings.HasPrefix(tagOf(t), "fail")
		for i := range BackgroundSteps {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(step):
			}
			if failing && i == 0 {
				return worker.Fail("", "the demo handler fails tasks whose tag starts with fail")
			}
		}
		return nil
	}
}

// tagOf reads a task's tag field, "" when it has none.
func tagOf[T any](t *T) string {
	data, err := json.Marshal(t)
	if err != nil {
		return ""
	}
	var doc struct {
		Tag *string `json:"tag"`
	}
	if json.Unmarshal(data, &doc) != nil || doc.Tag == nil {
		return ""
	}
	return *doc.Tag
}
