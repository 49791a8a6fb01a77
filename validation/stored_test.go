package validation_test

import (
	"encoding/json"
	"testing"

	"github.com/taskmodel/taskmodel/validation"
)

func TestShapeConform(t *testing.T) {
	part := &validation.Shape{
		Keys: []string{"name", "size"},
		Fill: map[string]json.RawMessage{"size": json.RawMessage("1")},
	}
	result := &validation.Shape{
		Keys:    []string{"rows", "summary", "parts", "main"},
		Renamed: map[string]string{"note": "summary"},
		Fill:    map[string]json.RawMessage{"rows": json.RawMessage("0")},
		Fields:  map[string]*validation.Shape{"parts": part, "main": part},
	}
	tests := []struct {
		name, in, want string
	}{
		{"current shape", `{"rows":3,"summary":"ok"}`, `{"rows":3,"summary":"ok"}`},
		{"removed key dropped", `{"rows":3,"legacy":"x"}`, `{"rows":3}`},
		{"renamed key read under its new name", `{"rows":3,"note":"ok"}`, `{"rows":3,"summary":"ok"}`},
		{"the new name wins over the old", `{"rows":3,"note":"old","summary":"new"}`, `{"rows":3,"summary":"new"}`},
		{"required key filled", `{"summary":"ok"}`, `{"rows":0,"summary":"ok"}`},
		{"nested list of a type", `{"rows":1,"parts":[{"name":"a","gone":1},{"name":"b","size":4}]}`, `{"parts":[{"name":"a","size":1},{"name":"b","size":4}],"rows":1}`},
		{"nested type", `{"rows":1,"main":{"name":"a"}}`, `{"main":{"name":"a","size":1},"rows":1}`},
		{"nested null kept", `{"rows":1,"main":null}`, `{"main":null,"rows":1}`},
		{"a list of the type", `[{"note":"a"},{"rows":2}]`, `[{"rows":0,"summary":"a"},{"rows":2}]`},
		{"null", `null`, `null`},
		{"not an object is left to the decoder", `"text"`, `"text"`},
		{"a value of another type is kept", `{"rows":"three"}`, `{"rows":"three"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := result.Conform([]byte(tt.in))
			if err != nil {
				t.Fatalf("Conform(%s): %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Errorf("Conform(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestShapeConformRefuses(t *testing.T) {
	s := &validation.Shape{Keys: []string{"a"}}
	deep := ""
	for range 100 {
		deep += "["
	}
	for _, in := range []string{``, `   `, `{"a":`, `[1,`, deep} {
		if got, err := s.Conform([]byte(in)); err == nil {
			t.Errorf("Conform(%q) = %s, want an error", in, got)
		}
	}
}

// FuzzShapeConform: Conform never panics, and what it returns for valid
// JSON is valid JSON again, and the same when conformed a second time.
func FuzzShapeConform(f *testing.F) {
	inner := &validation.Shape{Keys: []string{"x"}, Fill: map[string]json.RawMessage{"x": json.RawMessage(`""`)}}
	s := &validation.Shape{
		Keys:    []string{"a", "b", "c"},
		Renamed: map[string]string{"old": "a"},
		Fill:    map[string]json.RawMessage{"b": json.RawMessage("0")},
		Fields:  map[string]*validation.Shape{"c": inner},
	}
	for _, seed := range []string{`{"a":1}`, `{"old":2,"c":[{"y":1}]}`, `[{"c":{}}]`, `null`, `{"a":`, `[[[{}]]]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := s.Conform(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Conform(%s) = %s: not JSON", data, out)
		}
		again, err := s.Conform(out)
		if err != nil || string(again) != string(out) {
			t.Fatalf("Conform is not stable: %s, then %s (%v)", out, again, err)
		}
	})
}
