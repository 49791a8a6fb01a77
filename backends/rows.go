package backends

import (
	"encoding/json"
	"time"

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
		return err
	}
	return json.Unmarshal(conformed, dst)
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
