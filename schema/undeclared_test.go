package schema_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/datasetupload"
	"github.com/taskmodel/taskmodel/gen/evaluation"
	"github.com/taskmodel/taskmodel/gen/modelupload"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/pipelinesubtask"
	"github.com/taskmodel/taskmodel/gen/stage"
	"github.com/taskmodel/taskmodel/gen/synthesis"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/tasktype"
)

// A program can meet a status, event, error code or enumeration value its
// spec does not declare: in a request, or in a task built in Go (the
// drivers refuse such rows, see backends.UndeclaredValueError). Nothing the
// generated packages offer may panic on one: the per-status tables are
// indexed by a lookup that returns -1 for an undeclared value.

// lifecycle is a model's lifecycle functions.
type lifecycle[S, E ~string] struct {
	fire       func(S, E) (S, error)
	can        func(S, S) bool
	transition func(S, S) (E, error)
	allowed    func(S) []E
	statuses   func() []S
	events     func() []E
}

func (l lifecycle[S, E]) check(t *testing.T) {
	t.Helper()
	undeclared := []S{"REVIEW", "", "created", "QUEUED ", "\x00"}
	declared := l.statuses()
	for _, s := range undeclared {
		for _, ev := range append(l.events(), "review", "") {
			got, err := l.fire(s, ev)
			if got != s || !errors.Is(err, tasktype.ErrTransitionNotAllowed) || err.Error() == "" {
				t.Errorf("Fire(%q, %q) = %q, %v", s, ev, got, err)
			}
		}
		for _, d := range declared {
			if l.can(s, d) || l.can(d, s) {
				t.Errorf("CanTransition between %q and %q", s, d)
			}
			if _, err := l.transition(s, d); !errors.Is(err, tasktype.ErrTransitionNotAllowed) || err.Error() == "" {
				t.Errorf("Transition(%q, %q): %v", s, d, err)
			}
			if _, err := l.transition(d, s); !errors.Is(err, tasktype.ErrTransitionNotAllowed) || err.Error() == "" {
				t.Errorf("Transition(%q, %q): %v", d, s, err)
			}
		}
		if evs := l.allowed(s); len(evs) != 0 {
			t.Errorf("AllowedEvents(%q) = %v", s, evs)
		}
		callAll(t, reflect.ValueOf(s))
	}
	for _, d := range declared {
		if got, err := l.fire(d, "review"); got != d || !errors.Is(err, tasktype.ErrTransitionNotAllowed) {
			t.Errorf("Fire(%q, review) = %q, %v", d, got, err)
		}
	}
	for _, ev := range []E{"review", "", "START"} {
		callAll(t, reflect.ValueOf(ev))
	}
}

// callAll calls every exported method of v with zero arguments, and the
// methods of what they return that are errors.
func callAll(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := range v.NumMethod() {
		m, name := v.Method(i), v.Type().Method(i).Name
		args := make([]reflect.Value, m.Type().NumIn())
		for j := range args {
			args[j] = reflect.Zero(m.Type().In(j))
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%T(%q).%s panics: %v", v.Interface(), v.Interface(), name, r)
				}
			}()
			for _, out := range m.Call(args) {
				if err, ok := out.Interface().(error); ok && err != nil {
					_ = err.Error()
				}
			}
		}()
	}
}

func TestUndeclaredValuesDoNotPanic(t *testing.T) {
	t.Run("analysis", func(t *testing.T) {
		lifecycle[analysis.Status, analysis.Event]{analysis.Fire, analysis.CanTransition, analysis.Transition, analysis.AllowedEvents, analysis.Statuses, analysis.Events}.check(t)
	})
	t.Run("dataset_upload", func(t *testing.T) {
		lifecycle[datasetupload.Status, datasetupload.Event]{datasetupload.Fire, datasetupload.CanTransition, datasetupload.Transition, datasetupload.AllowedEvents, datasetupload.Statuses, datasetupload.Events}.check(t)
	})
	t.Run("evaluation", func(t *testing.T) {
		lifecycle[evaluation.Status, evaluation.Event]{evaluation.Fire, evaluation.CanTransition, evaluation.Transition, evaluation.AllowedEvents, evaluation.Statuses, evaluation.Events}.check(t)
	})
	t.Run("model_upload", func(t *testing.T) {
		lifecycle[modelupload.Status, modelupload.Event]{modelupload.Fire, modelupload.CanTransition, modelupload.Transition, modelupload.AllowedEvents, modelupload.Statuses, modelupload.Events}.check(t)
	})
	t.Run("pipeline_run", func(t *testing.T) {
		lifecycle[pipelinerun.Status, pipelinerun.Event]{pipelinerun.Fire, pipelinerun.CanTransition, pipelinerun.Transition, pipelinerun.AllowedEvents, pipelinerun.Statuses, pipelinerun.Events}.check(t)
	})
	t.Run("pipeline_subtask", func(t *testing.T) {
		lifecycle[pipelinesubtask.Status, pipelinesubtask.Event]{pipelinesubtask.Fire, pipelinesubtask.CanTransition, pipelinesubtask.Transition, pipelinesubtask.AllowedEvents, pipelinesubtask.Statuses, pipelinesubtask.Events}.check(t)
	})
	t.Run("stage", func(t *testing.T) {
		lifecycle[stage.Status, stage.Event]{stage.Fire, stage.CanTransition, stage.Transition, stage.AllowedEvents, stage.Statuses, stage.Events}.check(t)
	})
	t.Run("synthesis", func(t *testing.T) {
		lifecycle[synthesis.Status, synthesis.Event]{synthesis.Fire, synthesis.CanTransition, synthesis.Transition, synthesis.AllowedEvents, synthesis.Statuses, synthesis.Events}.check(t)
	})
	t.Run("training", func(t *testing.T) {
		lifecycle[training.Status, training.Event]{training.Fire, training.CanTransition, training.Transition, training.AllowedEvents, training.Statuses, training.Events}.check(t)
	})
	t.Run("enumerations", func(t *testing.T) {
		for _, v := range []any{analysis.ErrorCode("QUOTA_EXCEEDED"), modelupload.ModelSource("s3"), pipelinerun.TaskKind("go"),
			stage.RetryPolicy("ALWAYS"), stage.RecordStatus("SKIPPED")} {
			callAll(t, reflect.ValueOf(v))
			callAll(t, reflect.New(reflect.TypeOf(v))) // UnmarshalText and Scan of nothing refuse
		}
	})
	t.Run("tasks", func(t *testing.T) {
		// A task holding an undeclared status or error code: its methods
		// (Validate, Key, …) answer, without a panic.
		x := analysis.NewTask()
		x.Status = "REVIEW"
		code := analysis.ErrorCode("QUOTA_EXCEEDED")
		x.ErrorCode = &code
		callAll(t, reflect.ValueOf(x))
		for _, x := range []any{datasetupload.NewDatasetUpload(), evaluation.NewEvaluation(), modelupload.NewModelUpload(),
			pipelinerun.NewPipelineRun(), pipelinesubtask.NewPipelineSubtask(), stage.NewStageState(), synthesis.NewSynthesis(), training.NewTraining()} {
			v := reflect.ValueOf(x)
			v.Elem().FieldByName("Status").SetString("REVIEW")
			callAll(t, v)
		}
	})
}
