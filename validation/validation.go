// Package validation is the runtime support generated models use to check
// themselves: one shared validator/v10 instance whose failures are turned into
// *tasktype.ValidationError values that name the field by its JSON path and
// say which spec limit failed, and a strict JSON decoder that rejects unknown
// fields (pydantic's extra="forbid") and reports missing required keys.
//
// Generated code calls Struct and DecodeStrict; user code rarely needs this
// package directly.
package validation

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	"github.com/taskmodel/taskmodel/tasktype"
)

// shared is the one validator instance of the process: validator caches
// struct metadata per instance, so sharing it keeps Validate fast.
var shared = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	// The text rules (text.go): "line" for single-line strings, "text" for
	// multi-line ones, "json_text" for the strings of a json field, and
	// "pattern=name" for a pattern a generated package registered.
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(v.RegisterValidation("line", func(fl validator.FieldLevel) bool {
		return textProblem(fl.Field().String(), false) == ""
	}))
	must(v.RegisterValidation("text", func(fl validator.FieldLevel) bool {
		return textProblem(fl.Field().String(), true) == ""
	}))
	must(v.RegisterValidation("json_text", func(fl validator.FieldLevel) bool {
		return CheckJSONText(fl.Field().Bytes()) == nil
	}))
	// A bound naming another field of the same struct (le: agents_total):
	// "le_field=agents_total", the other field named by its JSON key.
	for tag, holds := range boundTests {
		must(v.RegisterValidation(tag, func(fl validator.FieldLevel) bool {
			c, ok := compareSibling(fl.Field(), fl.Parent(), fl.Param())
			return ok && holds(c)
		}))
	}
	must(v.RegisterValidation("pattern", func(fl validator.FieldLevel) bool {
		re := pattern(fl.Param())
		return re != nil && re.MatchString(fl.Field().String())
	}))
	return v
}

// boundTests say, for each bound naming another field, whether the
// comparison of the field with the other (-1, 0, 1) keeps to it.
var boundTests = map[string]func(int) bool{
	"ge_field": func(c int) bool { return c >= 0 },
	"le_field": func(c int) bool { return c <= 0 },
	"gt_field": func(c int) bool { return c > 0 },
	"lt_field": func(c int) bool { return c < 0 },
}

// compareSibling compares a number field with the field of the same
// struct whose JSON key is name; false when there is no such number.
func compareSibling(field, parent reflect.Value, name string) (int, bool) {
	for parent.Kind() == reflect.Pointer {
		if parent.IsNil() {
			return 0, false
		}
		parent = parent.Elem()
	}
	if parent.Kind() != reflect.Struct {
		return 0, false
	}
	var other reflect.Value
	for i := 0; i < parent.NumField(); i++ {
		if key, _, _ := strings.Cut(parent.Type().Field(i).Tag.Get("json"), ","); key == name {
			other = parent.Field(i)
			break
		}
	}
	for other.IsValid() && other.Kind() == reflect.Pointer {
		if other.IsNil() {
			return 0, false
		}
		other = other.Elem()
	}
	switch {
	case !other.IsValid():
		return 0, false
	case field.CanInt() && other.CanInt():
		return cmp.Compare(field.Int(), other.Int()), true
	case field.CanFloat() && other.CanFloat():
		return cmp.Compare(field.Float(), other.Float()), true
	}
	return 0, false
}

// Struct validates the struct s against its `validate` tags. It returns nil
// or a *tasktype.ValidationError listing every failing field.
func Struct(s any) error {
	err := shared.Struct(s)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return err // an InvalidValidationError: a programming error, not bad input
	}
	out := &tasktype.ValidationError{Fields: make([]*tasktype.FieldError, 0, len(verrs))}
	for _, fe := range verrs {
		out.Fields = append(out.Fields, fieldError(fe))
	}
	return out
}

// fieldPath drops the leading struct type name from a validator namespace:
// "StageState.history[0].attempt" → "history[0].attempt".
func fieldPath(ns string) string {
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return ns
}

