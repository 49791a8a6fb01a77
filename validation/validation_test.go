package validation_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/tasktype"
	"github.com/taskmodel/taskmodel/validation"
)

type item struct {
	Name  string   `json:"name" validate:"min=1,max=5"`
	Count int64    `json:"count" validate:"gte=0,lte=10"`
	Ratio float64  `json:"ratio" validate:"gt=0,lt=1"`
	Low   int64    `json:"low" validate:"le_field=high"`
	High  int64    `json:"high"`
	Tags  []string `json:"tags" validate:"max=2,dive,oneof=a b"`
	Note  *string  `json:"note" validate:"omitnil,max=3"`
	Color color    `json:"color"`
	Skip  string   `json:"-"`
	// Colors and Parts hold values that decode themselves, as generated
	// enums and value types do: their errors get the element's path.
	Colors []color `json:"colors"`
	Parts  []part  `json:"parts"`
}

type part struct {
	Size int64 `json:"size"`
}

func (p *part) UnmarshalJSON(data []byte) error {
	type plain part
	var v plain
	if err := validation.DecodeStrict(data, &v, []string{"size"}, []string{"size"}); err != nil {
		return err
	}
	*p = part(v)
	return nil
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
		{"too long", item{Name: "éééééé", Ratio: 0.5}, "name: must be at most 5 characters (got 6)"},
		{"too short", item{Ratio: 0.5}, "name: must be at least 1 character (got 0)"},
		{"bounds", item{Name: "x", Count: 11, Ratio: 1}, "count: must be ≤ 10 (got 11); ratio: must be < 1 (got 1)"},
		{"lower bounds", item{Name: "x", Count: -1, Ratio: 0}, "count: must be ≥ 0 (got -1); ratio: must be > 0 (got 0)"},
		{"items", item{Name: "x", Ratio: 0.5, Tags: []string{"a", "b", "c"}}, "tags: must have at most 2 items (got 3)"},
		{"element", item{Name: "x", Ratio: 0.5, Tags: []string{"z"}}, `tags[0]: unknown value "z"; allowed: a, b`},
		{"pointer", item{Name: "x", Ratio: 0.5, Note: &long}, "note: must be at most 3 characters (got 9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantValidation(t, validation.Struct(&tt.in), tt.want)
		})
	}
}

// wantValidation wants err to be nil when want is empty, else a
// validation error (tasktype.ErrValidation) whose message is want.
func wantValidation(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if !errors.Is(err, tasktype.ErrValidation) {
		t.Error("not ErrValidation")
	}
}

