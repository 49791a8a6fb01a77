package enum

import (
	"fmt"
	"strings"

	"github.com/taskmodel/taskmodel/tasktype"
)

// Table holds the declared values of a string enumeration T in declaration
// order, with what its errors say: the field a parse error names and the Go
// type a Scan error names. Build it once (a package-level variable) with New;
// it is read-only afterwards and safe for concurrent use.
type Table[T ~string] struct {
	typeName string
	field    string
	// missing is the message for an empty value; unknown the format of the
	// one for an unknown value. Both list the allowed values, built once so
	// that an error costs no more than a generated constant message did.
	missing, unknown string
	names            []string // the values as strings, for FieldError.Allowed
	values           []T
	byLen            [][]int32 // byLen[n] indexes the values n bytes long
}

// New returns the Table of the enumeration named typeName whose values are
// values, in declaration order; field is the JSON field its parse errors name
// ("" for none). It panics on an empty or repeated value: the values are the
// constants of a generated type.
func New[T ~string](typeName, field string, values ...T) *Table[T] {
	t := &Table[T]{typeName: typeName, field: field, values: append([]T(nil), values...)}
	names := make([]string, len(values))
	for i, v := range t.values {
		if v == "" || t.index(string(v)) >= 0 {
			panic(fmt.Sprintf("enum: %s: value %q is empty or repeated", typeName, v))
		}
		for len(t.byLen) <= len(v) {
			t.byLen = append(t.byLen, nil)
		}
		t.byLen[len(v)] = append(t.byLen[len(v)], int32(i))
		names[i] = string(v)
	}
	t.names = names
	allowed := strings.Join(names, ", ")
	t.missing = "missing; allowed: " + allowed
	t.unknown = "unknown value %q; allowed: " + strings.ReplaceAll(allowed, "%", "%%")
	return t
}

// Values returns the declared values in declaration order, in a new slice the
// caller may change.
func (t *Table[T]) Values() []T {
	return append([]T(nil), t.values...)
}

// Index returns the position of text among Values, or -1 when it is not a
// declared value.
func (t *Table[T]) Index(text string) int {
	return t.index(text)
}

// index compares text with the declared values of its length only. The
// []byte callers convert in the comparison itself, which does not allocate.
func (t *Table[T]) index(text string) int {
	if len(text) >= len(t.byLen) {
		return -1
	}
	for _, i := range t.byLen[len(text)] {
		if string(t.values[i]) == text {
			return int(i)
		}
	}
	return -1
}

// indexBytes is index for a []byte, without converting it to a string.
func (t *Table[T]) indexBytes(b []byte) int {
	if len(b) >= len(t.byLen) {
		return -1
	}
	for _, i := range t.byLen[len(b)] {
		if string(t.values[i]) == string(b) {
			return int(i)
		}
	}
	return -1
}

// Parse returns text as a T when it is a declared value, and otherwise the
// error ParseError returns.
func (t *Table[T]) Parse(text string) (T, error) {
	if i := t.index(text); i >= 0 {
		return t.values[i], nil
	}
	return "", t.ParseError(text)
}

// ParseError is the error for text, which is not a declared value: a
// *tasktype.FieldError naming the Table's field and listing the allowed
// values. An empty text is a missing value (rule "required"), any other an
// unknown one (rule "one_of", with the text as its Value).
func (t *Table[T]) ParseError(text string) error {
	if text == "" {
		return &tasktype.FieldError{Field: t.field, Rule: "required", Message: t.missing}
	}
	return &tasktype.FieldError{
		Field:   t.field,
		Rule:    "one_of",
		Value:   text,
		Message: fmt.Sprintf(t.unknown, text),
		Allowed: append([]string(nil), t.names...),
	}
}

// UnmarshalText sets *dst to the declared value b spells, for a T's
// encoding.TextUnmarshaler; otherwise it leaves *dst alone and returns the
// error ParseError returns. It does not allocate on success.
func (t *Table[T]) UnmarshalText(dst *T, b []byte) error {
	if i := t.indexBytes(b); i >= 0 {
		*dst = t.values[i]
		return nil
	}
	return t.ParseError(string(b))
}

// Scan sets *dst from a database value, for a T's sql.Scanner: src must be a
// string or []byte holding a declared value. It does not allocate on success.
func (t *Table[T]) Scan(dst *T, src any) error {
	switch x := src.(type) {
	case string:
		if i := t.index(x); i >= 0 {
			*dst = t.values[i]
			return nil
		}
		return t.ParseError(x)
	case []byte:
		return t.UnmarshalText(dst, x)
	}
	return fmt.Errorf("cannot scan %T into %s", src, t.typeName)
}

// At returns table[i], or the zero E when i is negative: a generated
// enumeration's per-value tables are indexed by the position its lookup
// returns, -1 for an undeclared value.
func At[E any](table []E, i int) E {
	if i < 0 {
		var zero E
		return zero
	}
	return table[i]
}
