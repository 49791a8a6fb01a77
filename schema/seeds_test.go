package schema_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/datasetupload"
	"github.com/taskmodel/taskmodel/gen/evaluation"
	"github.com/taskmodel/taskmodel/gen/modelupload"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/gen/synthesis"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/tasktype"
)

// TestBackgroundTaskTypes: the unified listing's five task types share one lifecycle
// whose statuses carry the unified codes Q, R, D, F, C, one each.
func TestBackgroundTaskTypes(t *testing.T) {
	// Each task type's ParseStatus, reduced to the code it gives a status.
	types := []struct {
		model string
		code  func(string) (tasktype.Code, error)
	}{
		{modelupload.ModelName, func(s string) (tasktype.Code, error) { v, err := modelupload.ParseStatus(s); return v.Code(), err }},
		{datasetupload.ModelName, func(s string) (tasktype.Code, error) { v, err := datasetupload.ParseStatus(s); return v.Code(), err }},
		{training.ModelName, func(s string) (tasktype.Code, error) { v, err := training.ParseStatus(s); return v.Code(), err }},
		{evaluation.ModelName, func(s string) (tasktype.Code, error) { v, err := evaluation.ParseStatus(s); return v.Code(), err }},
		{synthesis.ModelName, func(s string) (tasktype.Code, error) { v, err := synthesis.ParseStatus(s); return v.Code(), err }},
	}
	want := map[string]tasktype.Code{"QUEUED": "Q", "RUNNING": "R", "DONE": "D", "FAILED": "F", "CANCELLED": "C"}
	var models []string
	for _, tt := range types {
		models = append(models, tt.model)
		for status, code := range want {
			if got, err := tt.code(status); err != nil || got != code {
				t.Errorf("%s %s: code %q, %v; want %s", tt.model, status, got, err, code)
			}
		}
	}
	if got := strings.Join(models, " "); got != "model_upload dataset_upload training evaluation synthesis" {
		t.Errorf("task types = %s", got)
	}
	// end_date is set when a task finishes, whatever the outcome.
	for _, ev := range []training.Event{training.EventComplete, training.EventFail, training.EventCancel} {
		task := training.NewTraining()
		at := time.Unix(1700000000, 0)
		if err := task.Fire(training.EventStart, at); err != nil {
			t.Fatal(err)
		}
		msg := "boom"
		task.ErrorMessage = &msg
		if err := task.Fire(ev, at.Add(time.Hour)); err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
		if task.EndDate == nil || !task.EndDate.Equal(at.Add(time.Hour)) || task.Status.Code() == tasktype.CodeRunning {
			t.Errorf("%s: end_date %v, status %s", ev, task.EndDate, task.Status)
		}
	}
}

// TestPipelineModels: tasker's run and subtask statuses NOT_STARTED …
// CANCELLED, with a subtask that references its run.
func TestPipelineModels(t *testing.T) {
	var got []string
	for _, s := range pipelinerun.Statuses() {
		got = append(got, string(s))
	}
	if strings.Join(got, " ") != "NOT_STARTED STARTED RUNNING COMPLETED FAILED SKIPPED CANCELLED" {
		t.Errorf("run statuses = %v", got)
	}
	if len(pipelinesubtask.Statuses()) != 7 || pipelinerun.Initial() != pipelinerun.StatusNotStarted {
		t.Error("subtask statuses or initial status differ from tasker's")
	}
	sub := pipelinesubtask.NewPipelineSubtask()
	sub.Name = "Loading data"
	sub.SubtaskNumber = 1
	err := sub.Validate()
	if err == nil || !strings.Contains(err.Error(), "run_id: is required") {
		t.Errorf("a subtask without its run: %v", err)
	}
	sub.ItemsComplete = -1
	if err := sub.Validate(); err == nil || !strings.Contains(err.Error(), "items_complete: must be ≥ 0 (got -1)") {
		t.Errorf("negative items: %v", err)
	}
	// task_fail needs an error message.
	run := pipelinerun.NewPipelineRun()
	at := time.Unix(1700000000, 0)
	if err := run.Fire(pipelinerun.EventStart, at); err != nil {
		t.Fatal(err)
	}
	var fe *tasktype.FieldError
	if err := run.Fire(pipelinerun.EventFail, at); !errors.As(err, &fe) || fe.Field != "error_message" {
		t.Errorf("fail without a message: %v", err)
	}
	if run.Status != pipelinerun.StatusStarted {
		t.Errorf("a refused event changed the status to %s", run.Status)
	}
}