func fieldError(fe validator.FieldError) *tasktype.FieldError {
	out := &tasktype.FieldError{Field: fieldPath(fe.Namespace())}
	kind := fe.Kind()
	param := fe.Param()
	switch fe.Tag() {
	case "required":
		out.Rule, out.Message = "required", "is required"
	case "max", "min":
		bound := "at most"
		if fe.Tag() == "min" {
			bound = "at least"
		}
		switch kind {
		case reflect.String:
			out.Rule = fe.Tag() + "_len"
			n := utf8.RuneCountInString(fmt.Sprint(fe.Value()))
			out.Message = fmt.Sprintf("must be %s %s %s (got %d)", bound, param, plural(param, "character"), n)
		case reflect.Slice, reflect.Array, reflect.Map:
			out.Rule = fe.Tag() + "_items"
			n := reflect.ValueOf(fe.Value()).Len()
			out.Message = fmt.Sprintf("must have %s %s %s (got %d)", bound, param, plural(param, "item"), n)
		default:
			out.Rule = map[string]string{"max": "le", "min": "ge"}[fe.Tag()]
			out.Message = fmt.Sprintf("must be %s %s (got %v)", bound, param, fe.Value())
		}
	case "gte":
		out.Rule, out.Message = "ge", fmt.Sprintf("must be ≥ %s (got %v)", param, fe.Value())
	case "lte":
		out.Rule, out.Message = "le", fmt.Sprintf("must be ≤ %s (got %v)", param, fe.Value())
	case "gt":
		out.Rule, out.Message = "gt", fmt.Sprintf("must be > %s (got %v)", param, fe.Value())
	case "lt":
		out.Rule, out.Message = "lt", fmt.Sprintf("must be < %s (got %v)", param, fe.Value())
	case "ge_field", "le_field", "gt_field", "lt_field":
		out.Rule = strings.TrimSuffix(fe.Tag(), "_field")
		op := map[string]string{"ge": "≥", "le": "≤", "gt": ">", "lt": "<"}[out.Rule]
		out.Message = fmt.Sprintf("must be %s %s (got %v)", op, param, fe.Value())
	case "line", "text":
		out.Rule = "text"
		out.Message = textProblem(fmt.Sprint(fe.Value()), fe.Tag() == "text")
		out.Value = quoteShort(fmt.Sprint(fe.Value()))
		return out
	case "json_text":
		out.Rule = "text"
		if b, ok := fe.Value().(json.RawMessage); ok {
			if err := CheckJSONText(b); err != nil {
				out.Message = "a string in it " + err.Error()
			}
		}
		if out.Message == "" {
			out.Message = "must hold valid text"
		}
		return out
	case "pattern":
		out.Rule = "pattern"
		expr := "a registered pattern"
		if re := pattern(param); re != nil {
			// The spec's pattern, as its author wrote it: the generated
			// expression anchors it, ^(?:…)$, to match the whole value.
			expr = re.String()
			if inner, ok := strings.CutPrefix(expr, "^(?:"); ok {
				if inner, ok = strings.CutSuffix(inner, ")$"); ok {
					expr = "the pattern " + inner + " (the whole value)"
				}
			}
		}
		out.Message = fmt.Sprintf("must match %s (got %s)", expr, quoteOrLen(fmt.Sprint(fe.Value())))
		out.Value = quoteShort(fmt.Sprint(fe.Value()))
		return out
	case "oneof":
		out.Rule = "one_of"
		if v := fmt.Sprint(fe.Value()); v == "" {
			out.Rule = "required"
			out.Message = "missing; allowed: " + strings.ReplaceAll(param, " ", ", ")
		} else {
			out.Message = fmt.Sprintf("unknown value %s; allowed: %s", quoteOrLen(v), strings.ReplaceAll(param, " ", ", "))
		}
	default:
		out.Rule, out.Message = fe.Tag(), fmt.Sprintf("fails %s %s", fe.Tag(), param)
	}
	if kind == reflect.String {
		if s := fmt.Sprint(fe.Value()); utf8.RuneCountInString(s) <= 64 {
			out.Value = s
		}
	} else if kind != reflect.Slice && kind != reflect.Map && kind != reflect.Struct {
		out.Value = fmt.Sprint(fe.Value())
	}
	return out
}

// DecodeStrict decodes one JSON value from data into v (a pointer to a
// struct), rejecting unknown fields, trailing data and missing required keys.
// When required keys are missing, the error also names those of the keys
// present that break v's limits (its `validate` tags).
// allowed lists the JSON keys the type
// has (for the unknown-field message) and required the keys that must be
// present. v keeps whatever defaults it held for keys the input omits.
func DecodeStrict(data []byte, v any, allowed, required []string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var nested *tasktype.ValidationError
		if errors.As(err, &nested) {
			// A value type's own UnmarshalJSON refused its part: its paths
			// are relative to that value.
			return locateNested(data, v, nested)
		}
		return locateField(data, v, decodeError(data, err, v, allowed), allowed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &tasktype.ValidationError{Fields: []*tasktype.FieldError{{Rule: "json", Message: "unexpected data after the JSON value"}}}
	}
	if len(required) == 0 {
		return nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return decodeError(data, err, v, allowed)
	}
	var missing []*tasktype.FieldError
	for _, k := range required {
		if raw, ok := keys[k]; !ok || string(raw) == "null" && !nullable(v, k) {
			missing = append(missing, &tasktype.FieldError{Field: k, Rule: "required", Message: requiredMessage(v, k)})
		}
	}
	if missing == nil {
		return nil
	}
	// The keys that are there are checked too, so that one answer names
	// everything wrong with the input, not the missing keys first and the
	// rest after they are fixed; but not against a missing key (a bound
	// naming it, "≤ agents_total": its value is not the client's).
	isMissing := func(key string) bool {
		return slices.ContainsFunc(missing, func(m *tasktype.FieldError) bool { return m.Field == key })
	}
	var verrs validator.ValidationErrors
	if errors.As(shared.Struct(v), &verrs) {
		for _, fe := range verrs {
			f := fieldError(fe)
			key := f.Field
			if i := strings.IndexAny(key, ".["); i >= 0 {
				key = key[:i]
			}
			_, sent := keys[key]
			if _, bound := boundTests[fe.Tag()]; !sent || isMissing(key) || bound && isMissing(fe.Param()) {
				continue
			}
			missing = append(missing, f)
		}
	}
	return &tasktype.ValidationError{Fields: missing}
}

