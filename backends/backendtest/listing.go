package backendtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/gen/evaluation"
	"github.com/taskmodel/taskmodel/gen/pipelinerun"
	"github.com/taskmodel/taskmodel/gen/training"
	"github.com/taskmodel/taskmodel/tasktype"
)

// ListingDrivers are the drivers of one isolated database for the listing
// suite: four models' drivers and the unified Lister over the same data.
// Training, Evaluation and Analysis have an owner field (the first two
// optional); PipelineRun has none.
type ListingDrivers struct {
	Training    backends.Driver[training.Training]
	Evaluation  backends.Driver[evaluation.Evaluation]
	Analysis    backends.Driver[analysis.Task]
	PipelineRun backends.Driver[pipelinerun.PipelineRun]
	Lister      backends.Lister
}

// ListingFactory makes fresh, empty ListingDrivers for one test.
type ListingFactory func(t testing.TB) ListingDrivers

// RunListing runs the unified-listing suite: every filter alone
// and combined, the window that keeps unfinished tasks, pagination without
// gaps or duplicates, the rows' fields, and the validation errors; then,
// over a data set of its own, the owner filter (runOwnerListing).
func RunListing(t *testing.T, newDrivers ListingFactory) {
	t.Run("owner", func(t *testing.T) { runOwnerListing(t, newDrivers) })
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

	list := func(t *testing.T, f backends.ListFilter) []backends.Row { return listRows(t, ctx, cat, f) }
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
		// MySQL's collation pads ('a' = 'a '): the filter is exact there too.
		{"tag with a trailing space", backends.ListFilter{Tag: tag("exp-1 "), WithinHours: 72, Limit: 50}, []uuid.UUID{}},
		{"combined (example: training, R, experiment tag, limit 5)", backends.ListFilter{TaskTypes: []string{"training"}, Statuses: codes("R"), Tag: tag("exp-1"), WithinHours: 1, Limit: 5}, []uuid.UUID{E}},
		{"combined (example: two types, Q and R, tag, 4 hours, limit 10)", backends.ListFilter{TaskTypes: []string{"training", "evaluation"}, Statuses: codes("Q", "R"), Tag: tag("exp-2"), WithinHours: 4, Limit: 10}, []uuid.UUID{B}},
		{"limit", backends.ListFilter{WithinHours: 72, Limit: 2}, []uuid.UUID{G, F.ID}},
		{"offset past the end", backends.ListFilter{WithinHours: 72, Limit: 10, Offset: 7}, []uuid.UUID{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rowIDs(list(t, tt.f)); !slices.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}

	t.Run("pagination has no gaps or duplicates", func(t *testing.T) {
		all := rowIDs(list(t, backends.ListFilter{WithinHours: 72, Limit: 100}))
		for _, size := range []int{1, 2, 3, 5} {
			var paged []uuid.UUID
			for off := 0; off < len(all)+size; off += size {
				paged = append(paged, rowIDs(list(t, backends.ListFilter{WithinHours: 72, Limit: size, Offset: off}))...)
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

// runOwnerListing checks the owner filter (a user who is not an admin lists
// only their tasks): alone and with every other filter, pagination, tasks
// whose optional owner is unset and models without an owner field (both
// visible to admins only), nil for an admin, and the validation errors.
func runOwnerListing(t *testing.T, newDrivers ListingFactory) {
	ctx := context.Background()
	clock := NewClock()
	d := newDrivers(t)
	opts := []backends.Option{backends.WithClock(clock.Now)}
	tr := backends.NewStore[training.Training, training.Event](d.Training, opts...)
	ev := backends.NewStore[evaluation.Evaluation, evaluation.Event](d.Evaluation, opts...)
	an := backends.NewStore[analysis.Task, analysis.Event](d.Analysis, opts...)
	pr := backends.NewStore[pipelinerun.PipelineRun, pipelinerun.Event](d.PipelineRun, opts...)
	cat := backends.NewCatalog(d.Lister, catalog.Models(), opts...)
	now := clock.Now()
	at := func(ago time.Duration) { clock.ns.Store(now.Add(-ago).UnixNano()) }
	str := func(s string) *string { return &s }
	msg := "boom"
	const alice, bob, none = "alice", "bob", ""

	// create stores x created ago by owner ("": unset), then fires steps.
	mkTraining := func(ago time.Duration, owner string, tg *string, steps ...training.Event) uuid.UUID {
		t.Helper()
		at(ago)
		x := training.NewTraining()
		x.Tag = tg
		if owner != none {
			x.SetOwner(owner)
		}
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
	mkEval := func(ago time.Duration, owner string, tg *string, steps ...evaluation.Event) uuid.UUID {
		t.Helper()
		at(ago)
		x := evaluation.NewEvaluation()
		x.Tag = tg
		x.SetOwner(owner)
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
	mkAnalysis := func(ago time.Duration, owner string) uuid.UUID {
		t.Helper()
		at(ago)
		x := analysis.NewTask()
		x.ToolID, x.Agents = "profile-my-data", []string{"a"}
		x.SetOwner(owner)
		y, err := an.Create(ctx, x, backends.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		return y.ID
	}
	mkRun := func(ago time.Duration, steps ...pipelinerun.Event) uuid.UUID {
		t.Helper()
		at(ago)
		x := pipelinerun.NewPipelineRun()
		x.Stage, x.Task = "STATIC", "Build Database"
		x.SetOwner(alice) // a no-op: the model has no owner field
		y, err := pr.Create(ctx, x, backends.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range steps {
			if y, err = pr.FireFrom(ctx, y, e, nil, backends.Meta{}); err != nil {
				t.Fatal(err)
			}
		}
		return y.ID
	}
	T1 := mkTraining(48*time.Hour, alice, str("exp-1"), training.EventStart, training.EventComplete) // D, old
	T3 := mkTraining(5*time.Hour, alice, str("exp-2"), training.EventStart, training.EventFail)      // F
	P2 := mkRun(4*time.Hour, pipelinerun.EventStart, pipelinerun.EventComplete)                      // D, no owner field
	E3 := mkEval(3*time.Hour, bob, str("exp-1"), evaluation.EventStart, evaluation.EventComplete)    // D
	E1 := mkEval(2*time.Hour, alice, nil)                                                            // Q, unfinished
	T2 := mkTraining(30*time.Minute, alice, str("exp-1"), training.EventStart)                       // R
	T5 := mkTraining(25*time.Minute, none, str("exp-1"), training.EventStart)                        // R, owner unset
	T4 := mkTraining(20*time.Minute, bob, str("exp-1"), training.EventStart)                         // R
	A2 := mkAnalysis(15*time.Minute, bob)                                                            // Q, no tag column
	A1 := mkAnalysis(10*time.Minute, alice)                                                          // Q, no tag column
	E2 := mkEval(5*time.Minute, alice, str("exp-2"), evaluation.EventCancel)                         // C
	P1 := mkRun(time.Minute)                                                                         // Q, no owner field
	clock.ns.Store(now.UnixNano())

	list := func(t *testing.T, f backends.ListFilter) []backends.Row { return listRows(t, ctx, cat, f) }
	codes := func(cs ...tasktype.Code) []tasktype.Code { return cs }
	both := []string{"training", "evaluation"}
	tests := []struct {
		name string
		f    backends.ListFilter
		want []uuid.UUID
	}{
		{"nil owner keeps every task (an admin)", backends.ListFilter{WithinHours: 72, Limit: 50}, []uuid.UUID{P1, E2, A1, A2, T4, T5, T2, E1, E3, P2, T3, T1}},
		{"alice", backends.ListFilter{Owner: str(alice), WithinHours: 72, Limit: 50}, []uuid.UUID{E2, A1, T2, E1, T3, T1}},
		{"bob", backends.ListFilter{Owner: str(bob), WithinHours: 72, Limit: 50}, []uuid.UUID{A2, T4, E3}},
		{"an owner with no tasks", backends.ListFilter{Owner: str("carol"), WithinHours: 72, Limit: 50}, []uuid.UUID{}},
		{"owners are exact", backends.ListFilter{Owner: str("Alice"), WithinHours: 72, Limit: 50}, []uuid.UUID{}},
		{"alice, last hour keeps her unfinished tasks", backends.ListFilter{Owner: str(alice), WithinHours: 1, Limit: 50}, []uuid.UUID{E2, A1, T2, E1}},
		{"alice, six hours", backends.ListFilter{Owner: str(alice), WithinHours: 6, Limit: 50}, []uuid.UUID{E2, A1, T2, E1, T3}},
		{"alice, task_type training", backends.ListFilter{Owner: str(alice), TaskTypes: []string{"training"}, WithinHours: 72, Limit: 50}, []uuid.UUID{T2, T3, T1}},
		{"alice, training and evaluation, last hour", backends.ListFilter{Owner: str(alice), TaskTypes: both, WithinHours: 1, Limit: 50}, []uuid.UUID{E2, T2, E1}},
		{"alice, task_type analysis (no tag column)", backends.ListFilter{Owner: str(alice), TaskTypes: []string{"analysis"}, WithinHours: 72, Limit: 50}, []uuid.UUID{A1}},
		{"alice, status Q", backends.ListFilter{Owner: str(alice), Statuses: codes("Q"), WithinHours: 1, Limit: 50}, []uuid.UUID{A1, E1}},
		{"alice, status R", backends.ListFilter{Owner: str(alice), Statuses: codes("R"), WithinHours: 1, Limit: 50}, []uuid.UUID{T2}},
		{"alice, status D and C", backends.ListFilter{Owner: str(alice), Statuses: codes("D", "C"), WithinHours: 72, Limit: 50}, []uuid.UUID{E2, T1}},
		{"alice, status F in 24 hours", backends.ListFilter{Owner: str(alice), Statuses: codes("F"), WithinHours: 24, Limit: 50}, []uuid.UUID{T3}},
		{"bob, status D", backends.ListFilter{Owner: str(bob), Statuses: codes("D"), WithinHours: 72, Limit: 50}, []uuid.UUID{E3}},
		{"alice, tag exp-1", backends.ListFilter{Owner: str(alice), Tag: str("exp-1"), WithinHours: 72, Limit: 50}, []uuid.UUID{T2, T1}},
		{"alice, tag exp-2", backends.ListFilter{Owner: str(alice), Tag: str("exp-2"), WithinHours: 72, Limit: 50}, []uuid.UUID{E2, T3}},
		{"bob, tag exp-1", backends.ListFilter{Owner: str(bob), Tag: str("exp-1"), WithinHours: 72, Limit: 50}, []uuid.UUID{T4, E3}},
		{"nil owner, tag exp-1 (unset owners included)", backends.ListFilter{Tag: str("exp-1"), WithinHours: 72, Limit: 50}, []uuid.UUID{T4, T5, T2, E3, T1}},
		{"alice, tag nobody has", backends.ListFilter{Owner: str(alice), Tag: str("nope"), WithinHours: 72, Limit: 50}, []uuid.UUID{}},
		{"alice, every filter", backends.ListFilter{Owner: str(alice), TaskTypes: both, Statuses: codes("Q", "R", "D"), Tag: str("exp-1"), WithinHours: 72, Limit: 1}, []uuid.UUID{T2}},
		{"alice, every filter, second page", backends.ListFilter{Owner: str(alice), TaskTypes: both, Statuses: codes("Q", "R", "D"), Tag: str("exp-1"), WithinHours: 72, Limit: 1, Offset: 1}, []uuid.UUID{T1}},
		{"alice, every filter, last hour", backends.ListFilter{Owner: str(alice), TaskTypes: both, Statuses: codes("Q", "R", "D"), Tag: str("exp-1"), WithinHours: 1, Limit: 10}, []uuid.UUID{T2}},
		{"bob, every filter (example: two types, Q and R, tag, 4 hours, limit 10)", backends.ListFilter{Owner: str(bob), TaskTypes: both, Statuses: codes("Q", "R"), Tag: str("exp-1"), WithinHours: 4, Limit: 10}, []uuid.UUID{T4}},
		{"alice, limit", backends.ListFilter{Owner: str(alice), WithinHours: 72, Limit: 2}, []uuid.UUID{E2, A1}},
		{"alice, offset", backends.ListFilter{Owner: str(alice), WithinHours: 72, Limit: 10, Offset: 4}, []uuid.UUID{T3, T1}},
		{"alice, offset past the end", backends.ListFilter{Owner: str(alice), WithinHours: 72, Limit: 10, Offset: 6}, []uuid.UUID{}},
		{"nil owner, a model without owner field", backends.ListFilter{TaskTypes: []string{"pipeline_run"}, WithinHours: 72, Limit: 50}, []uuid.UUID{P1, P2}},
		{"alice, only a model without owner field", backends.ListFilter{Owner: str(alice), TaskTypes: []string{"pipeline_run"}, WithinHours: 72, Limit: 50}, []uuid.UUID{}},
		{"nil owner, status Q", backends.ListFilter{Statuses: codes("Q"), WithinHours: 1, Limit: 50}, []uuid.UUID{P1, A1, A2, E1}},
		{"alice, status Q and a model without owner field", backends.ListFilter{Owner: str(alice), TaskTypes: []string{"pipeline_run", "analysis"}, Statuses: codes("Q"), WithinHours: 1, Limit: 50}, []uuid.UUID{A1}},
		{"an owner of 255 characters", backends.ListFilter{Owner: str(strings.Repeat("é", 255)), WithinHours: 72, Limit: 50}, []uuid.UUID{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rowIDs(list(t, tt.f)); !slices.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}

	t.Run("pagination by owner has no gaps or duplicates", func(t *testing.T) {
		for _, owner := range []string{alice, bob} {
			all := rowIDs(list(t, backends.ListFilter{Owner: &owner, WithinHours: 72, Limit: 100}))
			for _, size := range []int{1, 2, 4} {
				var paged []uuid.UUID
				for off := 0; off < len(all)+size; off += size {
					paged = append(paged, rowIDs(list(t, backends.ListFilter{Owner: &owner, WithinHours: 72, Limit: size, Offset: off}))...)
				}
				if !slices.Equal(paged, all) {
					t.Errorf("%s, pages of %d: %v\nwant %v", owner, size, paged, all)
				}
			}
		}
	})

	t.Run("models without owner field are not read for an owner", func(t *testing.T) {
		q, err := cat.Resolve(backends.ListFilter{Owner: str(alice), WithinHours: 72, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := q.Statuses["pipeline_run"]; ok || q.Owner == nil || *q.Owner != alice {
			t.Errorf("Resolve = %+v: want alice and no pipeline_run", q)
		}
		// The Lister applies the rule on its own too: asked for every
		// status of every model, it returns none of pipeline_run's tasks.
		all, err := cat.Resolve(backends.ListFilter{WithinHours: 72, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		all.Owner = str(alice)
		rows, err := d.Lister.List(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := rowIDs(rows), []uuid.UUID{E2, A1, T2, E1, T3, T1}; !slices.Equal(got, want) {
			t.Errorf("Lister.List(every model, alice) = %v\nwant %v", got, want)
		}
	})

	t.Run("invalid owners are errors naming the field", func(t *testing.T) {
		for _, bad := range []struct {
			owner, rule, msg string
		}{
			{"", "min_len", "owner: must be 1 to 255 characters (got 0)"},
			{strings.Repeat("u", 256), "max_len", "owner: must be 1 to 255 characters (got 256)"},
			{strings.Repeat("é", 300), "max_len", "owner: must be 1 to 255 characters (got 300)"},
			{"al\xffice", "utf8", "owner: must be valid UTF-8"},
		} {
			_, err := cat.List(ctx, backends.ListFilter{Owner: &bad.owner, WithinHours: 1, Limit: 10})
			var fe *tasktype.FieldError
			if !errors.As(err, &fe) || fe.Field != "owner" || fe.Rule != bad.rule || err.Error() != bad.msg || !errors.Is(err, tasktype.ErrValidation) {
				t.Errorf("List(owner %.20q) = %v, want a FieldError on owner (%s): %s", bad.owner, err, bad.rule, bad.msg)
			}
		}
	})
}

// rowIDs returns the ids of listing rows, in order.
func rowIDs(rows []backends.Row) []uuid.UUID {
	out := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// listRows lists through cat and fails the test on an error.
func listRows(t *testing.T, ctx context.Context, cat *backends.Catalog, f backends.ListFilter) []backends.Row {
	t.Helper()
	rows, err := cat.List(ctx, f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return rows
}