// TestTaskFireRequiredFields: fail requires error_code and error_message;
// Fire refuses it while either is missing, names every missing field, and
// leaves the task unchanged.
func TestTaskFireRequiredFields(t *testing.T) {
	code, msg := analysis.ErrorCodeAgentError, "agent score-risk crashed"
	tests := []struct {
		name    string
		code    *analysis.ErrorCode
		message *string
		want    string   // the exact message
		fields  []string // the FieldErrors' fields, in spec order
	}{
		{"both missing", nil, nil,
			`error_code: is required by event "fail"; error_message: is required by event "fail"`, []string{"error_code", "error_message"}},
		{"error_code missing", nil, &msg, `error_code: is required by event "fail"`, []string{"error_code"}},
		{"error_message missing", &code, nil, `error_message: is required by event "fail"`, []string{"error_message"}},
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := analysis.NewTask()
			for _, ev := range []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart} {
				if err := task.Fire(ev, at); err != nil {
					t.Fatal(err)
				}
			}
			task.ErrorCode, task.ErrorMessage = tt.code, tt.message
			before := *task
			err := task.Fire(analysis.EventFail, at.Add(time.Hour))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Fire(fail) = %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tasktype.ErrValidation) {
				t.Errorf("%v does not match tasktype.ErrValidation", err)
			}
			// One missing field is a *tasktype.FieldError; several are the
			// FieldErrors of a *tasktype.ValidationError.
			var fields []*tasktype.FieldError
			var ve *tasktype.ValidationError
			var fe *tasktype.FieldError
			switch {
			case errors.As(err, &ve):
				fields = ve.Fields
			case errors.As(err, &fe):
				fields = []*tasktype.FieldError{fe}
			}
			var got []string
			for _, fe := range fields {
				if fe.Rule != "required" {
					t.Errorf("%s: rule %q, want required", fe.Field, fe.Rule)
				}
				got = append(got, fe.Field)
			}
			if strings.Join(got, " ") != strings.Join(tt.fields, " ") {
				t.Errorf("fields %v, want %v", got, tt.fields)
			}
			if task.Status != before.Status || task.Version != before.Version || task.FailedAt != nil || !task.UpdatedAt.Equal(before.UpdatedAt) {
				t.Error("a refused event changed the task")
			}
		})
	}
}

func TestTaskFire(t *testing.T) {
	task := analysis.NewTask()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []analysis.Event{analysis.EventRequestUploadURLs, analysis.EventVerifyUploads, analysis.EventStart}
	for i, ev := range steps {
		if err := task.Fire(ev, at.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if task.Status != analysis.StatusProcessing || task.Version != 3 || !task.UpdatedAt.Equal(at.Add(2*time.Minute)) {
		t.Fatalf("after three events: %s v%d %v", task.Status, task.Version, task.UpdatedAt)
	}
	if !task.UploadStartedAt.Equal(at) || !task.QueuedAt.Equal(at.Add(time.Minute)) || !task.ProcessingStartedAt.Equal(at.Add(2*time.Minute)) {
		t.Error("entry timestamps not set")
	}
	code, msg := analysis.ErrorCodeAgentError, "agent score-risk crashed"
	task.ErrorCode, task.ErrorMessage = &code, &msg
	if err := task.Fire(analysis.EventFail, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if task.Status != analysis.StatusFailed || task.FailedAt == nil || task.CompletedAt != nil {
		t.Errorf("after fail: %s failed_at=%v completed_at=%v", task.Status, task.FailedAt, task.CompletedAt)
	}
}