// decodeError turns an error of encoding/json decoding data into v (the
// value decoded, for the limits of the field refused) into a
// ValidationError.
func decodeError(data []byte, err error, v any, allowed []string) error {
	var (
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
		valErr    *tasktype.ValidationError
		fieldErr  *tasktype.FieldError
	)
	switch {
	case errors.As(err, &valErr):
		return err // from a nested type's own UnmarshalJSON
	case errors.As(err, &fieldErr):
		return &tasktype.ValidationError{Fields: []*tasktype.FieldError{fieldErr}}
	case errors.As(err, &typeErr):
		field := elementPath(data, v, typeErr)
		if fe := numberOutOfRange(v, typeErr); fe != nil {
			fe.Field = field
			return &tasktype.ValidationError{Fields: []*tasktype.FieldError{fe}}
		}
		return &tasktype.ValidationError{Fields: []*tasktype.FieldError{{
			Field: field, Rule: "type", Value: typeErr.Value,
			Message: fmt.Sprintf("must be %s (got %s)", jsonKind(typeErr.Type), jsonWord(typeErr.Value)),
		}}}
	case errors.As(err, &syntaxErr):
		at, what := DescribeJSONError(syntaxErr)
		return &tasktype.ValidationError{Fields: []*tasktype.FieldError{{
			Rule: "json", Message: fmt.Sprintf("invalid JSON at byte %d: %s", at, what),
		}}}
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &tasktype.ValidationError{Fields: []*tasktype.FieldError{{
			Field: name, Rule: "unknown_field",
			Message: "unknown field; allowed: " + strings.Join(allowed, ", "),
		}}}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &tasktype.ValidationError{Fields: []*tasktype.FieldError{{Rule: "json", Message: "unexpected end of JSON input"}}}
	}
	return &tasktype.ValidationError{Fields: []*tasktype.FieldError{{Rule: "json", Message: msg}}}
}

// elementPath is the path of the value te refuses, with the index of each
// list element on the way ("agents[1]", "groups[0].tags[2]"): encoding/json
// names the field ("agents") but not the element. It follows te.Field
// through data and v's type; it is te.Field when that leads nowhere.
func elementPath(data []byte, v any, te *json.UnmarshalTypeError) string {
	if te.Field == "" || v == nil {
		return te.Field
	}
	if path, ok := refused(data, reflect.TypeOf(v), strings.Split(te.Field, ".")); ok {
		return strings.TrimPrefix(path, ".")
	}
	return te.Field
}

// refused follows the object keys keys through the JSON value raw, of Go
// type t, into every element of a list met on the way, to the first value
// that does not decode into its Go type. It returns that value's path
// (".key" for a member, "[i]" for an element) and whether it found one.
func refused(raw json.RawMessage, t reflect.Type, keys []string) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var elems []json.RawMessage
	if (t.Kind() == reflect.Slice || t.Kind() == reflect.Array && t.Elem().Kind() != reflect.Uint8) &&
		json.Unmarshal(raw, &elems) == nil && elems != nil {
		for i, e := range elems {
			if rest, ok := refused(e, t.Elem(), keys); ok {
				return fmt.Sprintf("[%d]", i) + rest, true
			}
		}
		return "", false
	}
	if len(keys) == 0 {
		return "", json.Unmarshal(raw, reflect.New(t).Interface()) != nil
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil {
		return "", false
	}
	m, ok := members[keys[0]]
	if !ok {
		return "", false
	}
	var next reflect.Type
	switch t.Kind() {
	case reflect.Struct:
		if next, ok = jsonField(t, keys[0]); !ok {
			return "", false
		}
	case reflect.Map:
		next = t.Elem()
	default:
		return "", false
	}
	rest, ok := refused(m, next, keys[1:])
	if !ok {
		return "", false
	}
	return "." + keys[0] + rest, true
}

