package pipeline_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/sdk/pipeline"
	"github.com/taskmodel/taskmodel/tasktype"
)

func ids(runs []*pipeline.Run) []uuid.UUID {
	var out []uuid.UUID
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

func TestQueries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		// Two runs of Build Database (the first failed), one of Install R
		// (running), none of Install System Dependencies.
		first := e.start(t, "STATIC", "Build Database", 0)
		if _, err := e.tr.Fail(e.ctx, first.ID, "boom", ""); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		second := e.start(t, "STATIC", "Build Database", 0)
		e.clock.Advance(time.Second)
		inst := e.start(t, "PREREQ", "Install R", 0)
		if err := updateRun(30)(e, inst.ID); err != nil {
			t.Fatal(err)
		}

		status, err := e.tr.Status(e.ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			stage, task string
			status      pipelinerun.Status
			run         uuid.UUID
		}
		var got []row
		for _, s := range status {
			var id uuid.UUID
			if s.Run != nil {
				id = s.Run.ID
			}
			got = append(got, row{s.Stage, s.Task, s.Status, id})
		}
		want := []row{
			{"PREREQ", "Install System Dependencies", pipelinerun.StatusNotStarted, uuid.Nil},
			{"PREREQ", "Install R", pipelinerun.StatusRunning, inst.ID},
			{"STATIC", "Build Database", pipelinerun.StatusStarted, second.ID},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Status:\n got %+v\nwant %+v", got, want)
		}
		if s, _ := e.tr.Status(e.ctx, "STATIC"); len(s) != 1 || s[0].Run.ID != second.ID {
			t.Fatalf("Status(STATIC) = %+v", s)
		}

		active, err := e.tr.Active(e.ctx)
		if err != nil || !reflect.DeepEqual(ids(active), []uuid.UUID{second.ID, inst.ID}) {
			t.Fatalf("Active = %v, %v", ids(active), err)
		}

		cases := []struct {
			q    pipeline.HistoryQuery
			want []uuid.UUID
		}{
			{pipeline.HistoryQuery{}, []uuid.UUID{inst.ID, second.ID, first.ID}},
			{pipeline.HistoryQuery{Stage: "STATIC"}, []uuid.UUID{second.ID, first.ID}},
			{pipeline.HistoryQuery{Stage: "STATIC", Task: "Build Database", Limit: 1}, []uuid.UUID{second.ID}},
			{pipeline.HistoryQuery{Task: "Install R"}, []uuid.UUID{inst.ID}},
			{pipeline.HistoryQuery{Stage: "DAILY"}, nil},
		}
		for _, c := range cases {
			h, err := e.tr.History(e.ctx, c.q)
			if err != nil || !reflect.DeepEqual(ids(h), c.want) {
				t.Errorf("History(%+v) = %v, %v; want %v", c.q, ids(h), err, c.want)
			}
		}
		for _, limit := range []int{-1, pipeline.MaxHistoryLimit + 1} {
			if _, err := e.tr.History(e.ctx, pipeline.HistoryQuery{Limit: limit}); !errors.Is(err, tasktype.ErrValidation) {
				t.Errorf("History(limit %d) = %v, want ErrValidation", limit, err)
			}
		}
		h, _ := e.tr.History(e.ctx, pipeline.HistoryQuery{Limit: 1})
		if g, w := h[0], e.run(t, inst.ID); !reflect.DeepEqual(g, w) {
			t.Logf("env %#v %#v; created %#v %#v", g.Environment, w.Environment, g.CreatedAt.Location(), w.CreatedAt.Location())
			t.Errorf("history row %+v differs from the run %+v", h[0], e.run(t, inst.ID))
		}
	})
}

func TestHistoryDefaultLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		for range pipeline.DefaultHistoryLimit + 5 {
			e.clock.Advance(time.Millisecond)
			e.start(t, "PREREQ", "Install R", 0)
		}
		h, err := e.tr.History(e.ctx, pipeline.HistoryQuery{})
		if err != nil || len(h) != pipeline.DefaultHistoryLimit {
			t.Fatalf("History = %d runs, %v", len(h), err)
		}
		for i := 1; i < len(h); i++ {
			if !h[i-1].CreatedAt.After(h[i].CreatedAt) {
				t.Fatalf("not newest first at %d: %v then %v", i, h[i-1].CreatedAt, h[i].CreatedAt)
			}
		}
	})
}

func TestEstimateThroughTheTracker(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		r := e.start(t, "STATIC", "Build Database", 2)
		if err := startSub(1, ptr(int64(200)))(e, r.ID); err != nil {
			t.Fatal(err)
		}
		if est, err := e.tr.Estimate(e.ctx, r.ID); err != nil || est.Known {
			t.Fatalf("before any item: %+v, %v", est, err)
		}
		e.clock.Advance(50 * time.Second)
		if err := increment(1, 100)(e, r.ID); err != nil {
			t.Fatal(err)
		}
		est, err := e.tr.Estimate(e.ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !est.Known || est.Rate != 2 || est.RemainingSeconds != 50 || len(est.Subtasks) != 1 || est.ItemsTotal != 200 {
			t.Fatalf("estimate %+v", est)
		}
		if want := e.clock.Now().Add(50 * time.Second).Truncate(time.Microsecond); !est.ETA.Equal(want) {
			t.Errorf("ETA %v, want %v", est.ETA, want)
		}
		if _, err := e.tr.Estimate(e.ctx, uuid.New()); !errors.Is(err, tasktype.ErrNotFound) {
			t.Errorf("unknown run: %v", err)
		}
	})
}
