package backends

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/tasktype"
)

// validateChange validates next, a write to stored task id, keeping only
// the errors of values the write sets or changes (see changedOnly). The
// task is read again to compare with, and only when next fails: a caller's
// copy shares its pointers, slices and maps with next, so an edit made in
// place (a progress detail, a list) would look unchanged there.
func (s *Store[T, E, PT]) validateChange(ctx context.Context, id uuid.UUID, next *T) error {
	err := PT(next).Validate()
	if err == nil {
		return nil
	}
	stored, gerr := s.driver.Get(ctx, id)
	if gerr != nil {
		return err
	}
	return changedOnly(stored, next, err)
}

// changedOnly keeps, of a write's validation error, the fields the write
// changes. A task stored before its spec narrowed a rule (a pattern, the
// valid-text rule, a list element's length: limits a migration cannot check
// in SQL) keeps the value it was stored with; re-checking that value at
// every later move would leave the task unable to move at all, not even to
// fail or expire. A value the write sets or changes is checked in full, and
// Create checks every field.
func changedOnly(cur, next any, err error) error {
	var ve *tasktype.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	cv, nv := reflect.ValueOf(cur).Elem(), reflect.ValueOf(next).Elem()
	if cv.Kind() != reflect.Struct || cv.Type() != nv.Type() {
		return err
	}
	index := jsonFields(cv.Type())
	var kept []*tasktype.FieldError
	for _, f := range ve.Fields {
		i, ok := index[rootOf(f.Field)]
		if ok && reflect.DeepEqual(cv.Field(i).Interface(), nv.Field(i).Interface()) {
			continue
		}
		kept = append(kept, f)
	}
	switch {
	case len(kept) == len(ve.Fields):
		return err
	case len(kept) == 0:
		return nil
	}
	return &tasktype.ValidationError{Type: ve.Type, Fields: kept}
}

// rootOf is a JSON path's top-level field: "agents" of "agents[2]",
// "history" of "history[0].attempt".
func rootOf(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}

var jsonIndex sync.Map // reflect.Type → map[string]int

// jsonFields maps a struct's JSON field names to their field indexes.
func jsonFields(t reflect.Type) map[string]int {
	if m, ok := jsonIndex.Load(t); ok {
		return m.(map[string]int)
	}
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		m[name] = i
	}
	jsonIndex.Store(t, m)
	return m
}
