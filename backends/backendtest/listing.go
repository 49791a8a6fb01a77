package backendtest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/gen/evaluation"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/tasktype"
)

// ListingDrivers are the drivers of one isolated database for the listing
// suite: three models' drivers and the unified Lister over the same data.
type ListingDrivers struct {
	Training   backends.Driver[training.Training]
	Evaluation backends.Driver[evaluation.Evaluation]
	Analysis   backends.Driver[analysis.Task]
	Lister     backends.Lister
}

// ListingFactory makes fresh, empty ListingDrivers for one test.
type ListingFactory func(t testing.TB) ListingDrivers

// RunListing runs the unified-listing suite (seed 002): every filter alone
// and combined, the window that keeps unfinished tasks, pagination without
// gaps or duplicates, the rows' fields, and the validation errors.
func RunListing(t *testing.T, newDrivers ListingFactory) {
	ctx := context.Background()
	clock := NewClock()
	d := newDrivers(t)
	opts := []backends.Option{backends.WithClock(clock.Now)}
	tr := backends.NewStore[training.Training, training.Event](d.Training, opts...)
	ev := backends.NewStore[evaluation.Evaluation, evaluation.Event](d.Evaluation, opts...)
	an := backends.NewStore[analysis.Task, analysis.Event](d.Analysis, opts...)
	cat := backends.NewCatalog(d.Lister, catalog.Models(), opts...)
	now := clock.Now()
	at := func(ago time.Duration) { clock.ns.Store(now.Add(-ago).UnixNano()) }
	tag := func(s string) *string { return &s }
	msg := "boom"

	// The tasks, oldest first: name, created ago, type, tag, final status.
	mk := func(ago time.Duration, tg *string, steps ...training.Event) uuid.UUID {
		t.Helper()
		at(ago)
		x := training.NewTraining()
		x.Tag = tg
		y, err := tr.Create(ctx, x, backends.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range steps {
			if y, err = tr.FireFrom(ctx, y, e, func(z *training.Training) { z.ErrorMessage = &msg }, backends.Meta{}); err != nil {
				t.Fatal(err)
			}
		}
		return y.ID
	}
	mkEval := func(ago time.Duration, tg *string, steps ...evaluation.Event) uuid.UUID {
		t.Helper()
		at(ago)
		x := evaluation.NewEvaluation()
		x.Tag = tg
		y, err := ev.Create(ctx, x, backends.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range steps {
			if y, err = ev.FireFrom(ctx, y, e, nil, backends.Meta{}); err != nil {
				t.Fatal(err)
			}
		}
		return y.ID
	}
	A := mk(48*time.Hour, tag("exp-1"), training.EventStart, training.EventComplete) // training, DONE
	B := mkEval(30*time.Hour, tag("exp-2"), evaluation.EventStart)                   // evaluation, RUNNING, old
	C := mk(5*time.Hour, tag("exp-1"), training.EventStart, training.EventFail)      // training, FAILED
	D := mkEval(2*time.Hour, nil)                                                    // evaluation, QUEUED
	E := mk(30*time.Minute, tag("exp-1"), training.EventStart)                       // training, RUNNING
	at(10 * time.Minute)
	fx := analysis.NewTask()
	fx.UserID, fx.ToolID, fx.Agents = "u", "profile-my-data", []string{"a"}
	F, err := an.Create(ctx, fx, backends.Meta{}) // analysis, CREATED (Q), no tag column
	if err != nil {
		t.Fatal(err)
	}
	G := mkEval(5*time.Minute, tag("exp-1"), evaluation.EventCancel) // evaluation, CANCELLED
	clock.ns.Store(now.UnixNano())

	ids := func(rows []backends.Row) []uuid.UUID {
		out := make([]uuid.UUID, len(rows))
		for i, r := range rows {
			out[i] = r.ID
		}
		return out
	}
	list := func(t *testing.T, f backends.ListFilter) []backends.Row {
		t.Helper()
		rows, err := cat.List(ctx, f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		return rows
	}
	codes := func(cs ...tasktype.Code) []tasktype.Code { return cs }
	tests := []struct {
		name string
		f    backends.ListFilter
		want []uuid.UUID
	}{
		{"last hour keeps unfinished tasks", backends.ListFilter{WithinHours: 1, Limit: 50}, []uuid.UUID{G, F.ID, E, D, B}},
		{"six hours", backends.ListFilter{WithinHours: 6, Limit: 50}, []uuid.UUID{G, F.ID, E, D, C, B}},
		{"three days", backends.ListFilter{WithinHours: 72, Limit: 50}, []uuid.UUID{G, F.ID, E, D, C, B, A}},
		{"task_type training", backends.ListFilter{TaskTypes: []string{"training"}, WithinHours: 72, Limit: 50}, []uuid.UUID{E, C, A}},
		{"task_type training and evaluation", backends.ListFilter{TaskTypes: []string{"training", "evaluation"}, WithinHours: 6, Limit: 50}, []uuid.UUID{G, E, D, C, B}},
		{"status R", backends.ListFilter{Statuses: codes("R"), WithinHours: 1, Limit: 50}, []uuid.UUID{E, B}},
		{"status Q", backends.ListFilter{Statuses: codes("Q"), WithinHours: 1, Limit: 50}, []uuid.UUID{F.ID, D}},
		{"status F in 24 hours", backends.ListFilter{Statuses: codes("F"), WithinHours: 24, Limit: 50}, []uuid.UUID{C}},
		{"status D and C", backends.ListFilter{Statuses: codes("D", "C"), WithinHours: 72, Limit: 50}, []uuid.UUID{G, A}},
		{"tag", backends.ListFilter{Tag: tag("exp-1"), WithinHours: 72, Limit: 50}, []uuid.UUID{G, E, C, A}},
		{"tag nobody has", backends.ListFilter{Tag: tag("nope"), WithinHours: 72, Limit: 50}, []uuid.UUID{}},
		{"combined (seed: training, R, experiment tag, limit 5)", backends.ListFilter{TaskTypes: []string{"training"}, Statuses: codes("R"), Tag: tag("exp-1"), WithinHours: 1, Limit: 5}, []uuid.UUID{E}},
		{"combined (seed: two types, Q and R, tag, 4 hours, limit 10)", backends.ListFilter{TaskTypes: []string{"training", "evaluation"}, Statuses: codes("Q", "R"), Tag: tag("exp-2"), WithinHours: 4, Limit: 10}, []uuid.UUID{B}},
		{"limit", backends.ListFilter{WithinHours: 72, Limit: 2}, []uuid.UUID{G, F.ID}},
		{"offset past the end", backends.ListFilter{WithinHours: 72, Limit: 10, Offset: 7}, []uuid.UUID{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(list(t, tt.f)); !slices.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}

	t.Run("pagination has no gaps or duplicates", func(t *testing.T) {
		all := ids(list(t, backends.ListFilter{WithinHours: 72, Limit: 100}))
		for _, size := range []int{1, 2, 3, 5} {
			var paged []uuid.UUID
			for off := 0; off < len(all)+size; off += size {
				paged = append(paged, ids(list(t, backends.ListFilter{WithinHours: 72, Limit: size, Offset: off}))...)
			}
			if !slices.Equal(paged, all) {
				t.Errorf("pages of %d: %v\nwant %v", size, paged, all)
			}
		}
	})

	t.Run("rows", func(t *testing.T) {
		rows := list(t, backends.ListFilter{WithinHours: 72, Limit: 100})
		byID := map[uuid.UUID]backends.Row{}
		for _, r := range rows {
			byID[r.ID] = r
		}
		c, f := byID[C], byID[F.ID]
		if c.TaskType != "training" || c.TaskStatus != tasktype.CodeFailed || c.Tag == nil || *c.Tag != "exp-1" ||
			!c.CreatedAt.Equal(now.Add(-5*time.Hour).Truncate(time.Microsecond)) || c.EndDate == nil || !c.EndDate.Equal(c.CreatedAt) {
			t.Errorf("row C = %+v", c)
		}
		if f.TaskType != "analysis" || f.TaskStatus != tasktype.CodeQueued || f.Tag != nil || f.EndDate != nil {
			t.Errorf("row F = %+v", f)
		}
		if d := byID[D]; d.Tag != nil || d.EndDate != nil || d.TaskStatus != tasktype.CodeQueued {
			t.Errorf("row D = %+v", d)
		}
	})

	t.Run("invalid filters are errors naming the field", func(t *testing.T) {
		for _, bad := range []struct {
			f     backends.ListFilter
			field string
		}{
			{backends.ListFilter{WithinHours: 1, Limit: 0}, "limit"},
			{backends.ListFilter{WithinHours: 1, Limit: 101}, "limit"},
			{backends.ListFilter{WithinHours: 0, Limit: 10}, "within_hours"},
			{backends.ListFilter{WithinHours: 1, Limit: 10, Offset: -1}, "offset"},
			{backends.ListFilter{WithinHours: 1, Limit: 10, TaskTypes: []string{"cooking"}}, "task_type"},
			{backends.ListFilter{WithinHours: 1, Limit: 10, Statuses: codes("X")}, "status"},
		} {
			_, err := cat.List(ctx, bad.f)
			var fe *tasktype.FieldError
			if !errors.As(err, &fe) || fe.Field != bad.field || !errors.Is(err, tasktype.ErrValidation) {
				t.Errorf("List(%+v) = %v, want a FieldError on %s", bad.f, err, bad.field)
			}
		}
	})
}
