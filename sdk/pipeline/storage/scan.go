package storage

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/taskmodel/taskmodel/tasktype"
)

// Helpers the SQL engines share: rows of a model's table are scanned into the
// generated struct by column name (the generated JSON tags are the column
// names), so `SELECT r.*` reads every column whatever their order, and a
// column the struct does not know is an error rather than silently dropped
// (but for taskmodel's own columns, whose names start with tm_).

var fieldIndexes sync.Map // reflect.Type → map[string]int

func fieldsOf(t reflect.Type) map[string]int {
	if m, ok := fieldIndexes.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("json")
		if name, _, _ := strings.Cut(tag, ","); name != "" && name != "-" {
			m[name] = i
		}
	}
	fieldIndexes.Store(t, m)
	return m
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// Targets returns one scan destination per column for x (a pointer to a
// struct), matching columns to fields by their JSON tag. JSON fields scan
// through an adapter that accepts text or bytes and keeps NULL as nil.
func Targets(x any, columns []string) ([]any, error) {
	v := reflect.ValueOf(x).Elem()
	idx := fieldsOf(v.Type())
	out := make([]any, len(columns))
	for i, c := range columns {
		f, ok := idx[c]
		if !ok && strings.HasPrefix(c, "tm_") {
			// A column taskmodel keeps for itself (tm_history_seq on
			// PostgreSQL), not a field: spec fields never start with tm_.
			out[i] = new(any)
			continue
		}
		if !ok {
			return nil, fmt.Errorf("storage: column %q has no field in %s", c, v.Type())
		}
		p := v.Field(f).Addr()
		if p.Type().Elem() == rawMessageType {
			out[i] = &rawJSON{dst: p.Interface().(*json.RawMessage)}
			continue
		}
		out[i] = p.Interface()
	}
	return out, nil
}

type rawJSON struct{ dst *json.RawMessage }

// Scan implements sql.Scanner.
func (r *rawJSON) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*r.dst = nil
	case string:
		*r.dst = json.RawMessage(v)
	case []byte:
		*r.dst = append(json.RawMessage(nil), v...)
	default:
		return fmt.Errorf("storage: cannot scan %T into a JSON field", src)
	}
	return nil
}

// ScanAll reads every row of a database/sql result into new T values.
func ScanAll[T any](rows *sql.Rows, err error) ([]*T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []*T
	for rows.Next() {
		x := new(T)
		dst, err := Targets(x, cols)
		if err != nil {
			return nil, err
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// Values dereferences the rows a query returned.
func Values[T any](xs []*T, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = *x
	}
	return out, nil
}

// One returns the only row a query returned, or tasktype.ErrNotFound.
func One[T any](xs []*T, err error) (*T, error) {
	switch {
	case err != nil:
		return nil, err
	case len(xs) == 0:
		return nil, tasktype.ErrNotFound
	}
	return xs[0], nil
}

var timeType = reflect.TypeFor[time.Time]()

// InUTC sets every time.Time and *time.Time field of x (a pointer to a
// struct) to UTC: pgx scans timestamptz in the local time zone, and the
// tracker returns the same values whatever the engine.
func InUTC(x any) {
	v := reflect.ValueOf(x).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Type() == timeType:
			f.Set(reflect.ValueOf(f.Interface().(time.Time).UTC()))
		case f.Kind() == reflect.Pointer && f.Type().Elem() == timeType && !f.IsNil():
			u := f.Elem().Interface().(time.Time).UTC()
			f.Set(reflect.ValueOf(&u))
		}
	}
}
