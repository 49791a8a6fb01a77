package validation

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/taskmodel/taskmodel/tasktype"
)

// CheckNulls refuses, in data (a JSON object a client sent for v, a
// pointer to a model's struct), a null for a field that cannot hold one:
// a number, string, true/false or value type that the spec does not make
// optional. encoding/json leaves such a field as it was, so the null
// would quietly stand for the field's default (a progress reset to 0, a
// count to 0). DecodeStrict already refuses null for a required field
// ("is required"); this names the others: "records_processed: must be an
// integer, not null". It looks into nested objects and lists of the
// struct's value types, and at the elements of lists ("agents[1]: must be
// a string, not null"). It decodes nothing: call it on input the strict
// decoder accepted. Stored values are not held to it.
func CheckNulls(data []byte, v any) error {
	var fields []*tasktype.FieldError
	checkNulls(json.RawMessage(data), reflect.TypeOf(v), "", 0, &fields)
	if len(fields) == 0 {
		return nil
	}
	return &tasktype.ValidationError{Fields: fields}
}

func checkNulls(data json.RawMessage, t reflect.Type, path string, depth int, out *[]*tasktype.FieldError) {
	if depth > maxDepth || t == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var members map[string]json.RawMessage
		if json.Unmarshal(data, &members) != nil {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := jsonName(f)
			raw, ok := members[name]
			if name == "" || !ok {
				continue
			}
			at := name
			if path != "" {
				at = path + "." + name
			}
			checkValue(raw, f.Type, at, depth, out)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return // a uuid.UUID or []byte: its JSON is a string
		}
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return
		}
		for i, it := range items {
			checkValue(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth, out)
		}
	}
}

// checkValue checks one member or element of type t at path.
func checkValue(raw json.RawMessage, t reflect.Type, path string, depth int, out *[]*tasktype.FieldError) {
	if string(raw) == "null" {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			return
		}
		kind := jsonKind(t)
		if t.Kind() == reflect.Struct && reflect.PointerTo(t).Implements(textUnmarshaler) {
			kind = "a string" // time.Time
		}
		*out = append(*out, &tasktype.FieldError{Field: path, Rule: "type", Message: fmt.Sprintf("must be %s, not null", kind)})
		return
	}
	if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') {
		checkNulls(raw, t, path, depth+1, out)
	}
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

// jsonName is the JSON name of a struct field ("" for one JSON skips).
func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		return f.Name
	}
	return name
}
