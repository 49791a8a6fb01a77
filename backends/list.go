package backends

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/taskmodel/taskmodel/tasktype"
)

// Row is one task in the unified listing (an alias of tasktype.Row, which
// generated models return from their ListRow method).
type Row = tasktype.Row

// ListFilter selects tasks of the unified listing. The zero value is not
// valid: Limit and WithinHours must be set (the HTTP layer applies its
// defaults); values out of range are errors, never clamped.
type ListFilter struct {
	// TaskTypes keeps tasks of these models; empty keeps every model.
	TaskTypes []string
	// Statuses keeps tasks whose status has one of these unified codes;
	// empty keeps every status.
	Statuses []tasktype.Code
	// Tag keeps tasks with exactly this tag; nil keeps every task.
	Tag *string
	// Owner keeps the tasks of this user: those whose owner field (the
	// spec's api owner) equals it. Models without an owner field contribute
	// no rows, and neither do tasks whose optional owner is unset: such
	// tasks are visible to admins only. Nil keeps every task (an admin's
	// listing). A non-nil owner must be 1 to MaxOwnerLen characters.
	Owner *string
	// WithinHours keeps tasks created in the last WithinHours hours, and
	// unfinished tasks whenever they were created (as a dashboard of
	// running work expects). At least 1.
	WithinHours int
	// Limit is the page size, 1 to 100.
	Limit int
	// Offset skips that many tasks, at least 0.
	Offset int
}

// MaxWithinHours bounds ListFilter.WithinHours (ten years), so that the
// window's start stays a valid time.
const MaxWithinHours = 24 * 366 * 10

// MaxOffset bounds ListFilter.Offset: deeper pages cost the database a scan
// of every row skipped, and no listing holds that many recent tasks to page
// through; narrow the filter instead.
const MaxOffset = 1_000_000

// MaxOwnerLen bounds ListFilter.Owner, in characters (the owner columns'
// bound).
const MaxOwnerLen = 255

// ListQuery is a validated ListFilter resolved for the SQL: which models to
// read, which statuses of each (from the codes), and since when.
type ListQuery struct {
	// Statuses maps each model to read to the statuses to keep; a model that
	// is absent is not read.
	Statuses map[string][]string
	Tag      *string
	// Owner keeps only tasks whose owner field equals it; nil keeps every
	// task. Resolve leaves models without an owner field out of Statuses
	// when it is set, and Listers also return no rows of such models.
	Owner  *string
	Since  time.Time
	Limit  int
	Offset int
}

// Lister reads the unified listing. taskgen generates one per engine in
// gen/catalog; package memory has one over memory drivers.
//
// A task the query may list (of its models, owner and tag, whatever its
// age) in a status its model's spec does not declare fails the listing
// with an *UndeclaredValueError: a program built from a newer spec wrote
// it, and the listing, which reads declared statuses, would leave it out
// without a word. (A memory database holds only what this program wrote.)
type Lister interface {
	List(ctx context.Context, q ListQuery) ([]Row, error)
}

// CatalogModel describes one model of the unified listing.
type CatalogModel struct {
	Name string
	// Statuses lists the model's statuses; StatusesWithCode those with a
	// unified code (both generated in the model's package).
	Statuses         func() []string
	StatusesWithCode func(tasktype.Code) []string
	// Owner reports whether the model has an owner field (the spec's api
	// owner); without one, its tasks are left out of a listing by owner.
	Owner bool
}

// Catalog lists tasks across models: it validates a ListFilter and hands
// the resolved query to a Lister.
type Catalog struct {
	lister Lister
	models []CatalogModel
	now    func() time.Time
}

// NewCatalog returns a Catalog over the given models.
func NewCatalog(lister Lister, models []CatalogModel, opts ...Option) *Catalog {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return &Catalog{lister: lister, models: models, now: o.now}
}

