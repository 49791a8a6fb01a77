package backends_test

import (
	"context"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/training"
)

// plainDriver hides its driver's InsertMany, as a wrapper that embeds the
// Driver interface does.
type plainDriver struct {
	backends.Driver[training.Training]
}

// TestCreateManyNeedsBatchInserter: over a driver that writes one task at a
// time, CreateMany writes nothing and says why, rather than leave a part of
// the batch written when a later task fails.
func TestCreateManyNeedsBatchInserter(t *testing.T) {
	ctx := context.Background()
	d := memory.New[training.Training]()
	s := backends.NewStore[training.Training, training.Event](plainDriver{d})
	_, err := s.CreateMany(ctx, []*training.Training{training.NewTraining()}, backends.Meta{})
	if err == nil || !strings.Contains(err.Error(), "not a backends.BatchInserter") {
		t.Fatalf("CreateMany over a plain driver: %v", err)
	}
	if left, err := d.ListByStatus(ctx, string(training.StatusQueued), 10); err != nil || len(left) != 0 {
		t.Errorf("%d tasks written, %v; want none", len(left), err)
	}
	// The same store's driver unwrapped takes the batch.
	xs, err := backends.NewStore[training.Training, training.Event](d).CreateMany(ctx, []*training.Training{training.NewTraining(), training.NewTraining()}, backends.Meta{})
	if err != nil || len(xs) != 2 {
		t.Fatalf("CreateMany over the memory driver: %d, %v", len(xs), err)
	}
}
