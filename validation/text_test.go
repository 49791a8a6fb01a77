package validation_test

import (
	"testing"
	"unicode/utf8"

	"github.com/taskmodel/taskmodel/validation"
)

// TestStorableText: what CheckText refuses is changed, and nothing else.
func TestStorableText(t *testing.T) {
	for _, tc := range []struct {
		name, in  string
		multiline bool
		want      string
	}{
		{"valid, unchanged", "frame 12 failed: écran", false, "frame 12 failed: écran"},
		{"lines joined", "frame 12\nframe 13", false, "frame 12; frame 13"},
		{"CRLF is one break", "a\r\nb\rc", false, "a; b; c"},
		{"tab", "a\tb", false, "a b"},
		{"NUL", "a\x00b", false, "a\uFFFDb"},
		{"NUL in multi-line text", "a\x00b\nc", true, "a\uFFFDb\nc"},
		{"lines kept in multi-line text", "a\nb\tc", true, "a\nb\tc"},
		{"not UTF-8", "a\xffb", true, "a\uFFFDb"},
		{"bell and C1", "a\x07b\u0085c", false, "a\uFFFDb\uFFFDc"},
		{"bidirectional override", "a\u202eb", false, "a\uFFFDb"},
		{"bidirectional override in multi-line text", "a\u202eb", true, "a\u202eb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := validation.StorableText(tc.in, tc.multiline)
			if got != tc.want {
				t.Errorf("StorableText(%q, %v) = %q, want %q", tc.in, tc.multiline, got, tc.want)
			}
			if err := validation.CheckText(got, tc.multiline); err != nil {
				t.Errorf("CheckText(%q): %v", got, err)
			}
		})
	}
}

// FuzzStorableText: the result is always valid text, and valid text is
// returned unchanged.
func FuzzStorableText(f *testing.F) {
	for _, s := range []string{"", "a\nb", "a\x00", "\xff\xfe", "a\r\n\r\nb", "\u202e\u0085\t"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, multiline bool) {
		got := validation.StorableText(s, multiline)
		if err := validation.CheckText(got, multiline); err != nil {
			t.Fatalf("StorableText(%q, %v) = %q: %v", s, multiline, got, err)
		}
		if validation.CheckText(s, multiline) == nil && got != s {
			t.Fatalf("valid %q changed to %q", s, got)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("%q is not UTF-8", got)
		}
	})
}
