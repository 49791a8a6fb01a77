package mysql

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

func TestAppendValue(t *testing.T) {
	id := uuid.MustParse("0b9f3c1e-2d4a-4e5f-8a6b-7c8d9e0f1a2b")
	tests := []struct {
		name string
		v    any
		want string
		err  string
	}{
		{name: "null, nothing in its array", v: nil, want: ``},
		{name: "text", v: `say "hi" \ bye`, want: `"say \"hi\" \\ bye"`},
		{name: "JSON column, as text", v: `{"k":[1,2]}`, want: `"{\"k\":[1,2]}"`},
		{name: "int", v: int64(-9223372036854775808), want: `-9223372036854775808`},
		{name: "float", v: 0.1, want: `0.1`},
		{name: "large float", v: 1.5e300, want: `1.5e+300`},
		{name: "true", v: true, want: `true`},
		{name: "false", v: false, want: `false`},
		{name: "time to the microsecond, in UTC", v: time.Date(2026, 12, 6, 5, 4, 3, 123456789, time.FixedZone("x", 3600)), want: `"2026-12-06 04:04:03.123456"`},
		{name: "uuid", v: id, want: `"0b9f3c1e-2d4a-4e5f-8a6b-7c8d9e0f1a2b"`},
		{name: "NaN", v: math.NaN(), err: "NaN is not a number MySQL stores"},
		{name: "infinity", v: math.Inf(-1), err: "-Inf is not a number MySQL stores"},
		{name: "unknown type", v: struct{}{}, err: "a value of type struct {} has no form in a batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendValue([]byte("x"), tt.v)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "x"+tt.want {
				t.Errorf("got %s, want x%s", got, tt.want)
			}
			if tt.v != nil && !json.Valid(got[1:]) {
				t.Errorf("%s is not one JSON value", got[1:])
			}
		})
	}
}

func TestAppendString(t *testing.T) {
	var controls strings.Builder
	for b := range 0x20 {
		controls.WriteByte(byte(b))
	}
	tests := []struct{ name, s, want string }{
		{"empty", "", `""`},
		{"plain", "plain", `"plain"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"line breaks and tab", "1\n2\r3\t4", `"1\n2\r3\t4"`},
		{"other controls", "\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`},
		{"multi-byte characters as they are", "é 日本 🎉 \u2028", "\"é 日本 🎉 \u2028\""},
		{"all controls", controls.String(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendString(nil, tt.s)
			if tt.want != "" && string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			var back string
			if err := json.Unmarshal(got, &back); err != nil || back != tt.s {
				t.Errorf("%s reads back as %q (%v), want %q", got, back, err, tt.s)
			}
		})
	}
}

// FuzzAppendString: every valid UTF-8 string reads back as itself.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", `"\`, "\x00\n\u2028", "日本 🎉"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		if !utf8.ValidString(s) {
			return
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Fatalf("%q: %s reads back as %q (%v)", s, got, back, err)
		}
	})
}
