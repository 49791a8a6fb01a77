package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/pgdb"
	"github.com/taskmodel/taskmodel/sdk/engine"
)

// TestBatchesKeepEachRowsNulls: concurrent transitions are written together
// (TransitionMany, one array parameter per column, with a NULL-marking array
// per nullable column), and each task keeps its own values and NULLs: here
// every task sets one optional field and leaves another unset, alternating.
func TestBatchesKeepEachRowsNulls(t *testing.T) {
	ctx := context.Background()
	pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t), training.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	e := engine.New[training.Training, training.Event](trainingdb.NewDriver(pool))
	const n = 64
	xs := make([]*training.Training, n)
	for i := range xs {
		xs[i] = training.NewTraining()
	}
	xs, err = e.CreateMany(ctx, xs, engine.Meta{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, x := range xs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.FireFrom(ctx, x, training.EventStart, func(y *training.Training) {
				v := fmt.Sprintf("value-%d", i)
				y.Tag, y.BaseModel = nil, nil
				if i%2 == 0 {
					y.Tag = &v
				} else {
					y.BaseModel = &v
				}
			}, engine.Meta{Actor: "test"})
		}()
	}
	wg.Wait()
	for i, x := range xs {
		if errs[i] != nil {
			t.Fatalf("task %d: %v", i, errs[i])
		}
		got, err := e.Get(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("value-%d", i)
		set, unset := got.Tag, got.BaseModel
		if i%2 == 1 {
			set, unset = got.BaseModel, got.Tag
		}
		if set == nil || *set != want || unset != nil {
			t.Errorf("task %d: tag %v, base_model %v; want %q in the one it set and NULL in the other", i, str(got.Tag), str(got.BaseModel), want)
		}
	}
}

func str(p *string) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *p)
}
