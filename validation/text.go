package validation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Valid text, the one rule every string a generated model holds follows
// (top-level fields, fields of value types, list elements, and every key
// and string of a json field):
//
//   - it is valid UTF-8;
//   - it holds no NUL character (U+0000), which PostgreSQL cannot store in
//     text or jsonb and which C-based tools read as the end of the string;
//   - a single-line string (every string field the spec does not declare
//     multiline: true — names, ids, enum-like values) also holds no control
//     character (C0 U+0000–U+001F, DEL U+007F, C1 U+0080–U+009F; tab and
//     newline included) and no bidirectional override or isolate
//     (U+202A–U+202E, U+2066–U+2069), which make a name display as
//     something other than what it is.
//
// Multi-line strings (free text: messages, descriptions) may hold tabs,
// newlines and any other printable or formatting character.

// CheckText returns nil when s is valid text for a string field, single-line
// unless multiline, or an error saying what is wrong, e.g. "contains a control
// character (U+0007); only printable text is allowed". The message names no
// field: the caller prefixes the field's path.
func CheckText(s string, multiline bool) error {
	if msg := textProblem(s, multiline); msg != "" {
		return textError(msg)
	}
	return nil
}

type textError string

func (e textError) Error() string { return string(e) }

// textProblem is CheckText's message, or "".
func textProblem(s string, multiline bool) string {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf { // ASCII: the common case
			switch {
			case c == 0:
				return "contains a NUL character (U+0000); text may not contain it"
			case !multiline && (c < 0x20 || c == 0x7f):
				return fmt.Sprintf("contains a control character (U+%04X); only printable text is allowed", c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Sprintf("is not valid UTF-8 (byte 0x%02X at offset %d); text must be UTF-8", c, i)
		}
		if !multiline {
			switch {
			case r >= 0x80 && r <= 0x9f:
				return fmt.Sprintf("contains a control character (U+%04X); only printable text is allowed", r)
			case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
				return fmt.Sprintf("contains a bidirectional control character (U+%04X); only printable text is allowed", r)
			}
		}
		i += n
	}
	return ""
}

// CheckJSONText returns nil when every key and string of the JSON value
// data is valid text for a multi-line field (valid UTF-8, no NUL, which
// PostgreSQL's jsonb refuses as \u0000), or an error saying what is wrong.
// Malformed JSON is left to the decoder: CheckJSONText does not report it.
func CheckJSONText(data []byte) error {
	if !utf8.Valid(data) {
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				return textError(fmt.Sprintf("is not valid UTF-8 (byte 0x%02X at offset %d); text must be UTF-8", data[i], i))
			}
			i += n
		}
	}
	if bytes.IndexByte(data, 0) < 0 && !bytes.Contains(data, []byte(`\u0000`)) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err == io.EOF || err != nil {
			return nil
		}
		if s, ok := tok.(string); ok {
			if msg := textProblem(s, true); msg != "" {
				return textError(msg)
			}
		}
	}
}

var (
	patternsMu sync.RWMutex
	patterns   = map[string]*regexp.Regexp{}
)

// RegisterPattern makes the validate tag pattern=name check that a string
// matches expr (Go regexp syntax; the spec anchors it). Generated packages
// register the patterns their specs declare, named <model>.<path>, when
// they are initialized; it panics when expr does not compile, which the
// spec loader has ruled out. It returns name.
func RegisterPattern(name, expr string) string {
	re := regexp.MustCompile(expr)
	patternsMu.Lock()
	patterns[name] = re
	patternsMu.Unlock()
	return name
}

func pattern(name string) *regexp.Regexp {
	patternsMu.RLock()
	defer patternsMu.RUnlock()
	return patterns[name]
}

// quoteShort quotes s (ASCII-only, so control characters show as escapes)
// when it is short enough to show in a message, else returns "".
func quoteShort(s string) string {
	if utf8.RuneCountInString(s) > 64 {
		return ""
	}
	return strconv.QuoteToASCII(s)
}
