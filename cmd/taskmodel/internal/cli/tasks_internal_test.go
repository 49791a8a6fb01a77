package cli

import "testing"

// TestShown: text from the server prints as one safe line: control
// characters, escape sequences included, are written as escapes.
func TestShown(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text, ünïcode", "plain text, ünïcode"},
		{"a\tb", `a\tb`},
		{"line\nbreak", `line\nbreak`},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"\x1b]0;title\x07", `\x1b]0;title\a`},
		{"c1\u009bcontrol", `c1\u009bcontrol`},
		{"sep\u2028arator", `sep\u2028arator`},
	} {
		if got := shown(tt.in); got != tt.want {
			t.Errorf("shown(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := shownLines("one\x1b\ntwo\t"); got != "one\\x1b\ntwo\\t" {
		t.Errorf("shownLines: %q", got)
	}
}
