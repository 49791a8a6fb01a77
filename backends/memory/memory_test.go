package memory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/evaluation"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/tasktype"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t testing.TB) backends.Driver[analysis.Task] {
		return memory.New[analysis.Task]()
	})
}

// go test ./backends/memory -run '^$' -bench Transitions
func BenchmarkTransitions(b *testing.B) {
	backendtest.BenchmarkTransitions(b, func(testing.TB) backends.Driver[analysis.Task] { return memory.New[analysis.Task]() })
}

func TestListing(t *testing.T) {
	backendtest.RunListing(t, func(testing.TB) backendtest.ListingDrivers {
		tr, ev, an, pr := memory.New[training.Training](), memory.New[evaluation.Evaluation](), memory.New[analysis.Task](), memory.New[pipelinerun.PipelineRun]()
		return backendtest.ListingDrivers{Training: tr, Evaluation: ev, Analysis: an, PipelineRun: pr, Lister: memory.NewLister(tr, ev, an, pr)}
	})
}

func TestStoreIDs(t *testing.T) {
	id := uuid.MustParse("00000000-0000-7000-8000-000000000001")
	store := backends.NewStore[analysis.Task, analysis.Event](memory.New[analysis.Task](), backends.WithIDs(func() uuid.UUID { return id }))
	x := analysis.NewTask()
	x.UserID, x.ToolID, x.Agents = "u", "t", []string{"a"}
	got, err := store.Create(context.Background(), x, backends.Meta{})
	if err != nil || got.ID != id {
		t.Fatalf("Create = %v, %v; want id %s", got, err, id)
	}
	if _, err := store.Create(context.Background(), x, backends.Meta{}); !errors.Is(err, tasktype.ErrDuplicate) {
		t.Errorf("second Create with the same id: %v", err)
	}
}

func TestLeases(t *testing.T) {
	backendtest.RunLeases(t, func(testing.TB) backends.Leases { return memory.NewLeases() })
}

// TestGetWhileUpdating: Get reads a task's stored form while Update
// replaces it; under -race this failed before Get copied it under the lock.
func TestGetWhileUpdating(t *testing.T) {
	ctx := context.Background()
	store := backends.NewStore[analysis.Task, analysis.Event](memory.New[analysis.Task]())
	x := analysis.NewTask()
	x.UserID, x.ToolID, x.Agents = "u", "profile-my-data", []string{"a"}
	x, err := store.Create(ctx, x, backends.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		cur := x
		for range 200 {
			next, err := store.Update(ctx, cur, func(a *analysis.Task) { a.UserID += "x" })
			if err != nil {
				t.Error(err)
				return
			}
			cur = next
		}
	}()
	for range 200 {
		if _, err := store.Get(ctx, x.ID); err != nil {
			t.Fatal(err)
		}
	}
	<-done
}