// ModelNames returns the names of the listed models, the task types.
func (c *Catalog) ModelNames() []string {
	names := make([]string, len(c.models))
	for i, m := range c.models {
		names[i] = m.Name
	}
	return names
}

// Resolve validates f and resolves it into a ListQuery. Every error is a
// *tasktype.FieldError naming the filter and what it allows.
func (c *Catalog) Resolve(f ListFilter) (ListQuery, error) {
	names := c.ModelNames()
	switch {
	case f.Limit < 1 || f.Limit > 100:
		return ListQuery{}, &tasktype.FieldError{Field: "limit", Rule: "range", Value: fmt.Sprint(f.Limit), Message: fmt.Sprintf("must be between 1 and 100 (got %d)", f.Limit)}
	case f.Offset < 0 || f.Offset > MaxOffset:
		return ListQuery{}, &tasktype.FieldError{Field: "offset", Rule: "range", Value: fmt.Sprint(f.Offset), Message: fmt.Sprintf("must be between 0 and %d (got %d)", MaxOffset, f.Offset)}
	case f.WithinHours < 1 || f.WithinHours > MaxWithinHours:
		return ListQuery{}, &tasktype.FieldError{Field: "within_hours", Rule: "range", Value: fmt.Sprint(f.WithinHours), Message: fmt.Sprintf("must be between 1 and %d (got %d)", MaxWithinHours, f.WithinHours)}
	}
	for _, tt := range f.TaskTypes {
		if !slices.Contains(names, tt) {
			return ListQuery{}, &tasktype.FieldError{Field: "task_type", Rule: "one_of", Value: tt, Message: fmt.Sprintf("unknown task type %q; allowed: %s", tt, strings.Join(names, ", "))}
		}
	}
	for _, code := range f.Statuses {
		if !code.Valid() {
			return ListQuery{}, &tasktype.FieldError{Field: "status", Rule: "one_of", Value: string(code), Message: fmt.Sprintf("unknown status code %q; allowed: Q, R, D, F, C", code)}
		}
	}
	if f.Owner != nil {
		if n := utf8.RuneCountInString(*f.Owner); n < 1 || n > MaxOwnerLen {
			rule, v := "min_len", *f.Owner
			if n > 0 {
				rule, v = "max_len", string([]rune(v)[:40])+"…"
			}
			return ListQuery{}, &tasktype.FieldError{Field: "owner", Rule: rule, Value: v, Message: fmt.Sprintf("must be 1 to %d characters (got %d)", MaxOwnerLen, n)}
		}
		if !utf8.ValidString(*f.Owner) {
			return ListQuery{}, &tasktype.FieldError{Field: "owner", Rule: "utf8", Message: "must be valid UTF-8"}
		}
	}
	q := ListQuery{Statuses: map[string][]string{}, Tag: f.Tag, Owner: f.Owner, Limit: f.Limit, Offset: f.Offset,
		Since: c.now().UTC().Add(-time.Duration(f.WithinHours) * time.Hour)}
	for _, m := range c.models {
		if len(f.TaskTypes) > 0 && !slices.Contains(f.TaskTypes, m.Name) {
			continue
		}
		if f.Owner != nil && !m.Owner {
			continue // no owner field: visible to admins only
		}
		if len(f.Statuses) == 0 {
			q.Statuses[m.Name] = m.Statuses()
			continue
		}
		var keep []string
		for _, code := range f.Statuses {
			keep = append(keep, m.StatusesWithCode(code)...)
		}
		if len(keep) > 0 {
			q.Statuses[m.Name] = keep
		}
	}
	return q, nil
}

// List returns a page of the unified listing, newest first.
func (c *Catalog) List(ctx context.Context, f ListFilter) ([]Row, error) {
	q, err := c.Resolve(f)
	if err != nil {
		return nil, err
	}
	if len(q.Statuses) == 0 {
		return []Row{}, nil
	}
	return c.lister.List(ctx, q)
}
