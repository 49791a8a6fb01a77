package validation_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tasktype"
	"github.com/taskmodel/taskmodel/validation"
)

type item struct {
	Name  string   `json:"name" validate:"min=1,max=5"`
	Count int64    `json:"count" validate:"gte=0,lte=10"`
	Ratio float64  `json:"ratio" validate:"gt=0,lt=1"`
	Tags  []string `json:"tags" validate:"max=2,dive,oneof=a b"`
	Note  *string  `json:"note" validate:"omitnil,max=3"`
	Color color    `json:"color"`
	Skip  string   `json:"-"`
}

// color refuses unknown values as generated enums do: a FieldError that
// names no field (encoding/json does not say which field it decodes).
type color string

func (c *color) UnmarshalText(b []byte) error {
	if string(b) != "RED" {
		return &tasktype.FieldError{Rule: "one_of", Message: fmt.Sprintf("unknown color %q; allowed: RED", b)}
	}
	*c = color(b)
	return nil
}

func TestStruct(t *testing.T) {
	long := "long note"
	tests := []struct {
		name string
		in   item
		want string
	}{
		{"valid", item{Name: "ok", Ratio: 0.5}, ""},
		{"multi-byte within limit", item{Name: "ééééé", Ratio: 0.5}, ""},
		{"too long", item{Name: "éééééé", Ratio: 0.5}, "invalid item: name: must be at most 5 characters (got 6)"},
		{"too short", item{Ratio: 0.5}, "invalid item: name: must be at least 1 character (got 0)"},
		{"bounds", item{Name: "x", Count: 11, Ratio: 1}, "invalid item: count: must be ≤ 10 (got 11); ratio: must be < 1 (got 1)"},
		{"lower bounds", item{Name: "x", Count: -1, Ratio: 0}, "invalid item: count: must be ≥ 0 (got -1); ratio: must be > 0 (got 0)"},
		{"items", item{Name: "x", Ratio: 0.5, Tags: []string{"a", "b", "c"}}, "invalid item: tags: must have at most 2 items (got 3)"},
		{"element", item{Name: "x", Ratio: 0.5, Tags: []string{"z"}}, `invalid item: tags[0]: must be one of a, b (got "z")`},
		{"pointer", item{Name: "x", Ratio: 0.5, Note: &long}, "invalid item: note: must be at most 3 characters (got 9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validation.Struct(&tt.in)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tasktype.ErrValidation) {
				t.Error("not ErrValidation")
			}
		})
	}
}

func TestDecodeStrict(t *testing.T) {
	allowed := []string{"name", "count", "ratio", "tags", "note", "color"}
	tests := []struct {
		name, in, want string
		required       []string
	}{
		{"ok", `{"name":"a","count":2}`, "", []string{"name"}},
		{"unknown field", `{"name":"a","size":2}`, "invalid item: size: unknown field; allowed: name, count, ratio, tags, note, color", nil},
		{"enum names its field", `{"name":"a","color":"BLUE","count":1}`, `invalid item: color: unknown color "BLUE"; allowed: RED`, nil},
		{"missing", `{"count":2}`, "invalid item: name: is required", []string{"name"}},
		{"type", `{"count":"two"}`, "invalid item: count: must be a JSON value of Go type int64 (got string)", nil},
		{"syntax", `{"count":`, "invalid item: unexpected end of JSON input", nil},
		{"bad syntax", `{"count" 2}`, "invalid item: invalid JSON at byte 10: invalid character '2' after object key", nil},
		{"trailing", `{} []`, "invalid item: unexpected data after the JSON value", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := item{Count: 7}
			err := validation.DecodeStrict([]byte(tt.in), &v, "item", allowed, tt.required)
			if tt.want == "" {
				if err != nil || v.Name != "a" || v.Count != 2 {
					t.Fatalf("got %+v, %v", v, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// FuzzDecodeStrict: arbitrary input never panics and an error is always a
// *tasktype.ValidationError.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"tags":["a"],"note":null}`, `[]`, `{"count":1e400}`, `{"name":"\u00e9"} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v item
		err := validation.DecodeStrict(data, &v, "item", []string{"name"}, []string{"name"})
		var ve *tasktype.ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("error %T %v is not a ValidationError", err, err)
		}
	})
}
