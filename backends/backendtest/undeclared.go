package backendtest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/tasktype"
)

// StoreText writes text into a column of the analysis task id, past the
// column's CHECK, as a program built from a newer spec (one that declares
// more statuses or error codes) would have: each backend's tests give the
// statements of their engine.
type StoreText func(ctx context.Context, id uuid.UUID, column, value string) error

// RunUndeclaredValues checks that a driver refuses to read a task row whose
// status or error code this program's spec does not declare, the same way
// on every engine: a *backends.UndeclaredValueError naming the column, the
// value, the allowed values and the likely cause, for Get and for a listing
// that meets the row, while the other tasks still read. A task holding an
// undeclared status that reaches the store anyway (built in Go) is refused
// by Fire, without a panic.
func RunUndeclaredValues(t *testing.T, open func(t testing.TB) (backends.Driver[analysis.Task], StoreText)) {
	for _, tt := range []struct{ column, value string }{
		{"status", "REVIEW"},
		{"error_code", "QUOTA_EXCEEDED"},
	} {
		t.Run(tt.column, func(t *testing.T) {
			d, store := open(t)
			ctx := context.Background()
			e := env{ctx: ctx, clock: NewClock()}
			e.store = backends.NewStore[analysis.Task, analysis.Event](d, backends.WithClock(e.clock.Now))
			x := e.create(t)
			other := e.create(t)
			if err := store(ctx, x.ID, tt.column, tt.value); err != nil {
				t.Fatalf("store %s = %s: %v", tt.column, tt.value, err)
			}
			check := func(what string, err error) {
				t.Helper()
				var ue *backends.UndeclaredValueError
				if !errors.As(err, &ue) || !errors.Is(err, backends.ErrUndeclaredValue) {
					t.Fatalf("%s: %v (%T), want a *backends.UndeclaredValueError", what, err, err)
				}
				if ue.Table != "analysis" || ue.Column != tt.column || ue.Value != tt.value || len(ue.Allowed) == 0 {
					t.Errorf("%s: %+v", what, ue)
				}
				msg := err.Error()
				for _, want := range []string{"column " + tt.column, `"` + tt.value + `"`, ue.Allowed[0], "newer spec"} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: %q does not say %q", what, msg, want)
					}
				}
				for _, not := range []string{"Scan error", "column index", "analysis.", "ErrorCode", "Status("} {
					if strings.Contains(msg, not) {
						t.Errorf("%s: %q says %q", what, msg, not)
					}
				}
			}
			_, err := d.Get(ctx, x.ID)
			check("Get", err)
			_, err = e.store.Get(ctx, x.ID)
			check("Store.Get", err)
			_, err = e.store.Fire(ctx, x.ID, analysis.EventRequestUploadURLs, nil, backends.Meta{})
			check("Store.Fire", err)
			// The listing that meets the row fails as a whole: skipping
			// the row would leave a task out without a word.
			listed := string(analysis.StatusCreated)
			if tt.column == "status" {
				listed = tt.value
			}
			_, err = d.ListByStatus(ctx, listed, 10)
			check("ListByStatus "+listed, err)
			if got, err := d.Get(ctx, other.ID); err != nil || got.Status != analysis.StatusCreated {
				t.Fatalf("Get of another task: %v, %v", got, err)
			}
			if tt.column == "status" {
				got, err := d.ListByStatus(ctx, string(analysis.StatusCreated), 10)
				if err != nil || len(got) != 1 || got[0].ID != other.ID {
					t.Fatalf("ListByStatus CREATED: %v, %v", got, err)
				}
			}
		})
	}
	t.Run("FireFromAnUndeclaredStatus", func(t *testing.T) {
		d, _ := open(t)
		ctx := context.Background()
		e := env{ctx: ctx, clock: NewClock()}
		e.store = backends.NewStore[analysis.Task, analysis.Event](d, backends.WithClock(e.clock.Now))
		x := e.create(t)
		x.Status = "REVIEW"
		_, err := e.store.FireFrom(ctx, x, analysis.EventRequestUploadURLs, nil, backends.Meta{})
		if !errors.Is(err, tasktype.ErrTransitionNotAllowed) || !strings.Contains(err.Error(), `"REVIEW"`) {
			t.Fatalf("FireFrom REVIEW: %v", err)
		}
		if got, err := d.Get(ctx, x.ID); err != nil || got.Status != analysis.StatusCreated {
			t.Fatalf("after the refused Fire: %v, %v", got, err)
		}
	})
}

// RunOldWriter checks that a driver reports the database refusing a write
// the program's own validation let through, which happens to a program
// built from an older spec while a newer one's migration has changed the
// schema (a rolling deploy), as a *tasktype.ValidationError: a broken CHECK
// names its constraint. When addRequired is not nil it adds a required
// column without a default, "extra", which the program does not know: its
// creates then fail with a ValidationError naming the column.
func RunOldWriter(t *testing.T, open func(t testing.TB) (backends.Driver[analysis.Task], func(context.Context) error)) {
	t.Run("check", func(t *testing.T) {
		d, _ := open(t)
		ctx := context.Background()
		x := stamped()
		x.Version = 1    // as the store would
		x.Progress = 101 // the store's validation would refuse it; the driver does not validate
		err := d.Insert(ctx, x, backends.History{To: string(x.Status), At: x.CreatedAt, Actor: "test"})
		var ve *tasktype.ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, tasktype.ErrValidation) || !strings.Contains(err.Error(), "the value breaks the database's constraint ") {
			t.Fatalf("Insert with progress 101: %v (%T)", err, err)
		}
		if strings.HasSuffix(err.Error(), "constraint ") {
			t.Errorf("%q names no constraint", err)
		}
		if f := ve.Fields[0]; f.Field != "progress" || f.Rule != "check" {
			t.Errorf("the refusal names field %q (rule %q), want progress", f.Field, f.Rule)
		}
	})
	t.Run("required", func(t *testing.T) {
		d, addRequired := open(t)
		if addRequired == nil {
			t.Skip("the engine adds no required column in place")
		}
		ctx := context.Background()
		if err := addRequired(ctx); err != nil {
			t.Fatal(err)
		}
		x := stamped()
		err := d.Insert(ctx, x, backends.History{To: string(x.Status), At: x.CreatedAt, Actor: "test"})
		var ve *tasktype.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "extra" || ve.Fields[0].Rule != "required" {
			t.Fatalf("Insert without the required column: %v (%T)", err, err)
		}
	})
}

// stamped is a new task with the times the store would set.
func stamped() *analysis.Task {
	x := newTask()
	x.ID = uuid.New()
	x.CreatedAt = NewClock().Now()
	x.UpdatedAt = x.CreatedAt
	return x
}
