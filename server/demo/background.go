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
// and completes, reporting its progress after each step (the running
// status maps the whole 0–100 range). A task whose tag starts with "fail"
// fails after its first step, to show the failure path.
func Background[T any](step time.Duration) worker.Handler[T] {
	return func(ctx context.Context, t *T, p *worker.Progress[T]) error {
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
			if i < BackgroundSteps-1 {
				if err := p.Report(ctx, float64(i+1)/BackgroundSteps, nil); err != nil {
					return err
				}
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