// locateField names the field of an error that encoding/json reports
// without one (a value's own UnmarshalText refused it: an unknown enum
// value).
//
// An enumeration's own error names the field its table was built for
// ("status", or none): a field of a value type that holds the enumeration
// under another key ("begin_status") is named by its key instead.
func locateField(data []byte, v any, err error, allowed []string) error {
	var ve *tasktype.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Rule == "json" {
		return err
	}
	if f := ve.Fields[0]; f.Field != "" && (f.Rule != "one_of" || slices.Contains(allowed, f.Field)) {
		return err
	}
	if path := memberPath(data, v); path != "" {
		ve.Fields[0].Field = path
	}
	return err
}

// locateNested prefixes the paths of a nested value's errors with where
// the value is: "run_time_seconds" → "history[0].run_time_seconds".
func locateNested(data []byte, v any, ve *tasktype.ValidationError) error {
	path := memberPath(data, v)
	if path == "" {
		return ve
	}
	out := &tasktype.ValidationError{Fields: make([]*tasktype.FieldError, len(ve.Fields))}
	for i, f := range ve.Fields {
		c := *f
		switch {
		case c.Field == "":
			c.Field = path
		case strings.HasPrefix(c.Field, "["):
			c.Field = path + c.Field
		default:
			c.Field = path + "." + c.Field
		}
		out.Fields[i] = &c
	}
	return out
}

// memberPath finds the member of the JSON object data that v's type refuses:
// it decodes the members one at a time into a fresh value of v's type, in
// key order, and returns the first that fails, with the index of the
// failing element when the member is a list ("agents[2]"); "" when none
// fails alone.
func memberPath(data []byte, v any) string {
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) != nil {
		return ""
	}
	t := reflect.TypeOf(v)
	if t.Kind() != reflect.Pointer {
		return ""
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		one, _ := json.Marshal(map[string]json.RawMessage{k: members[k]})
		probe := reflect.New(t.Elem()).Interface()
		if json.Unmarshal(one, probe) == nil {
			continue
		}
		var elems []json.RawMessage
		ft, ok := jsonField(t.Elem(), k)
		if ok && ft.Kind() == reflect.Slice && json.Unmarshal(members[k], &elems) == nil {
			for i, e := range elems {
				if json.Unmarshal(e, reflect.New(ft.Elem()).Interface()) != nil {
					return fmt.Sprintf("%s[%d]", k, i)
				}
			}
		}
		return k
	}
	return ""
}

// requiredMessage says that the field of *v whose JSON name is name is
// required, and, for an enumeration, lists the values allowed (as
// Struct's "missing; allowed: …" does).
func requiredMessage(v any, name string) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return "is required"
	}
	if f, ok := structField(t, name); ok {
		own, _, _ := strings.Cut(f.Tag.Get("validate"), ",dive") // a list's own rules, not its elements'
		for _, part := range strings.Split(own, ",") {
			if values, ok := strings.CutPrefix(part, "oneof="); ok {
				return "is required; allowed: " + strings.ReplaceAll(values, " ", ", ")
			}
		}
	}
	return "is required"
}

// nullable reports whether the field of *v whose JSON name is name can
// hold null (a pointer, list, map or raw JSON). null for a required field
// that cannot is "is required", as its absence is: encoding/json would
// silently decode it as the zero value ("", 0).
func nullable(v any, name string) bool {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	ft, ok := jsonField(t, name)
	if !ok {
		return true
	}
	switch ft.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	}
	return false
}

// jsonField returns the type of the field of struct type t whose JSON name
// is name.
func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if n, _, _ := strings.Cut(f.Tag.Get("json"), ","); n == name {
			return f.Type, true
		}
	}
	return nil, false
}

// plural returns noun for a count of "1", else noun + "s".
func plural(count, noun string) string {
	if count == "1" {
		return noun
	}
	return noun + "s"
}

// quoteOrLen quotes a short value (ASCII-only, control characters escaped)
// or, for a long one, says how long it is.
func quoteOrLen(s string) string {
	if q := quoteShort(s); q != "" {
		return q
	}
	return fmt.Sprintf("a value of %d characters", utf8.RuneCountInString(s))
}

// jsonKind names, in JSON's words, what a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another JSON value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Array && t.Elem().Kind() == reflect.Uint8 {
			return "a string" // a uuid.UUID decodes from its text
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another JSON value"
}

// jsonWord names a JSON value's kind as encoding/json reports it
// ("number", "string", "array", "object", "bool", "number 1.5") in the
// words of jsonKind: "a number", "a list", "an object", "true or false",
// "a string"; a number encoding/json quotes stays "number 1.5".
func jsonWord(v string) string {
	switch {
	case v == "number":
		return "a number"
	case v == "array":
		return "a list"
	case v == "object":
		return "an object"
	case v == "bool":
		return "true or false"
	case v == "string":
		return "a string"
	case strings.HasPrefix(v, "number"):
		return v
	}
	return v
}