func TestDecodeStrict(t *testing.T) {
	allowed := []string{"name", "count", "ratio", "tags", "note", "color"}
	tests := []struct {
		name, in, want string
		required       []string
	}{
		{"ok", `{"name":"a","count":2}`, "", []string{"name"}},
		{"unknown field", `{"name":"a","size":2}`, "size: unknown field; allowed: name, count, ratio, tags, note, color", nil},
		{"enum names its field", `{"name":"a","color":"BLUE","count":1}`, `color: unknown color "BLUE"; allowed: RED`, nil},
		{"missing", `{"count":2}`, "name: is required", []string{"name"}},
		{"missing, and the keys sent break limits", `{"count":11,"tags":["z"],"note":null}`,
			`name: is required; count: must be ≤ 10 (got 11); tags[0]: unknown value "z"; allowed: a, b`, []string{"name"}},
		{"missing, and a key not sent breaks a limit", `{"count":2}`, "name: is required", []string{"name"}},
		{"missing, and a bound names it", `{"low":5}`, "high: is required", []string{"high"}},
		{"missing, and a bound names a key sent", `{"low":5,"high":3}`, "name: is required; low: must be ≤ high (got 5)", []string{"name"}},
		{"null for a required string", `{"name":null,"count":2}`, "name: is required", []string{"name"}},
		{"null for a required number", `{"name":"a","count":null}`, "count: is required", []string{"name", "count"}},
		{"null for a required list or pointer", `{"name":"a","count":2,"tags":null,"note":null}`, "", []string{"name", "tags", "note"}},
		{"type", `{"count":"two"}`, "count: must be an integer (got a string)", nil},
		{"syntax", `{"count":`, "unexpected end of JSON input", nil},
		{"bad syntax", `{"count" 2}`, "invalid JSON at byte 10: ':' was expected after a field name, found '2'", nil},
		{"enum in a list", `{"name":"a","colors":["RED","BLUE"]}`, `colors[1]: unknown color "BLUE"; allowed: RED`, nil},
		{"nested value", `{"name":"a","parts":[{"size":1},{}]}`, `parts[1].size: is required`, nil},
		{"nested unknown field", `{"parts":[{"size":1,"x":2}]}`, `parts[0].x: unknown field; allowed: size`, nil},
		{"trailing", `{} []`, "unexpected data after the JSON value", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := item{Count: 7}
			err := validation.DecodeStrict([]byte(tt.in), &v, allowed, tt.required)
			if tt.want == "" {
				if err != nil || v.Name != "a" || v.Count != 2 {
					t.Fatalf("got %+v, %v", v, err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
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
		err := validation.DecodeStrict(data, &v, []string{"name"}, []string{"name"})
		var ve *tasktype.ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("error %T %v is not a ValidationError", err, err)
		}
	})
}

type texts struct {
	Name  string          `json:"name" validate:"line"`
	Note  *string         `json:"note" validate:"omitnil,text"`
	Tags  []string        `json:"tags" validate:"max=3,dive,line,min=1,max=5,pattern=test.texts.tags.items"`
	Extra json.RawMessage `json:"extra" validate:"json_text"`
}

var _ = validation.RegisterPattern("test.texts.tags.items", `^(?:[a-z]+)$`)

func TestText(t *testing.T) {
	note := func(s string) *string { return &s }
	tests := []struct {
		name string
		in   texts
		want string
	}{
		{"valid", texts{Name: "profile-my-data é 日本", Note: note("line 1\n\tline 2"), Tags: []string{"ab"}, Extra: json.RawMessage(`{"k":"v\n"}`)}, ""},
		{"BEL", texts{Name: "a\ab"}, "name: contains a control character (U+0007); only printable text is allowed"},
		{"tab in a single line", texts{Name: "a\tb"}, "name: contains a control character (U+0009); only printable text is allowed"},
		{"DEL", texts{Name: "a\x7f"}, "name: contains a control character (U+007F); only printable text is allowed"},
		{"C1", texts{Name: "a\u0085"}, "name: contains a control character (U+0085); only printable text is allowed"},
		{"NUL", texts{Name: "a\x00"}, "name: contains a NUL character (U+0000); text may not contain it"},
		{"right-to-left override", texts{Name: "abc\u202Etxt.exe"}, "name: contains a bidirectional control character (U+202E); only printable text is allowed"},
		{"isolate", texts{Name: "\u2066x"}, "name: contains a bidirectional control character (U+2066); only printable text is allowed"},
		{"not UTF-8", texts{Name: "a\xc3"}, "name: is not valid UTF-8 (byte 0xC3 at offset 1); text must be UTF-8"},
		{"NUL in multi-line", texts{Note: note("a\n\x00")}, "note: contains a NUL character (U+0000); text may not contain it"},
		{"not UTF-8 in multi-line", texts{Note: note("\xff")}, "note: is not valid UTF-8 (byte 0xFF at offset 0); text must be UTF-8"},
		{"list element", texts{Tags: []string{"a", "b", "c\a"}}, "tags[2]: contains a control character (U+0007); only printable text is allowed"},
		{"empty element", texts{Tags: []string{""}}, "tags[0]: must be at least 1 character (got 0)"},
		{"long element", texts{Tags: []string{"abcdef"}}, "tags[0]: must be at most 5 characters (got 6)"},
		{"element pattern", texts{Tags: []string{"A1"}}, `tags[0]: must match the pattern [a-z]+ (the whole value) (got "A1")`},
		{"too many", texts{Tags: []string{"a", "b", "c", "d"}}, "tags: must have at most 3 items (got 4)"},
		{"NUL in a JSON key", texts{Extra: json.RawMessage(`{"a\u0000":1}`)}, "extra: a string in it contains a NUL character (U+0000); text may not contain it"},
		{"NUL in a JSON string", texts{Extra: json.RawMessage(`["\u0000"]`)}, "extra: a string in it contains a NUL character (U+0000); text may not contain it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validation.Struct(&tt.in)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCheckText(t *testing.T) {
	tests := []struct {
		in        string
		multiline bool
		ok        bool
	}{
		{"plain", false, true}, {"", false, true}, {"a\nb", false, false}, {"a\nb", true, true},
		{"a\x1bb", true, true}, {"a\u202eb", true, true}, {"a\x00b", true, false}, {"\xe2\x80", true, false},
		{"zero\u200bwidth", false, true}, {"emoji 🙂", false, true},
	}
	for _, tt := range tests {
		if err := validation.CheckText(tt.in, tt.multiline); (err == nil) != tt.ok {
			t.Errorf("CheckText(%q, %v) = %v, want ok=%v", tt.in, tt.multiline, err, tt.ok)
		}
	}
}

func TestCheckJSONEncoding(t *testing.T) {
	cases := []struct {
		name, data, want string
	}{
		{"plain", `{"a":"b"}`, ""},
		{"pair", `"\ud83d\ude00"`, ""},
		{"pair in capitals", `"\uD83D\uDE00"`, ""},
		{"escaped backslash before u", `"\\ud800"`, ""},
		{"escaped quote", `"\"\ud800"`, `holds the escape \ud800, half of a UTF-16 surrogate pair without its other half; text must be valid Unicode`},
		{"lone high", `{"tag":"\ud800"}`, `holds the escape \ud800, half of a UTF-16 surrogate pair without its other half; text must be valid Unicode`},
		{"lone high at the end", `"\ud800`, `holds the escape \ud800, half of a UTF-16 surrogate pair without its other half; text must be valid Unicode`},
		{"high then not low", `"\ud800\u0041"`, `holds the escape \ud800, half of a UTF-16 surrogate pair without its other half; text must be valid Unicode`},
		{"lone low", `"a\uDC00"`, `holds the escape \uDC00, half of a UTF-16 surrogate pair without its other half; text must be valid Unicode`},
		{"in a key", `{"\udfff":1}`, `holds the escape \udfff, half of a UTF-16 surrogate pair without its other half; text must be valid Unicode`},
		{"malformed escape", `"\u12"`, ""},
		{"invalid UTF-8", "\"\xff\xfe\"", "is not valid UTF-8 (it holds the byte 0xFF); text must be UTF-8"},
		{"truncated UTF-8", "\"\xc3\"", "is not valid UTF-8 (it holds the byte 0xC3); text must be UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := validation.CheckJSONEncoding([]byte(c.data))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != c.want {
				t.Errorf("got %q\nwant %q", got, c.want)
			}
		})
	}
}

// bounded has a bound naming another field, as a spec's le: total.
type bounded struct {
	Total int64    `json:"total"`
	Done  int64    `json:"done" validate:"le_field=total"`
	Low   *float64 `json:"low" validate:"omitnil,lt_field=high"`
	High  float64  `json:"high"`
	Min   int64    `json:"min" validate:"ge_field=total"`
	After int64    `json:"after" validate:"gt_field=total"`
}

func TestFieldBounds(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		in   bounded
		want string
	}{
		{"all kept", bounded{Total: 3, Done: 3, Low: f(1), High: 2, Min: 3, After: 4}, ""},
		{"nil optional skipped", bounded{Total: 3, Done: 0, High: 2, Min: 5, After: 4}, ""},
		{"le broken", bounded{Total: 3, Done: 4, Min: 3, After: 4}, "done: must be ≤ total (got 4)"},
		{"lt broken", bounded{Total: 3, Done: 1, Low: f(2), High: 2, Min: 3, After: 4}, "low: must be < high (got 2)"},
		{"ge broken", bounded{Total: 3, Min: 2, After: 4}, "min: must be ≥ total (got 2)"},
		{"gt broken", bounded{Total: 3, Min: 3, After: 3}, "after: must be > total (got 3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validation.Struct(&tt.in)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Struct = %q, want %q", got, tt.want)
			}
		})
	}
}

