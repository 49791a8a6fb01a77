package backends

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/tasktype"
	"github.com/taskmodel/taskmodel/validation"
)

// Helpers the generated drivers use to move values between model structs and
// sqlc's rows. They are exported for generated code; applications do not
// need them.

// JSONList encodes a list column: a nil slice is stored as [], as the
// column's CHECK requires an array.
func JSONList[E any](s []E) ([]byte, error) {
	if s == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(s)
}

// JSONNullable encodes a list or json column that may be NULL: nil is NULL,
// unless notNull, when it is JSON null.
func JSONNullable[V any](v V, notNull bool) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" && !notNull {
		return nil, nil
	}
	return b, nil
}

// JSONPointer encodes an optional value-type column: nil is NULL.
func JSONPointer[V any](p *V) ([]byte, error) {
	if p == nil {
		return nil, nil
	}
	return json.Marshal(p)
}

// DecodeJSON decodes a JSON column into dst; NULL (nil) leaves dst as is.
func DecodeJSON(data []byte, dst any) error {
	if data == nil {
		return nil
	}
	return json.Unmarshal(data, dst)
}

// DecodeStoredJSON decodes a JSON column that holds a value type (or a
// list of them) into dst. A stored value the current spec's strict decoding
// refuses, written before the type changed (a field since removed, renamed
// or made required), is brought to the current shape by s and decoded
// again; nil data leaves dst as it is.
func DecodeStoredJSON(data []byte, dst any, s *validation.Shape) error {
	if data == nil {
		return nil
	}
	err := json.Unmarshal(data, dst)
	if err == nil || s == nil {
		return err
	}
	conformed, cerr := s.Conform(data)
	if cerr != nil {
		return storedValueError(data, dst, err)
	}
	return storedValueError(conformed, dst, json.Unmarshal(conformed, dst))
}

// StoredValueError reports a value type stored in a task's JSON column (a
// spec's types:) that holds, in one of its fields, a status, error code or
// enumeration value this program's spec does not declare. Unlike the
// model's own columns, whose values a migration checks before it removes
// one (and refuses while a task holds it), values inside a value type's
// JSON are not checked: a value stored before the spec removed it cannot
// be read. The driver's error names the column before it.
type StoredValueError struct {
	// Type is the value type; Item the index of the value in a list
	// column, -1 for a column holding one value.
	Type string
	Item int
	// Field is the path of the field in the value: "begin_status",
	// "detail.kind".
	Field string
	// Value is the value it holds; Allowed lists those the spec declares.
	Value   string
	Allowed []string
}

func (e *StoredValueError) Error() string {
	at := ""
	if e.Item >= 0 {
		at = fmt.Sprintf("item %d: ", e.Item)
	}
	return fmt.Sprintf("%sfield %s of type %s holds %q, which this program's spec does not declare (it allows %s); "+
		"the value was likely stored before the spec removed it (a migration checks the values of the model's own columns, "+
		"not those inside a value type's JSON), unless a program built from a newer spec stored it: "+
		"declare the value again, or rewrite the stored values that hold it",
		at, e.Field, e.Type, e.Value, strings.Join(e.Allowed, ", "))
}

// Is reports whether target is ErrUndeclaredValue.
func (e *StoredValueError) Is(target error) bool {
	return target == ErrUndeclaredValue
}

// storedValueError turns err, the error of decoding data into dst, into a
// *StoredValueError when a field of the value type holds an undeclared
// value; other errors pass.
func storedValueError(data []byte, dst any, err error) error {
	var ve *tasktype.ValidationError
	if err == nil || !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Rule != "one_of" || ve.Fields[0].Allowed == nil {
		return err
	}
	f := ve.Fields[0]
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	item := -1
	if t.Kind() == reflect.Slice {
		// The element that fails on its own.
		var elems []json.RawMessage
		if json.Unmarshal(data, &elems) == nil {
			for i, e := range elems {
				if json.Unmarshal(e, reflect.New(t.Elem()).Interface()) != nil {
					item = i
					break
				}
			}
		}
		t = t.Elem()
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	if f.Field == "" {
		return err
	}
	return &StoredValueError{Type: t.Name(), Item: item, Field: f.Field, Value: f.Value, Allowed: f.Allowed}
}

// TextBytes turns a nullable TEXT value into bytes for DecodeJSON.
func TextBytes(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

// UTC returns a copy of an optional time in UTC.
func UTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Deref returns *p, or the zero value for nil.
func Deref[V any](p *V) V {
	var zero V
	if p == nil {
		return zero
	}
	return *p
}
