package spec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limit is one limit a field sets on its own value.
type Limit struct {
	// Key is the spec key: min_len, max_len, pattern, ge, gt, le, lt,
	// min_items or max_items; "multiline" stands for the text rule every
	// string follows (valid text, single-line unless Multiline).
	Key string
	// N is the bound of every key but pattern and multiline: a length, an
	// item count, or a number (a duration's in nanoseconds).
	N         float64
	Pattern   string // with pattern
	Multiline bool   // with multiline
}

// Limits lists the limits f sets on its own value, in the order the
// generated validators check them: for a string the text rule, min_len,
// max_len and pattern; for a number ge, gt, le and lt; for a list min_items
// and max_items (its elements' limits are Elem's). The bounds that name
// another field (Bounds) are not listed: they compare two values.
//
// The generated validators' rules and the loader's check of a default or a
// backfill (Field.breaks) both come from this list, so that the loader
// refuses a constant the generated code would refuse.
func (f *Field) Limits() []Limit {
	var out []Limit
	if f.Type.Kind == KindString {
		out = append(out, Limit{Key: "multiline", Multiline: f.Multiline})
	}
	count := func(key string, n *int) {
		if n != nil {
			out = append(out, Limit{Key: key, N: float64(*n)})
		}
	}
	count("min_len", f.MinLen)
	count("max_len", f.MaxLen)
	if f.Pattern != "" {
		out = append(out, Limit{Key: "pattern", Pattern: f.Pattern})
	}
	for _, b := range []struct {
		key string
		v   *float64
	}{{"ge", f.Ge}, {"gt", f.Gt}, {"le", f.Le}, {"lt", f.Lt}} {
		if b.v != nil {
			out = append(out, Limit{Key: b.key, N: *b.v})
		}
	}
	count("min_items", f.MinItems)
	count("max_items", f.MaxItems)
	return out
}

// Elem is the field that stands for one element of a list field: its
// items, or, when the spec sets none, a field of the element type with no
// limits of its own (a string element still follows the text rule).
func (f *Field) Elem() *Field {
	if f.Items != nil {
		return f.Items
	}
	return &Field{Name: f.Name + "[]", Type: f.Type.Elem}
}

// breaks says how v, a constant of f's type as loader.value reads it (a
// default or a backfill), breaks one of f's limits, or returns "" when it
// keeps to them all: the limits of Limits, then, for a list, those of each
// element. The bounds that name another field are not checked: the other
// field's value is the caller's, not known from the spec.
func (f *Field) breaks(v any) string {
	for _, lim := range f.Limits() {
		if why := lim.breaks(v, f.Type.Kind, lim.Key); why != "" {
			return showValue(v) + " " + why
		}
	}
	if items, ok := v.([]any); ok && f.Type.Elem != nil {
		elem := f.Elem()
		for i, it := range items {
			for _, lim := range elem.Limits() {
				if why := lim.breaks(it, elem.Type.Kind, "items "+lim.Key); why != "" {
					return fmt.Sprintf("item %d, %s, %s", i+1, showValue(it), why)
				}
			}
		}
	}
	return ""
}

// breaks says how v breaks the limit, or "". kind is the kind of the
// field the limit is on (it says how to write a bound), and key names the
// limit as the spec writes it.
func (lim Limit) breaks(v any, kind Kind, key string) string {
	switch x := v.(type) {
	case string:
		n := utf8.RuneCountInString(x)
		switch lim.Key {
		case "multiline":
			return textProblem(x, lim.Multiline)
		case "min_len":
			if n < int(lim.N) {
				return fmt.Sprintf("is %s long, less than %s %d", plural(n, "character"), key, int(lim.N))
			}
		case "max_len":
			if n > int(lim.N) {
				return fmt.Sprintf("is %s long, more than %s %d", plural(n, "character"), key, int(lim.N))
			}
		case "pattern":
			if !regexp.MustCompile(AnchoredPattern(lim.Pattern)).MatchString(x) {
				return fmt.Sprintf("does not match %s %q", key, lim.Pattern)
			}
		}
		return ""
	case []any:
		switch lim.Key {
		case "min_items":
			if len(x) < int(lim.N) {
				return fmt.Sprintf("has %s, less than %s %d", plural(len(x), "item"), key, int(lim.N))
			}
		case "max_items":
			if len(x) > int(lim.N) {
				return fmt.Sprintf("has %s, more than %s %d", plural(len(x), "item"), key, int(lim.N))
			}
		}
		return ""
	}
	var n float64
	switch x := v.(type) {
	case int64:
		n = float64(x)
	case float64:
		n = x
	case time.Duration:
		n = float64(x)
	default:
		return ""
	}
	bound := fmtNum(lim.N)
	if kind == KindDuration {
		bound = time.Duration(lim.N).String()
	}
	switch {
	case lim.Key == "ge" && n < lim.N:
		return fmt.Sprintf("is less than %s %s", key, bound)
	case lim.Key == "gt" && n <= lim.N:
		return fmt.Sprintf("is not greater than %s %s", key, bound)
	case lim.Key == "le" && n > lim.N:
		return fmt.Sprintf("is greater than %s %s", key, bound)
	case lim.Key == "lt" && n >= lim.N:
		return fmt.Sprintf("is not less than %s %s", key, bound)
	}
	return ""
}

// textProblem says how s breaks the text rule, or returns "": valid UTF-8
// without NUL, and, unless multiline, without control characters or
// bidirectional controls. It is the rule of the runtime's
// validation.CheckText, which the generated validators' "line" and "text"
// rules run; taskgen's module does not import the runtime, so the rule is
// written out here too.
func textProblem(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		switch {
		case r == 0:
			return "holds a NUL character (U+0000), which no text may hold"
		case multiline:
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			return fmt.Sprintf("holds a control character (U+%04X), which only a multiline field takes", r)
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return fmt.Sprintf("holds a bidirectional control character (U+%04X), which only a multiline field takes", r)
		}
	}
	return ""
}

// showValue writes a constant as an error message quotes it: a string
// quoted (cut after 40 characters), a list in brackets.
func showValue(v any) string {
	switch x := v.(type) {
	case string:
		if r := []rune(x); len(r) > 40 {
			return strconv.Quote(string(r[:40])) + "…"
		}
		return strconv.Quote(x)
	case float64:
		return fmtNum(x)
	case time.Duration:
		return x.String()
	case []any:
		items := make([]string, len(x))
		for i, it := range x {
			items[i] = showValue(it)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return fmt.Sprint(v)
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
