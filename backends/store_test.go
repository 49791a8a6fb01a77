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

// TestMutateKeepsTheKey: a mutate function that changes the task's id,
// status or version is refused, naming the field, and nothing is written;
// Fire took the mutated status for the task's (a refusal named a status
// the task never had), and Update named "status" whatever changed.
func TestMutateKeepsTheKey(t *testing.T) {
	ctx := context.Background()
	s := backends.NewStore[training.Training, training.Event](memory.New[training.Training]())
	x, err := s.Create(ctx, training.NewTraining(), backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*training.Training)
		fire   string
		update string
	}{
		{"status", func(x *training.Training) { x.Status = training.StatusRunning },
			"status: the event's mutate function cannot change the task's id, status or version; the event sets the status",
			"status: Update cannot change the task's id, status or version; fire an event to change the status"},
		{"version", func(x *training.Training) { x.Version += 3 },
			"version: the event's mutate function cannot change the task's id, status or version; the event sets the status",
			"version: Update cannot change the task's id, status or version; fire an event to change the status"},
		{"id", func(x *training.Training) { x.ID[0]++ },
			"id: the event's mutate function cannot change the task's id, status or version; the event sets the status",
			"id: Update cannot change the task's id, status or version; fire an event to change the status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.FireFrom(ctx, x, training.EventCancel, tc.mutate, backends.Meta{}); err == nil || err.Error() != tc.fire {
				t.Errorf("FireFrom: %v\nwant %s", err, tc.fire)
			}
			if _, err := s.Update(ctx, x, tc.mutate); err == nil || err.Error() != tc.update {
				t.Errorf("Update: %v\nwant %s", err, tc.update)
			}
			if now, err := s.Get(ctx, x.ID); err != nil || now.Status != training.StatusQueued || now.Version != x.Version {
				t.Errorf("the task is %s at version %d (%v); want it unchanged", now.Status, now.Version, err)
			}
		})
	}
}
