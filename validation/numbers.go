package validation

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"

	"github.com/taskmodel/taskmodel/tasktype"
)

// numberOutOfRange describes a JSON number that encoding/json could not
// store in its field of v, although it is the right kind of number: an
// integer past the field's Go type (int64: 99999999999999999999999), or a
// number past float64. It names the field's own bound when the field has
// one (validate:"lte=100": "must be ≤ 100", as Struct says for the same
// field), else the type's ("must be at most 9223372036854775807"). A
// number with a fraction for an integer field, or a value of another JSON
// type, is nil: the caller's "must be an integer" says it. An integer
// within range that Go does not take as one (1e2, 1.0) is said to need
// writing in digits.
func numberOutOfRange(v any, te *json.UnmarshalTypeError) *tasktype.FieldError {
	lit, ok := strings.CutPrefix(te.Value, "number ")
	if !ok || te.Type == nil {
		return nil
	}
	n, _, err := big.ParseFloat(lit, 10, 0, big.ToNearestEven)
	if err != nil {
		return nil
	}
	t := te.Type
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var lo, hi *big.Float
	format := byte('f') // integers in digits
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !n.IsInt() {
			return nil
		}
		bits := uint(t.Bits())
		lo = new(big.Float).SetInt64(-1 << (bits - 1))
		hi = new(big.Float).SetInt64(math.MaxInt64 >> (64 - bits))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if !n.IsInt() {
			return nil
		}
		lo = new(big.Float)
		hi = new(big.Float).SetUint64(math.MaxUint64 >> (64 - uint(t.Bits())))
	case reflect.Float32, reflect.Float64:
		max := math.MaxFloat64
		if t.Kind() == reflect.Float32 {
			max = math.MaxFloat32
		}
		lo, hi, format = big.NewFloat(-max), big.NewFloat(max), 'g'
	default:
		return nil
	}
	got := NumberText(lit)
	out := &tasktype.FieldError{Field: te.Field}
	tag := fieldTag(reflect.TypeOf(v), te.Field)
	switch {
	case n.Cmp(hi) > 0:
		out.Rule, out.Message = "le", fmt.Sprintf("must be at most %s (got %s)", text(hi, format), got)
		if rule, msg, ok := tagBound(tag, "lte", "lt", "max"); ok {
			out.Rule, out.Message = rule, fmt.Sprintf("%s (got %s)", msg, got)
		}
	case n.Cmp(lo) < 0:
		out.Rule, out.Message = "ge", fmt.Sprintf("must be at least %s (got %s)", text(lo, format), got)
		if rule, msg, ok := tagBound(tag, "gte", "gt", "min"); ok {
			out.Rule, out.Message = rule, fmt.Sprintf("%s (got %s)", msg, got)
		}
	default:
		out.Rule, out.Message = "type", NotInDigits(lit)
	}
	return out
}

// NumberText is a JSON number's literal as a message quotes it: itself, or
// its length when it is over 40 characters.
func NumberText(lit string) string {
	if len(lit) > 40 {
		return fmt.Sprintf("a number of %d characters", len(lit))
	}
	return lit
}

// NotInDigits is the message for an integer field given a number with a
// fraction or an exponent (1.0, 1e2): every JSON body of the API refuses
// it with these words.
func NotInDigits(lit string) string {
	return fmt.Sprintf("must be an integer written in digits, without a fraction or exponent (got %s)", NumberText(lit))
}

func text(f *big.Float, format byte) string {
	if format == 'f' {
		return f.Text('f', 0)
	}
	return f.Text('g', -1)
}

// tagBound finds the first of the validate tag's bounds named (lte, lt,
// max or gte, gt, min) and words it as Struct does.
func tagBound(tag string, names ...string) (rule, msg string, ok bool) {
	for _, part := range strings.Split(tag, ",") {
		name, param, found := strings.Cut(part, "=")
		if !found {
			continue
		}
		switch {
		case name == names[0]:
			op := map[string]string{"lte": "≤", "gte": "≥"}[name]
			return map[string]string{"lte": "le", "gte": "ge"}[name], fmt.Sprintf("must be %s %s", op, param), true
		case name == names[1]:
			op := map[string]string{"lt": "<", "gt": ">"}[name]
			return name, fmt.Sprintf("must be %s %s", op, param), true
		case name == names[2]:
			bound := map[string]string{"max": "at most", "min": "at least"}[name]
			return map[string]string{"max": "le", "min": "ge"}[name], fmt.Sprintf("must be %s %s", bound, param), true
		}
	}
	return "", "", false
}

// fieldTag returns the validate tag of the field at path ("a.b", JSON
// names, as encoding/json reports it: lists are walked through) in the
// struct type t, or for a list field the tag of its elements (after
// "dive"); "" when there is none.
func fieldTag(t reflect.Type, path string) string {
	var tag string
	for _, name := range strings.Split(path, ".") {
		for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			return ""
		}
		f, ok := structField(t, name)
		if !ok {
			return ""
		}
		t, tag = f.Type, f.Tag.Get("validate")
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		_, elem, _ := strings.Cut(tag, "dive,")
		return elem
	}
	return tag
}

// structField returns the field of struct type t whose JSON name is name.
func structField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if n, _, _ := strings.Cut(f.Tag.Get("json"), ","); n == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
