package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/taskmodel/taskmodel/gen/datasetupload"
	"github.com/taskmodel/taskmodel/gen/evaluation"
	"github.com/taskmodel/taskmodel/gen/modelupload"
	"github.com/taskmodel/taskmodel/gen/synthesis"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/server/demo"
)

// demoPools are the in-process worker pools of serve --demo-workers: the
// demo handler of the background task models.
type demoPools struct {
	runs  []func(context.Context) error
	wakes map[string]func()
}

// newDemoPools starts nothing: it builds a pool per background model, each
// running up to concurrency demo tasks of step-long steps.
func newDemoPools(models *server.Models, concurrency int, step time.Duration, grace time.Duration, log *slog.Logger) (*demoPools, error) {
	d := &demoPools{wakes: map[string]func(){}}
	cfg := worker.Config{Concurrency: concurrency, Logger: log, ShutdownGrace: grace}
	for _, add := range []func() error{
		func() error {
			return addDemo[training.Training, training.Event](d, models, training.ModelName, step, cfg)
		},
		func() error {
			return addDemo[evaluation.Evaluation, evaluation.Event](d, models, evaluation.ModelName, step, cfg)
		},
		func() error {
			return addDemo[synthesis.Synthesis, synthesis.Event](d, models, synthesis.ModelName, step, cfg)
		},
		func() error {
			return addDemo[modelupload.ModelUpload, modelupload.Event](d, models, modelupload.ModelName, step, cfg)
		},
		func() error {
			return addDemo[datasetupload.DatasetUpload, datasetupload.Event](d, models, datasetupload.ModelName, step, cfg)
		},
	} {
		if err := add(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// demoModel is a model the server serves and a pool runs.
type demoModel[T any, E ~string] interface {
	server.ModelType[T, E]
	PrepareFailure(code, message string) E
}

func addDemo[T any, E ~string, PT demoModel[T, E]](d *demoPools, models *server.Models, name string, step time.Duration, cfg worker.Config) error {
	eng, err := server.Engine[T, E, PT](models, name)
	if err != nil {
		return err
	}
	p, err := worker.New[T, E, PT](eng, demo.Background[T](step), cfg)
	if err != nil {
		return err
	}
	d.runs = append(d.runs, p.Run)
	d.wakes[name] = p.Wake
	return nil
}
