package demo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/server/demo"
)

// TestBackground: the background handler completes a task, fails one
// tagged fail…, and stops when its context ends.
func TestBackground(t *testing.T) {
	h := demo.Background[training.Training](time.Millisecond)
	tag := func(s string) *training.Training { x := training.NewTraining(); x.Tag = &s; return x }
	if err := h(context.Background(), tag("ok"), nil); err != nil {
		t.Errorf("ok: %v", err)
	}
	var we *worker.Error
	if err := h(context.Background(), tag("fail-me"), nil); !errors.As(err, &we) {
		t.Errorf("fail-me: %v; want a *worker.Error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h(ctx, training.NewTraining(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