type counts struct {
	Plain  int64   `json:"plain"`
	Epochs *int64  `json:"epochs" validate:"omitnil,gte=1"`
	Pct    int64   `json:"pct" validate:"gte=0,lte=100"`
	Small  int8    `json:"small"`
	Ratio  float64 `json:"ratio" validate:"gt=0,lt=1"`
	F      float64 `json:"f"`
	List   []int64 `json:"list" validate:"max=2,dive,lte=5"`
	Parts  []part  `json:"parts"`
	Inner  struct {
		N uint8 `json:"n"`
	} `json:"inner"`
}

// TestDecodeNumbersOutOfRange: an integer too large (or too small) for its
// field is said to be out of range, with the field's own bound when it has
// one, never "must be an integer"; a fraction still is.
func TestDecodeNumbersOutOfRange(t *testing.T) {
	allowed := []string{"plain", "epochs", "pct", "small", "ratio", "f", "list", "parts", "inner"}
	tests := []struct{ name, in, want string }{
		{"past int64", `{"plain":99999999999999999999999}`, "plain: must be at most 9223372036854775807 (got 99999999999999999999999)"},
		{"2^63", `{"plain":9223372036854775808}`, "plain: must be at most 9223372036854775807 (got 9223372036854775808)"},
		{"below int64", `{"plain":-9223372036854775809}`, "plain: must be at least -9223372036854775808 (got -9223372036854775809)"},
		{"past int64 in exponent form", `{"plain":1e30}`, "plain: must be at most 9223372036854775807 (got 1e30)"},
		{"past int64, field with a lower bound only", `{"epochs":99999999999999999999999}`, "epochs: must be at most 9223372036854775807 (got 99999999999999999999999)"},
		{"below int64, field with a lower bound", `{"epochs":-99999999999999999999999}`, "epochs: must be ≥ 1 (got -99999999999999999999999)"},
		{"past int64, field with an upper bound", `{"pct":99999999999999999999999}`, "pct: must be ≤ 100 (got 99999999999999999999999)"},
		{"past int8", `{"small":300}`, "small: must be at most 127 (got 300)"},
		{"past float64, field with a bound", `{"ratio":1e400}`, "ratio: must be < 1 (got 1e400)"},
		{"past float64", `{"f":-1e400}`, "f: must be at least -1.7976931348623157e+308 (got -1e400)"},
		{"element of a list", `{"list":[1,99999999999999999999]}`, "list[1]: must be ≤ 5 (got 99999999999999999999)"},
		{"field of a value type", `{"parts":[{"size":99999999999999999999}]}`, "parts[0].size: must be at most 9223372036854775807 (got 99999999999999999999)"},
		{"nested struct", `{"inner":{"n":-1}}`, "inner.n: must be at least 0 (got -1)"},
		{"long number", `{"plain":` + strings.Repeat("9", 100) + `}`, "plain: must be at most 9223372036854775807 (got a number of 100 characters)"},
		{"fraction", `{"plain":1.5}`, "plain: must be an integer (got number 1.5)"},
		{"integer in exponent form", `{"plain":1e2}`, "plain: must be an integer written in digits, without a fraction or exponent (got 1e2)"},
		{"string", `{"plain":"5"}`, "plain: must be an integer (got a string)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v counts
			err := validation.DecodeStrict([]byte(tt.in), &v, allowed, nil)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

type lists struct {
	Names  []string  `json:"names"`
	Grid   [][]int64 `json:"grid"`
	Groups []group   `json:"groups"`
	Inner  struct {
		Tags []string `json:"tags"`
	} `json:"inner"`
}

type group struct {
	Tags []string `json:"tags"`
}

// TestDecodeWrongTypeInList: a value of the wrong JSON type is reported
// against the list element that holds it, not against the list, and the
// kind it has is said as the kind wanted is ("a number", "a list").
func TestDecodeWrongTypeInList(t *testing.T) {
	allowed := []string{"names", "grid", "groups", "inner"}
	tests := []struct{ name, in, want string }{
		{"number in a list of strings", `{"names":["a",5]}`, "names[1]: must be a string (got a number)"},
		{"list in a list of strings", `{"names":[["a"]]}`, "names[0]: must be a string (got a list)"},
		{"object in a list of strings", `{"names":["a","b",{}]}`, "names[2]: must be a string (got an object)"},
		{"true in a list of strings", `{"names":[true]}`, "names[0]: must be a string (got true or false)"},
		{"string in a list of lists", `{"grid":[[1],[2,"x"]]}`, "grid[1][1]: must be an integer (got a string)"},
		{"number for a list", `{"names":5}`, "names: must be a list (got a number)"},
		{"list of a struct", `{"groups":[{"tags":["a"]},{"tags":[1]}]}`, "groups[1].tags[0]: must be a string (got a number)"},
		{"list in an object", `{"inner":{"tags":["a",2]}}`, "inner.tags[1]: must be a string (got a number)"},
		{"number for a string", `{"inner":{"tags":5}}`, "inner.tags: must be a list (got a number)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v lists
			err := validation.DecodeStrict([]byte(tt.in), &v, allowed, nil)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestCheckNulls: null for a field that cannot hold it is named, with what
// the field takes; null where the field can hold it (optional fields,
// lists, raw JSON) passes.
func TestCheckNulls(t *testing.T) {
	type nulls struct {
		Count int64           `json:"count"`
		Name  string          `json:"name"`
		Flag  bool            `json:"flag"`
		At    time.Time       `json:"at"`
		Note  *string         `json:"note"`
		Tags  []string        `json:"tags"`
		Extra json.RawMessage `json:"extra"`
		Parts []part          `json:"parts"`
		Inner struct {
			N float64 `json:"n"`
		} `json:"inner"`
		Hidden int `json:"-"`
	}
	tests := []struct{ name, in, want string }{
		{"nullable fields", `{"note":null,"tags":null,"extra":null,"parts":null,"unknown":null}`, ""},
		{"values", `{"count":1,"name":"a","flag":false,"tags":["a"],"parts":[{"size":1}],"inner":{"n":1}}`, ""},
		{"number", `{"count":null}`, "count: must be an integer, not null"},
		{"string, true or false, time", `{"name":null,"flag":null,"at":null}`, "name: must be a string, not null; flag: must be true or false, not null; at: must be a string, not null"},
		{"element of a list", `{"tags":["a",null]}`, "tags[1]: must be a string, not null"},
		{"field of a value type in a list", `{"parts":[{"size":1},{"size":null}]}`, "parts[1].size: must be an integer, not null"},
		{"nested object", `{"inner":null}`, "inner: must be an object, not null"},
		{"field of a nested object", `{"inner":{"n":null}}`, "inner.n: must be a number, not null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantValidation(t, validation.CheckNulls([]byte(tt.in), &nulls{}), tt.want)
		})
	}
}

// TestRequiredListsAllowedValues: a required enumeration missing from the
// JSON, or null, lists the values allowed, as Struct does for an empty one;
// a list's element rules are not the list's.
func TestRequiredListsAllowedValues(t *testing.T) {
	type kinds struct {
		Kind string   `json:"kind" validate:"oneof=A B"`
		Tags []string `json:"tags" validate:"min=1,dive,oneof=a b"`
		Name string   `json:"name" validate:"min=1"`
	}
	allowed := []string{"kind", "tags", "name"}
	tests := []struct{ name, in, want string }{
		{"missing", `{"tags":["a"],"name":"n"}`, "kind: is required; allowed: A, B"},
		{"null", `{"kind":null,"tags":["a"],"name":"n"}`, "kind: is required; allowed: A, B"},
		{"list", `{"kind":"A","name":"n"}`, "tags: is required"},
		{"string", `{"kind":"A","tags":["a"]}`, "name: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v kinds
			err := validation.DecodeStrict([]byte(tt.in), &v, allowed, allowed)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}
